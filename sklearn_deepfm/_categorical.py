"""Categorical columns: codes or labels mapped to embedding rows.

A categorical field owns one embedding row per category seen in ``fit``
plus an *unknown* row (local row 0) for categories never seen, negative
codes and missing values.  Integer codes (:class:`_CategoricalColumn`),
labels of any hashable kind (:class:`_LabelColumn`) and dense one-hot blocks
(:class:`_IndicatorBlock`) are the three ways such a field is read.
"""

from collections.abc import Mapping

import numpy as np

from ._caller import warn
from ._columns import (
    LIST_TYPES,
    MAX_EXACT_CODE,
    TEMPORAL_KINDS,
    TEMPORAL_TYPES,
    _as_codes,
    _as_float,
    _as_labels,
    _check_no_infinity,
    _fitted_numbers,
    _is_hashable,
    _is_missing,
    _is_number,
    _raise_temporal,
    holds_lists,
    index_dtype,
)
from ._layout import CATEGORICAL, INDICATOR
from ._packing import packed_strings, unpacked_strings

UNKNOWN = 0  # local row of the unknown category within a categorical field

# A categorical column whose largest code is below
# max(LOOKUP_TABLE_MIN_SIZE, LOOKUP_TABLE_RATIO * n_categories) maps codes to
# rows through a table indexed by code; other columns use a binary search.
LOOKUP_TABLE_MIN_SIZE = 1 << 16
LOOKUP_TABLE_RATIO = 4

# Up to this many rows, labels are looked up in a dict rather than a pandas
# Index (whose set-up costs more than the lookup of a few rows).
SMALL_LOOKUP = 32


