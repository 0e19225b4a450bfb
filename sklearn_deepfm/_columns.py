"""Reading one column of a dense array or a pandas or polars DataFrame.

:class:`_Table` gives column access to every dense container alike, and the
helpers here decide how a column's values are read (labels, booleans or
numbers; dates and durations are errors) and convert them to NumPy arrays
(float64 with NaN for missing values, or objects for labels).  What a column
then becomes (categorical, numeric, ...) is decided by the encoder and the
column kinds' own modules.
"""

import datetime
import decimal
import numbers

import numpy as np


def index_dtype(n_embeddings):
    """Smallest integer dtype (int32 or int64) that numbers every embedding row:
    encoded rows take half the memory when int32 suffices."""
    return np.int32 if n_embeddings <= np.iinfo(np.int32).max else np.int64


def is_dataframe(X):
    """Whether X is a pandas DataFrame."""
    return hasattr(X, "columns") and hasattr(X, "iloc") and hasattr(X, "dtypes")


def is_polars(X):
    """Whether X is a polars DataFrame."""
    return type(X).__module__.split(".")[0] == "polars" and hasattr(X, "to_series")


class _Table:
    """Column access to a dense array or a pandas or polars DataFrame."""

    def __init__(self, X, feature_names):
        self.X = X
        self.kind = (
            "pandas" if is_dataframe(X) else "polars" if is_polars(X) else "array"
        )
        self.n_rows, self.n_columns = X.shape
        self.feature_names = feature_names

    def column(self, j):
        if self.kind == "pandas":
            return self.X.iloc[:, j]
        if self.kind == "polars":
            return self.X.to_series(j)
        return self.X[:, j]

    def check_column_types(self):
        """Raise a TypeError where a column holds dates, times or durations,
        or records, by the columns' types, read once (a column of a
        DataFrame costs a lookup each time it is taken)."""
        # (an array's one type is every column's)
        dtypes = [self.X.dtype] if self.kind == "array" else self.X.dtypes
        for j, dtype in enumerate(dtypes):
            _check_type(self.describe(j), dtype)

    def name(self, j):
        if self.feature_names is None:
            return f"x{j}"
        return str(self.feature_names[j])

    def describe(self, j):
        if self.feature_names is None:
            return f"column {j}"
        return f"column {j} ({self.feature_names[j]!r})"


# reading one column ---------------------------------------------------------
LABELS, BOOLEAN, NUMBERS, LISTS = "labels", "boolean", "numbers", "lists"

# Cells of these types make a column multi-valued.
LIST_TYPES = (list, tuple, np.ndarray)

# Integers from here on are not all exact in float64, in which codes are held.
MAX_EXACT_CODE = 2**53


def _read_kind(column, name):
    """How a column's values are read: LABELS, BOOLEAN, NUMBERS or LISTS
    (cells holding any number of values).

    Dates, times and durations raise: they are neither categories nor
    quantities the model can use as they are.
    """
    if holds_lists(column):
        return LISTS
    dtype = column.dtype
    _check_type(name, dtype)
    _refuse_complex(column, name)
    if getattr(dtype, "kind", None) == "O":
        _refuse_sets(column, name)
    if type(column).__module__.split(".")[0] == "polars":
        boolean = str(dtype) == "Boolean"
        numeric = dtype.is_numeric()
    else:
        kind = getattr(dtype, "kind", "O")
        text = str(dtype)
        boolean = kind == "b" or text == "boolean"
        # an arrow decimal is a number, as polars' Decimal and for pandas
        numeric = (kind in "iuf" and text != "category") or _is_arrow(
            dtype, "is_decimal"
        )
        if kind == "O" and isinstance(column, np.ndarray):
            numeric = _holds_only_numbers(column)
            if not numeric:
                _check_labels(column, name)
            boolean = _holds_only_booleans(column)
        elif kind == "O":
            inferred = _inferred_kind(column)
            if inferred in TEMPORAL_KINDS:
                _raise_temporal(name, "objects such as dates or timestamps")
            # numbers, as in the object array the column came from or goes
            # to: Python's Decimal, as pandas reads an arrow decimal from
            # Parquet (to_pandas, read_parquet), and floats (df.astype(object),
            # JSON) had made one category per price, where polars, dask, the
            # arrow type and the object array read numbers
            numeric = inferred in NUMBER_KINDS
            # booleans, as the bool column they came from (df.astype(object),
            # to_numpy of a frame with text: a get_dummies block had been one
            # field per column there, one field in the frame)
            boolean = inferred == "boolean" and _holds_only_booleans(column)
            if inferred in ("mixed", "mixed-integer"):
                # Decimals beside ints or floats (fillna(0) of a Decimal
                # column): numbers too; strings beside numbers are not
                numeric = _holds_only_numbers(column)
        if numeric and kind == "O" and _holds_inexact_integers(column):
            # Python's integers from 2**53 on (64-bit ids) are exact labels in
            # an object column, where as numbers they are codes that float64
            # cannot tell apart, and refused
            numeric = False
    if boolean:
        return BOOLEAN
    return NUMBERS if numeric else LABELS


def _is_temporal(dtype):
    """Whether a column's type (NumPy, pandas or polars) holds dates, times
    or durations (refused in ``fit`` and at ``predict``, whatever the
    container)."""
    if type(dtype).__module__.split(".")[0] == "polars":
        return dtype.is_temporal()
    return (
        getattr(dtype, "kind", "O") in "mM"
        or str(dtype).startswith("period")
        or _is_arrow(dtype, "is_temporal")
    )


def _check_type(name, dtype):
    """Refuse a column type that is neither categories nor numbers: dates,
    times and durations, and records (a struct's fields had been read as a
    list, with the advice to wrap single values in a list)."""
    if _is_temporal(dtype):
        _raise_temporal(name, dtype)
    if str(dtype).startswith("Struct") or _is_arrow(dtype, "is_struct"):
        raise TypeError(
            f"{name} holds records ({dtype}). DeepFM reads categories, numbers "
            "and lists: make each field of the records a column of its own "
            "(df.unnest(column) in polars, pd.json_normalize in pandas)."
        )


def _raise_temporal(name, what):
    raise TypeError(
        f"{name} holds dates, times or durations ({what}). DeepFM reads "
        "categories and numbers only: derive features from it (for example "
        "the hour or the weekday, as numbers or categories), or convert it "
        "to strings to use each value as a category."
    )


def _is_arrow(dtype, test):
    """Whether a pandas ``ArrowDtype`` passes pyarrow's type ``test``."""
    arrow = getattr(dtype, "pyarrow_dtype", None)
    if arrow is None:
        return False
    import pyarrow as pa

    return getattr(pa.types, test)(arrow)


def _inferred_kind(column):
    """pandas' kind of the values of a pandas object column (one pass in
    C), None for other containers."""
    if not hasattr(column, "iloc"):
        return None
    from pandas.api.types import infer_dtype

    return infer_dtype(column, skipna=True)


# pandas' inferred kinds of object columns of real numbers (no booleans)
NUMBER_KINDS = ("decimal", "integer", "floating", "mixed-integer-float")

# pandas' inferred kinds of object columns of dates, times and durations
TEMPORAL_KINDS = (
    "datetime64",
    "datetime",
    "date",
    "time",
    "timedelta64",
    "timedelta",
    "period",
)


def holds_lists(column):
    """Whether a column's cells are lists: a polars ``List`` or ``Array``
    column, a pandas column of pyarrow lists, or objects whose first
    non-missing cell is a list, tuple or array."""
    text = str(column.dtype)
    if type(column).__module__.split(".")[0] == "polars":
        return text.startswith(("List", "Array"))
    if text.split("<")[0] in ("list", "large_list", "fixed_size_list"):
        return True
    if getattr(column.dtype, "kind", None) != "O":
        return False
    for value in column:
        if isinstance(value, LIST_TYPES):
            return True
        if not _is_missing(value):
            return False
    return False


def _refuse_complex(column, name):
    """Refuse a column of a complex type, as scikit-learn's check_array does
    (read as labels, each value was a category; as numbers, the imaginary
    part was dropped)."""
    if getattr(getattr(column, "dtype", None), "kind", None) == "c":
        raise ValueError(
            f"Complex data not supported: {name} holds complex numbers. Pass "
            "their real and imaginary parts (or modulus and angle) as columns."
        )


def _refuse_sets(column, name):
    """Refuse a column whose first value present is a set or a frozenset: a
    set's order changes from one process to the next (string hashing), and a
    frozenset was read as one label per combination."""
    first = next((value for value in column if not _is_missing(value)), None)
    if isinstance(first, (set, frozenset)):
        raise TypeError(
            f"{name} holds sets, such as {first!r}. A column of lists is one "
            "multi-valued field: pass each cell as a list, for example "
            "X[column].map(sorted, na_action='ignore')."
        )