class _CategoricalColumn:
    """Integer codes (any numeric dtype) mapped to local rows; negatives unknown.

    ``categories`` are in row order: local row ``1 + i`` is ``categories[i]``
    (sorted after ``fit``; categories learnt later are appended).
    """

    kind = CATEGORICAL
    # what fit read, as messages name it: "booleans" for a boolean column
    holds = "integer codes"

    def __init__(self, values, name):
        self.categories = _known_codes(values, name)
        self._index()

    def _index(self):
        self.size = self.categories.size + 1
        order = np.argsort(self.categories, kind="stable")
        self._sorted = self.categories[order]
        self._rows_of_sorted = (order + 1).astype(index_dtype(self.size))
        # Codes up to a few times the number of categories (label-encoded data)
        # are looked up in a table, which is much faster than a binary search.
        self._table = None
        if self.categories.size and self._sorted[-1] < max(
            LOOKUP_TABLE_MIN_SIZE, LOOKUP_TABLE_RATIO * self.categories.size
        ):
            self._table = np.zeros(
                int(self._sorted[-1]) + 1, dtype=index_dtype(self.size)
            )
            self._table[self.categories.astype(np.int64)] = np.arange(
                1, self.categories.size + 1
            )

    def prepare(self, column, name):
        try:
            values = _fitted_numbers(column, name, self.holds, _as_codes)
        except TypeError:
            if self.categories.size or holds_lists(column):
                raise
            # a column that held no value in fit: any label is unknown
            return np.full(len(column), np.nan)
        _check_no_infinity(values, name)
        return values

    def unseen(self, values, name):
        """Valid codes among ``values`` (prepared) that have no row yet."""
        known = _known_codes(values, name)
        return known[self.local_rows(known) == UNKNOWN]

    def extend(self, categories):
        """Give each of ``categories`` (unseen codes) a row after the others."""
        self.categories = np.concatenate(
            [self.categories, np.asarray(categories, dtype=self.categories.dtype)]
        )
        self._index()

    @property
    def hashes(self):
        """Whether more than a few codes are looked up in a hash table
        (codes spread far beyond the number of categories)."""
        return self._table is None and self.categories.size > 0

    def local_rows(self, values):
        if self.categories.size == 0:
            return np.full(values.shape, UNKNOWN)
        if self._table is not None:
            inside = (values >= 0) & (values < self._table.size)  # False for NaN
            if values.dtype.kind in "iu":
                local = self._table[np.where(inside, values, 0)]
                local[~inside] = UNKNOWN
                return local
            codes = np.where(inside, values, 0).astype(np.int64)
            local = self._table[codes]
            local[~inside | (codes != values)] = UNKNOWN
            return local
        if len(values) > SMALL_LOOKUP:
            # codes spread far beyond the categories: a hash lookup is several
            # times faster than a binary search over many rows
            integers = values.dtype.kind in "iu"
            index = self._code_index(integers)
            if index is not None:
                if integers:
                    # uint64 codes of 2**63 or more wrap to negatives: unknown
                    values = values.astype(np.int64, copy=False)
                return index.get_indexer(values).astype(np.int64) + 1
        position = np.searchsorted(self._sorted, values)
        position = np.minimum(position, self._sorted.size - 1)
        found = self._sorted[position] == values
        return np.where(found, self._rows_of_sorted[position], UNKNOWN)

    @staticmethod
    def fractions(values, local):
        """The non-integer values among ``values`` (prepared) that ``local``
        (their local rows) sends to the unknown row."""
        if values.dtype.kind != "f":
            return values[:0]
        unknown = values[local == UNKNOWN]
        return unknown[np.isfinite(unknown) & (unknown != np.round(unknown))]

    @staticmethod
    def warn_of_fractions(n_values, example, name, lists=False):
        """Warn that ``n_values`` non-integer values of the codes ``name``,
        such as ``example``, were read as unknown categories (values in
        ``lists`` of a multi-valued column, which is never a number)."""
        if lists:
            what = "lists of integer codes"
            advice = "Pass whole codes, or the values as string labels."
        else:
            what = "categories (integer codes)"
            advice = (
                "If the column is a quantity, name the other columns in "
                "categorical_features so that it is read as a number; for "
                "partial_dependence, give custom_values of whole numbers."
            )
        warn(
            f"{n_values} value(s) of {name}, such as {float(example)!r}, are not "
            f"whole numbers, but fit read the column as {what}: each is an "
            f"unknown category, as a value never seen in fit. {advice}",
        )

    def _code_index(self, integers):
        """A hash lookup of the codes in row order, keyed by int64 for integer
        codes and by float64 for the others: a pandas Index, or None without
        pandas.

        Keys of the codes' own kind spare pandas a conversion of every batch:
        the lookups of the wide prediction benchmark's nine hashed columns
        took 0.075 s per 100,000 rows with float64 keys for int64 codes and
        0.050 s with int64 keys, on an Intel Xeon (the encoding as a whole:
        ``benchmarks/results/predict_breakdown_wide_intel*.md``).
        """
        key = "_int_hash" if integers else "_hash"
        index = self.__dict__.get(key)
        if index is None or len(index) != self.categories.size:
            try:
                import pandas as pd
            except ImportError:  # pragma: no cover - pandas ships with the tests
                return None
            codes = self.categories.astype(np.int64) if integers else self.categories
            index = pd.Index(codes)
            setattr(self, key, index)
        return index

    def __getstate__(self):
        # the hash lookups are rebuilt on first use: a saved model holds arrays
        return {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("_hash", "_int_hash")
        }


def _known_codes(values, name):
    """The distinct valid codes (finite, non-negative integers) of ``values``."""
    _check_no_infinity(values, name)
    known = values[np.isfinite(values) & (values >= 0)]
    if np.any(known != np.round(known)):
        raise ValueError(
            f"Categorical {name} holds non-integer values such as "
            f"{known[known != np.round(known)][0]!r}. Label-encode it (for "
            "example with OrdinalEncoder) or pass it as strings; if it is a "
            "quantity that fit (or partial_fit's first call) read as categories "
            "from whole numbers, name the other columns in categorical_features "
            "to read it as a number."
        )
    if known.size and known.max() >= MAX_EXACT_CODE:  # 2**53 + 1 reads as 2**53
        raise ValueError(
            f"Categorical {name} holds integer codes of 2**53 or more, such as "
            f"{int(known.max())}: codes are held as float64, in which such "
            "integers cannot all be told apart (2**62 and 2**62 + 1 would be one "
            "category). Pass the column as strings (for example "
            "X[column].astype(str)), or hash the codes below 2**53; if it is a "
            "quantity, name the other columns in categorical_features to read "
            "it as a number."
        )
    return np.unique(known).astype(np.float64)


class _LabelColumn:
    """Any hashable labels (strings, categories, objects) mapped to local rows.

    The categories are kept as a plain object array in row order (sorted,
    when they can be, after ``fit``; labels learnt later are appended), so a
    fitted model holds no pandas or polars objects.
    """

    kind = CATEGORICAL

    def __init__(self, labels, name):
        try:
            self.categories = _object_array(_sorted_labels(labels))
        except TypeError as exc:
            error = _unhashable_error(labels, name)
            if error is None:
                raise
            raise error from exc
        _check_one_kind(self.categories, name)
        self.size = len(self.categories) + 1

    def prepare(self, column, name):
        labels = _as_labels(column)
        if len(labels) and isinstance(labels[0], LIST_TYPES):
            raise TypeError(
                f"{name} held single labels in fit and holds lists now, such "
                f"as {labels[0]!r}. Pass the same kind of values as in fit, or "
                "refit on the lists (a column of lists is one multi-valued field)."
            )
        # as scikit-learn's encoders refuse a mix of strings and numbers:
        # pandas reads a column of digits as integers in one chunk of a CSV
        # and as strings in another, and 4 went to the unknown row where '4'
        # had one (in an object column too, and '4' where fit saw the number
        # 4); bytes where fit saw strings (a Parquet file without its UTF-8
        # mark) went there too; and dates, which fit refuses, silently
        fitted = self._label_kind()
        if fitted is None:
            # categories of several kinds: only a column of dates, judged in
            # one pass in C (a scan of every row for a date had made the
            # encoding of such a column 8 to 23 times slower)
            wrong = _first_date(column, labels)
        else:
            wrong = _first_of_other_kind(column, labels, fitted)
        if wrong is not None:
            if _kind_of(wrong) == "dates":
                _raise_temporal(name, f"objects such as {wrong!r}")
            raise _other_kind_error(name, fitted, wrong, self.categories)
        return labels

    def _label_kind(self):
        """The kind of value (see :func:`_kind_of`) every category is (where
        there is one), else None."""
        kind = self.__dict__.get("_kind", False)
        if kind is False:
            kinds = {_kind_of(category) for category in self.categories}
            kind = kinds.pop() if len(kinds) == 1 else None
            self._kind = kind
        return kind

    def unseen(self, labels, name):
        """Labels among ``labels`` (prepared) that have no row yet, sorted."""
        candidates = labels[self.local_rows(labels, name) == UNKNOWN]
        unseen = _object_array(_sorted_labels(candidates))
        self._check_kinds_with(unseen, name)  # before any field grows
        return unseen

    def extend(self, categories, name="a column"):
        """Give each of ``categories`` (unseen labels) a row after the others;
        text beside values of another kind is refused, as in ``fit`` (a
        stream whose first call held no value, or another process's
        values, had learnt '4' beside 4)."""
        categories = _object_array(categories)
        kind = self._check_kinds_with(categories, name)
        self.categories = np.concatenate([self.categories, categories])
        self.size = len(self.categories) + 1
        if kind is None or any(_kind_of(new) != kind for new in categories):
            self.__dict__.pop("_kind", None)  # (else every category is still one)

    def _check_kinds_with(self, categories, name):
        """Refuse ``categories`` where they and the learnt ones mix text with
        other kinds (see :func:`_check_one_kind`); the learnt ones' kind,
        where they share one, stands for them (a stream's vocabulary is not
        read again at every call).  Returns that kind."""
        kind = self._label_kind()
        known = self.categories[:1] if kind is not None else self.categories
        _check_one_kind(np.concatenate([known, categories]), name)
        return kind

    def local_rows(self, labels, name=None):
        """Each label's local row (the unknown row for labels not learnt);
        an unhashable label, such as a list in one cell, raises wherever it
        is and however many rows come with it, naming the column ``name``."""
        try:
            return self._local_rows(labels)
        except TypeError as exc:
            error = _unhashable_error(
                labels, name or "A column of single labels", fitted=True
            )
            if error is None:  # another TypeError: let it say what it is
                raise
            raise error from exc

    def _local_rows(self, labels):
        if len(labels) <= SMALL_LOOKUP:  # a few rows: a dict beats pandas' setup
            position = self.__dict__.get("_position")
            if position is None or len(position) != len(self.categories):
                position = self._position = _label_position(self.categories)
            rows = [position.get(_hashable(v), -1) + 1 for v in labels]
            return np.array(rows, dtype=np.int64)
        index = self.__dict__.get("_index")
        if index is None or len(index) != len(self.categories):
            index = self._index = _label_index(self.categories)
        if isinstance(index, dict):  # pragma: no cover - pandas ships with tests
            return np.array([index.get(v, -1) + 1 for v in labels], dtype=np.int64)
        return index.get_indexer(labels).astype(np.int64) + 1

    def __getstate__(self):
        # the lookups are rebuilt on first use: a saved model holds only
        # arrays, string labels as a string array (see _packing)
        state = {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("_index", "_position")
        }
        state["categories"] = packed_strings(state["categories"])
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.categories = unpacked_strings(self.categories)