def _holds_inexact_integers(column):
    """Whether an object column holds integers (not booleans) of 2**53 or
    more in magnitude, from where float64 no longer tells them apart."""
    return any(
        isinstance(value, numbers.Integral)
        and not isinstance(value, (bool, np.bool_))
        and abs(int(value)) >= MAX_EXACT_CODE
        for value in column
    )


def _holds_only_numbers(column):
    """Whether an object array holds real numbers (Decimal too) and missing
    values only."""
    return all(_is_missing(value) or _is_number(value) for value in column)


def _is_number(value):
    """Whether ``value`` is a real number (Decimal too), not a boolean nor a
    NumPy duration (a signed integer to NumPy: 3 hours and 3 days were the
    code 3)."""
    number = isinstance(value, (numbers.Real, decimal.Decimal))
    return number and not isinstance(value, (bool, np.bool_, np.timedelta64))


def _holds_only_booleans(column):
    """Whether an object column holds booleans (Python's, NumPy's) and
    missing values only, at least one boolean."""
    found = False
    for value in column:
        if isinstance(value, (bool, np.bool_)):
            found = True
        elif not _is_missing(value):
            return False
    return found


def _check_labels(column, name):
    """Raise a TypeError for values of an object array that are neither
    labels nor numbers (dicts, lists, ...): NumPy's booleans, enum members,
    pandas' Intervals (``pd.cut``) are labels, as in a pandas column."""
    for value in column:
        if not (_is_missing(value) or _is_label(value)):
            raise TypeError(
                f"{name} holds a value of type {type(value).__name__}; every "
                "value must be a category label or a number (an argument must "
                f"be a string or a real number, not {type(value).__name__!r})."
            )


# Python's and NumPy's dates, times and durations (pandas' Timestamp and
# Timedelta among them)
TEMPORAL_TYPES = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    np.datetime64,
    np.timedelta64,
)
# objects that NumPy would cast to numbers, or fail to, and are none
NOT_NUMBERS = (str, bytes, *TEMPORAL_TYPES)


def _is_label(value):
    """Whether ``value`` can be a category label: a string, bytes, a number
    or a boolean, or another hashable value that is no container."""
    if isinstance(value, (str, bytes, numbers.Number, np.bool_)):
        return True
    if isinstance(value, (*LIST_TYPES, set, frozenset, dict)):
        return False
    return _is_hashable(value)


def _is_hashable(value):
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _as_float(column):
    """A numeric column (ndarray, pandas or polars Series) as float64, with
    missing values as NaN.  Strings are a TypeError, not numbers: parsed,
    '01', '1.0' and '1' were all the code 1 of a column fitted on codes."""
    if hasattr(column, "to_numpy"):
        if type(column).__module__.split(".")[0] == "polars":
            import polars as pl

            # (a column of no value holds no string, whatever the type a
            # reader gave it: polars types a CSV chunk's empty column String)
            if column.dtype == pl.String and column.null_count() < len(column):
                raise TypeError("strings are not numbers")
            return column.cast(pl.Float64).to_numpy()
        if _holds_strings(column):
            raise TypeError("strings are not numbers")
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    if column.dtype == object:
        # nor are dates and durations (NumPy's timedelta64 cast: 1 day was 1)
        if any(isinstance(v, NOT_NUMBERS) and not _is_missing(v) for v in column):
            raise TypeError("strings and dates are not numbers")
        values = [np.nan if _is_missing(v) else v for v in column]
        return np.array(values, dtype=np.float64)
    if column.dtype.kind in "US":
        raise TypeError("strings are not numbers")
    return np.asarray(column, dtype=np.float64)