# what a kind of value is called in messages
KIND_WORDS = {
    "strings": "string labels",
    "bytes": "bytes",
    "numbers": "numbers",
    "booleans": "booleans",
    "dates": "dates, times or durations",
}

# pandas' inference of an object column, as a kind of value ('mixed': the
# cells say; None: no kind that could be refused)
_INFERRED_KINDS = {
    "string": "strings",
    "bytes": "bytes",
    "boolean": "booleans",
    "integer": "numbers",
    "floating": "numbers",
    "mixed-integer-float": "numbers",
    "decimal": "numbers",
    "mixed-integer": "mixed",
    "mixed": "mixed",
    **{kind: "dates" for kind in TEMPORAL_KINDS},
}


def _kind_of(value):
    """'strings', 'bytes', 'booleans', 'numbers' or 'dates'; None for other
    labels."""
    if isinstance(value, str):
        return "strings"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, (bool, np.bool_)):
        return "booleans"
    if isinstance(value, TEMPORAL_TYPES) or _is_period(value):
        # (NaT, not equal to itself, is a missing value, of no kind)
        return "dates" if value == value else None
    return "numbers" if _is_number(value) else None


def _is_period(value):
    """Whether ``value`` is a pandas ``Period`` (pandas imported only where
    the data already brought it)."""
    kind = type(value)
    return kind.__name__ == "Period" and kind.__module__.startswith("pandas")


def _other_kind(fitted, kind):
    """Whether a value of ``kind`` is refused where fit saw ``fitted``
    values (None: of no one kind): text (strings or bytes) against anything
    else, and dates, times and durations always, as fit refuses a column of
    them.  Numbers and booleans meet as Python compares them (True is 1)."""
    if kind == "dates":
        return True
    return (
        fitted is not None
        and kind is not None
        and kind != fitted
        and ("strings" in (fitted, kind) or "bytes" in (fitted, kind))
    )


def _first_of_other_kind(column, labels, fitted):
    """The first value of ``column`` (its ``labels``) of a kind refused
    where fit saw ``fitted`` values (see :func:`_other_kind`); None where
    there is none.  A column of a type of numbers or strings is judged by
    its type, an object column by pandas' inference (one pass in C)."""
    if _numeric_type(column):
        kind = "numbers"
    elif getattr(column.dtype, "kind", None) == "S":  # NumPy's bytes
        kind = "bytes"
    elif _string_type(column):
        kind = "strings"
    else:
        from pandas.api.types import infer_dtype

        kind = _INFERRED_KINDS.get(infer_dtype(labels, skipna=True))
    if kind != "mixed" and not _other_kind(fitted, kind):
        return None
    return next(
        (
            value
            for value in labels
            if not _is_missing(value) and _other_kind(fitted, _kind_of(value))
        ),
        None,
    )


def _first_date(column, labels):
    """The first value of an object column of dates, times or durations (as
    pandas infers it, missing values aside); None for other columns."""
    if getattr(column.dtype, "kind", None) != "O":
        return None
    from pandas.api.types import infer_dtype

    if _INFERRED_KINDS.get(infer_dtype(labels, skipna=True)) != "dates":
        return None
    return next((value for value in labels if not _is_missing(value)), None)


def _check_one_kind(categories, name):
    """Refuse text beside values of another kind in one column, as
    scikit-learn's encoders refuse a mix of strings and numbers: the int 4
    and the string '4' (from ``pd.concat`` of two chunks) were two
    categories, and b'red' and 'red' two more."""
    first = {}
    for category in categories:
        first.setdefault(_kind_of(category), category)
    first.pop(None, None)
    name = name or "a column"
    if "dates" in first:  # beside labels (a column of them alone is refused)
        _raise_temporal(name, f"objects such as {first['dates']!r}")
    text = [kind for kind in ("strings", "bytes") if kind in first]
    if text and len(first) > 1:
        other = next(kind for kind in first if kind != text[0])
        raise TypeError(
            f"{name} holds {KIND_WORDS[text[0]]} and {KIND_WORDS[other]}, such "
            f"as {first[text[0]]!r} and {first[other]!r}, which would be "
            "different categories even where they read the same. Pass the "
            "column as one kind of value ("
            + (
                "decode the bytes to strings with value.decode('utf-8'))."
                if "bytes" in first
                else _joined_advice(first.get("numbers"))
            )
        )


def _whole_float(number):
    """Whether ``number`` is a float holding a whole number (digits read as
    floats beside a NaN), which ``astype(str)`` writes with '.0'."""
    return isinstance(number, (float, np.floating)) and float(number).is_integer()


def _joined_advice(number):
    """The advice for a column mixing text and numbers in ``fit``."""
    if _whole_float(number):
        # (astype(str) of the joined column writes 1.0 as '1.0', beside '1')
        return (
            "where chunks were joined, convert the one whose digits were read "
            f"as numbers before joining, with {strings_advice(number)})."
        )
    return (
        "for example with X[column].astype(str); where chunks were joined, "
        "convert the one whose digits were read as numbers before, with "
        f"{strings_advice(number)})."
    )


def strings_advice(number, labels=None):
    """How to pass a column of ``number``-like values as strings: where the
    number is a whole float (digit labels parsed with a NaN beside them),
    ``astype(str)`` would write 1.0 as '1.0', another label than fit's '1';
    where fit's ``labels`` hold no label written as the number is (zero-
    padded codes such as '01'), no conversion restores them."""
    whole = _whole_float(number)
    if whole and labels is not None:
        written = str(int(number))
        spelt = [
            label
            for label in labels
            if isinstance(label, str)
            and label.isdigit()
            and int(label) == int(number)
            and label != written
        ]
        if spelt:  # (no conversion of the number gives that label back)
            return (
                f"dtype={{column: str}} in read_csv: fit's label for {written} "
                f"is {spelt[0]!r}, so the column must be read as text"
            )
    if whole:
        return (
            "X[column].astype('Int64').astype('string'), which writes 1.0 as "
            "'1' and keeps missing values missing (astype(str) writes '1.0'; "
            "labels such as '01', which no number writes, need the column "
            "read as text: dtype={column: str} in read_csv)"
        )
    return "X[column].astype(str), or dtype={column: str} in read_csv"


def _other_kind_error(name, fitted, wrong, labels=None):
    """The TypeError for ``wrong``, a value of a kind refused where fit saw
    ``fitted`` values (the ``labels`` fit learnt)."""
    wrong = wrong.item() if isinstance(wrong, np.generic) else wrong
    held, holds = KIND_WORDS[fitted], KIND_WORDS[_kind_of(wrong)]
    if fitted == "strings" and holds == "numbers":
        advice = (
            f"the label {str(wrong)!r} and the number {wrong!r} would be "
            "different categories. Pass the column as strings, as in fit (for "
            f"example with {strings_advice(wrong, labels)})."
        )
    elif fitted == "numbers" and holds == "string labels":
        advice = (
            f"the number and the label {wrong!r} would be different "
            "categories. Pass the column as numbers, as in fit."
        )
    else:
        advice = (
            "no such value has a category of its own. Pass the values as in fit"
            + (
                " (bytes decode to strings with X[column].str.decode('utf-8') "
                "in pandas, .cast(pl.String) in polars)."
                if "bytes" in (fitted, _kind_of(wrong))
                else "."
            )
        )
    if fitted == "numbers":
        held = "numbers as labels"
    return TypeError(
        f"{name} held {held} in fit and holds {holds} now, such as {wrong!r}; " + advice
    )