def _holds_strings(column):
    """Whether a pandas column holds strings (a string type, or strings
    among the objects of an object column)."""
    dtype = column.dtype
    if getattr(dtype, "kind", "O") in "biufc":
        return False
    if column.isna().all():
        # no value, whatever the type a reader gave it (pandas' str and
        # string types of a CSV chunk's empty column): missing, not strings
        return False
    from pandas.api.types import infer_dtype

    # a category's (or an Arrow dictionary's) values say: pandas infers the
    # type 'categorical' (or 'unknown-array'), and '02' was parsed as code 2
    if hasattr(dtype, "categories"):  # those in use: an unused 'other' is none
        codes = np.unique(np.asarray(column.cat.codes))
        column = dtype.categories.take(codes[codes >= 0])
    elif str(getattr(dtype, "pyarrow_dtype", "")).startswith("dictionary"):
        column = column.astype(object)
    inferred = infer_dtype(column, skipna=True)
    if inferred in ("mixed", "mixed-integer"):  # (Decimals beside ints: none)
        return not _holds_only_numbers(column)
    return inferred in ("string", "bytes")


def _fitted_numbers(column, name, fitted, convert):
    """``convert(column)`` for a column that held ``fitted`` (numbers or
    codes) in ``fit``; a TypeError naming the column and both kinds when it
    now holds labels or lists."""
    _refuse_complex(column, name)
    errors = (ValueError, TypeError)
    if type(column).__module__.split(".")[0] == "polars":
        import polars as pl

        # polars' own, for a cast it refuses (strings, lists to numbers)
        errors += (pl.exceptions.PolarsError,)
    try:
        return convert(column)
    except errors as exc:
        example = next(
            (v for v in column if not _is_missing(v) and not _is_number(v)),
            None,
        )
        if hasattr(example, "to_list"):  # a polars List cell
            example = example.to_list()
        lists = holds_lists(column) or isinstance(example, LIST_TYPES)
        now = "lists" if lists else "labels"
        raise TypeError(
            f"{name} held {fitted} in fit and holds {now} now, such as "
            f"{example!r}. Pass the same kind of values as in fit (for example "
            "the same encoding of the categories), or refit on the new kind."
        ) from exc


def _as_codes(column):
    """A categorical numeric column as given when it holds plain integers (no
    float conversion needed), else as float64 with missing values as NaN."""
    dtype = getattr(column, "dtype", None)
    if isinstance(column, np.ndarray) and dtype.kind in "iu":
        return np.ascontiguousarray(column)
    return _as_float(column)


def _as_labels(column):
    """Any column as an object ndarray of labels (None or NaN when missing)."""
    module = type(column).__module__.split(".")[0]
    if module == "polars":
        if column.dtype.is_integer() and column.null_count():
            # to_numpy gives floats there, which merge 64-bit ids
            return np.array(column.to_list(), dtype=object)
        return column.to_numpy().astype(object, copy=False)
    if module == "pandas":
        return column.astype(object).to_numpy()
    return np.asarray(column, dtype=object)


def _is_missing(value):
    """None, NaN, pandas' NA, which the cells of nullable, ``string`` and
    arrow columns hold (read as a label, NA was a category of its own that
    training never reached: a missing cell predicted alone took 0.38 where
    the unknown row gave 0.89), or a not-a-time (pandas' NaT, NumPy's): as
    ``pd.isna`` reads them (NaT among labels was a category, and a batch of
    NaT alone met a KeyError at predict)."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):  # NumPy's float32 NaN too
        return bool(value != value)
    if isinstance(value, decimal.Decimal):
        return value.is_nan()
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    kind = type(value)
    return kind.__name__ in ("NAType", "NaTType") and (
        kind.__module__.split(".")[0] == "pandas"
    )


def _check_no_infinity(values, name):
    if values.dtype.kind == "f" and np.isinf(values).any():
        raise ValueError(
            f"Input X contains infinity in {name}. Infinity is neither a "
            "category nor a usable quantity: replace it (with NaN, which a "
            "categorical column reads as missing, or with a value in the "
            "column's range, which a numeric column needs)."
        )


def _is_float_column(column):
    """Whether a column (NumPy, pandas or polars) holds floats: its type, or
    in an object column every value that is not missing."""
    if type(column).__module__.split(".")[0] == "polars":
        return column.dtype.is_float()
    if getattr(column.dtype, "kind", "") == "O":
        return all(
            _is_missing(value) or isinstance(value, (float, np.floating))
            for value in column
        )
    return getattr(column.dtype, "kind", "") == "f"


def _integer_codes(values):
    """Whether numeric values look like category codes: integers, with at
    most one distinct negative value (an encoder's unknown or missing code)."""
    finite = values[np.isfinite(values)]
    if not np.all(finite == np.round(finite)):
        return False, 0
    negatives = np.unique(finite[finite < 0])
    return negatives.size <= 1, negatives.size