def _string_type(column):
    """Whether a column (NumPy, pandas or polars) has a type of strings."""
    dtype = column.dtype
    if type(column).__module__.split(".")[0] == "polars":
        return str(dtype) == "String"
    return getattr(dtype, "kind", "O") in "US" or str(dtype).startswith(
        ("string", "str")
    )


def _numeric_type(column):
    """Whether a column (NumPy, pandas or polars) has a type of numbers."""
    dtype = column.dtype
    if type(column).__module__.split(".")[0] == "polars":
        return dtype.is_numeric()
    return getattr(dtype, "kind", "O") in "iuf"


def _label_position(categories):
    return {label: i for i, label in enumerate(categories)}


def _hashable(value):
    """``value`` as a dict key: NaN-like values never match; an unhashable
    value raises TypeError at the lookup."""
    return None if _is_missing(value) else value


def _unhashable_error(labels, name, fitted=False):
    """The TypeError for a column of single labels that holds an unhashable
    value (a list, most often; a record); None where every value is
    hashable.  Where ``fitted`` (a model that read single labels there), the
    advice is fit's kind of value, not lists, which it would refuse."""
    unhashable = next((v for v in labels if not _is_hashable(v)), None)
    if unhashable is None:
        return None
    found = (
        f"{name} holds a value of type {type(unhashable).__name__} "
        f"({unhashable!r}) among single labels"
    )
    if fitted:
        advice = "This model read single labels there in fit: pass one per cell."
    elif isinstance(unhashable, Mapping):  # (pd.read_json of nested objects)
        advice = (
            "DeepFM reads categories, numbers and lists: make each field of the "
            "records a column of its own (pd.json_normalize in pandas)."
        )
    else:
        advice = (
            "A column of lists is one multi-valued field, but then every cell "
            "must be a list, tuple or array (or None when missing): wrap single "
            "values in a list."
        )
    return TypeError(f"{found}. {advice}")


def _label_index(categories):
    """A hash lookup of ``categories``: a pandas Index, or a dict without pandas."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas ships with the tests
        return {label: i for i, label in enumerate(categories)}
    return pd.Index(categories, dtype=object)


def _sorted_labels(labels):
    # the set first, in C, then the test for missing on each distinct label
    # only: HR's twelve columns 15 -> 4 ms
    distinct = {label for label in set(labels) if not _is_missing(label)}
    try:
        return sorted(distinct)
    except TypeError:
        return sorted(distinct, key=repr)


def _object_array(values):
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


class _IndicatorBlock:
    """Dense 0/1 columns of one one-hot block read as one categorical field:
    the active column's row, the unknown row when none is set."""

    kind = INDICATOR

    def __init__(self, names):
        self.categories = np.array(names, dtype=object)
        self.size = len(names) + 1

    def prepare(self, columns, name):
        # each column named where it holds labels (a bare "strings are not
        # numbers" had named none)
        block = np.column_stack(
            [
                _fitted_numbers(
                    column,
                    f"column {label!r} of the one-hot block starting at {name}",
                    "0/1 values",
                    _as_float,
                )
                for column, label in zip(columns, self.categories, strict=True)
            ]
        )
        _check_no_infinity(block, name)
        return block

    def warn_of_several(self, block, name):
        """Warn where rows of ``block`` (prepared) set several columns."""
        several = int(((np.nan_to_num(block) != 0).sum(axis=1) > 1).sum())
        if several:
            # fit grouped the columns because no row set two of them (rare
            # flags can look so); a sparse matrix's such rows add them up
            warn(
                f"{several} row(s) set several 0/1 columns of the one-hot block "
                f"starting at {name}, which fit read as one field (no training "
                "row set two of them); each such row is read as its first set "
                "column. If these columns are independent flags, give "
                "categorical_features explicitly (columns are then never "
                "grouped) or pass a sparse matrix, whose rows add up the "
                "columns they set.",
            )

    def local_rows(self, block):
        active = np.nan_to_num(block) != 0
        return np.where(active.any(axis=1), active.argmax(axis=1) + 1, UNKNOWN)
