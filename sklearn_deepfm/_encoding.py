"""Turning user input into embedding rows and values, by one rule for every
container.

:class:`FeatureEncoder` learns, at ``fit``, which embedding rows each input
column owns, and turns any later input into
:class:`~sklearn_deepfm._batching.RegularRows` (one slot per field) or
:class:`~sklearn_deepfm._batching.RaggedRows` (any number of slots).  What it
learnt is described by :class:`~sklearn_deepfm._layout.InputLayout`.

* Sparse matrices: every column owns one embedding row, scaled by the
  stored value; columns are grouped into fields by
  :mod:`~sklearn_deepfm._fields`.  Sparse input is never densified.
* Dense arrays, pandas and polars DataFrames are read column by column, the
  same way whatever the container:

  - labels (strings, pandas ``category``, polars ``Categorical``, objects)
    and booleans are categorical;
  - numbers are categorical under ``categorical_features='auto'`` when they
    are integer codes, negative codes included as long as there is only one
    negative value (``OrdinalEncoder``'s ``unknown_value`` or
    ``encoded_missing_value``), else numeric;
  - 0/1 columns forming a one-hot block (the rule of
    :func:`~sklearn_deepfm._fields.infer_sparse_fields`) are one field, as
    in a sparse matrix;
  - a categorical field owns one row per category seen in ``fit`` plus an
    *unknown* row for categories never seen, negative codes and missing
    values; a numeric column owns one row scaled by its standardised value
    (NaN and infinity are errors there);
  - dates, times and durations are errors: derive numbers or categories
    from them first.
"""

import math
import numbers
import warnings

import numpy as np
import scipy.sparse as sp

from ._batching import RaggedRows, RegularRows
from ._fields import check_fields, infer_sparse_fields
from ._layout import (
    CATEGORICAL,
    INDICATOR,
    NUMERIC,
    SPARSE,
    FieldLayout,
    InputLayout,
)

UNKNOWN = 0  # local row of the unknown category within a categorical field

# A categorical column whose largest code is below
# max(LOOKUP_TABLE_MIN_SIZE, LOOKUP_TABLE_RATIO * n_categories) maps codes to
# rows through a table indexed by code; other columns use a binary search.
LOOKUP_TABLE_MIN_SIZE = 1 << 16
LOOKUP_TABLE_RATIO = 4

# Up to this many rows, labels are looked up in a dict rather than a pandas
# Index (whose set-up costs more than the lookup of a few rows).
SMALL_LOOKUP = 32

# Rows of a dense input encoded together.
ROW_BLOCK = 4096

# 'auto' reads an integer column with more distinct values than this share
# of the rows (and at least HIGH_CARDINALITY_MIN of them) as categorical, but
# says so: it may be an identifier, or a quantity.
HIGH_CARDINALITY_SHARE = 0.5
HIGH_CARDINALITY_MIN = 100


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


def check_container(X, estimator_name):
    """Raise a TypeError for containers the estimators cannot read in memory."""
    if hasattr(X, "__dask_graph__"):
        raise TypeError(
            f"{estimator_name}.fit reads data held in memory and got a dask "
            f"{type(X).__name__}. Stream it through partial_fit instead, for "
            "example with dask_ml.wrappers.Incremental, or call .compute() "
            "if it fits in memory."
        )
    if sp.issparse(X) or isinstance(X, np.ndarray) or is_dataframe(X) or is_polars(X):
        return
    if hasattr(X, "__dataframe__") or hasattr(X, "column_names"):
        raise TypeError(
            f"{estimator_name} reads numpy arrays, scipy sparse matrices and "
            f"pandas or polars DataFrames; got {type(X).__module__}."
            f"{type(X).__name__}. Convert it to one of those first."
        )


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

    def name(self, j):
        if self.feature_names is None:
            return f"x{j}"
        return str(self.feature_names[j])

    def describe(self, j):
        if self.feature_names is None:
            return f"column {j}"
        return f"column {j} ({self.feature_names[j]!r})"


# reading one column ---------------------------------------------------------
LABELS, BOOLEAN, NUMBERS = "labels", "boolean", "numbers"


def _read_kind(column, name):
    """How a column's values are read: LABELS, BOOLEAN or NUMBERS.

    Dates, times and durations raise: they are neither categories nor
    quantities the model can use as they are.
    """
    dtype = column.dtype
    if type(column).__module__.split(".")[0] == "polars":
        temporal = dtype.is_temporal()
        boolean = str(dtype) == "Boolean"
        numeric = dtype.is_numeric()
    else:
        kind = getattr(dtype, "kind", "O")
        text = str(dtype)
        temporal = kind in "mM" or text.startswith("period")
        boolean = kind == "b" or text == "boolean"
        numeric = kind in "iuf" and text != "category"
        if kind == "O" and isinstance(column, np.ndarray):
            numeric = _holds_only_numbers(column)
            if not numeric:
                _check_labels(column, name)
    if temporal:
        raise TypeError(
            f"{name} holds dates, times or durations ({dtype}). DeepFM reads "
            "categories and numbers only: derive features from it (for example "
            "the hour or the weekday, as numbers or categories), or convert it "
            "to strings to use each value as a category."
        )
    if boolean:
        return BOOLEAN
    return NUMBERS if numeric else LABELS


def _holds_only_numbers(column):
    """Whether an object array holds real numbers (and missing values) only."""
    return all(
        value is None
        or (isinstance(value, numbers.Real) and not isinstance(value, bool))
        for value in column
    )


def _check_labels(column, name):
    """Raise a TypeError for values of an object array that are neither
    labels nor numbers (dicts, lists, ...)."""
    for value in column:
        if not (value is None or isinstance(value, (str, bytes, numbers.Number))):
            raise TypeError(
                f"{name} holds a value of type {type(value).__name__}; every "
                "value must be a category label or a number (an argument must "
                f"be a string or a real number, not {type(value).__name__!r})."
            )


def _as_float(column):
    """A numeric column (ndarray, pandas or polars Series) as float64, with
    missing values as NaN."""
    if hasattr(column, "to_numpy"):
        if type(column).__module__.split(".")[0] == "polars":
            import polars as pl

            return column.cast(pl.Float64).to_numpy()
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    if column.dtype == object:
        return np.array([np.nan if v is None else v for v in column], dtype=np.float64)
    return np.asarray(column, dtype=np.float64)


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
        return column.to_numpy().astype(object, copy=False)
    if module == "pandas":
        return column.astype(object).to_numpy()
    return np.asarray(column, dtype=object)


def _is_missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def _check_no_infinity(values, name):
    if values.dtype.kind == "f" and np.isinf(values).any():
        raise ValueError(
            f"Input X contains infinity in {name}. Infinity is neither a "
            "category nor a usable quantity: replace it (for example with NaN, "
            "which a categorical column reads as missing)."
        )


def _integer_codes(values):
    """Whether numeric values look like category codes: integers, with at
    most one distinct negative value (an encoder's unknown or missing code)."""
    finite = values[np.isfinite(values)]
    if not np.all(finite == np.round(finite)):
        return False, 0
    negatives = np.unique(finite[finite < 0])
    return negatives.size <= 1, negatives.size


# fitted columns -------------------------------------------------------------
class _CategoricalColumn:
    """Integer codes (any numeric dtype) mapped to local rows; negatives unknown.

    ``categories`` are in row order: local row ``1 + i`` is ``categories[i]``
    (sorted after ``fit``; categories learnt later are appended).
    """

    kind = CATEGORICAL

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
        values = _as_codes(column)
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
            index = self.__dict__.get("_hash")
            if index is None or len(index) != self.categories.size:
                index = self._hash = _code_index(self.categories)
            if index is not None:
                return index.get_indexer(values).astype(np.int64) + 1
        position = np.searchsorted(self._sorted, values)
        position = np.minimum(position, self._sorted.size - 1)
        found = self._sorted[position] == values
        return np.where(found, self._rows_of_sorted[position], UNKNOWN)

    def __getstate__(self):
        # the hash lookup is rebuilt on first use: a saved model holds arrays
        return {key: value for key, value in self.__dict__.items() if key != "_hash"}


def _code_index(categories):
    """A hash lookup of the (float64) codes ``categories``, in row order: a
    pandas Index, or None without pandas."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas ships with the tests
        return None
    return pd.Index(categories)


def _known_codes(values, name):
    """The distinct valid codes (finite, non-negative integers) of ``values``."""
    _check_no_infinity(values, name)
    known = values[np.isfinite(values) & (values >= 0)]
    if np.any(known != np.round(known)):
        raise ValueError(
            f"Categorical {name} holds non-integer values such as "
            f"{known[known != np.round(known)][0]!r}. Label-encode it (for "
            "example with OrdinalEncoder) or pass it as strings."
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
        self.categories = _object_array(_sorted_labels(labels))
        self.size = len(self.categories) + 1

    def prepare(self, column, name):
        return _as_labels(column)

    def unseen(self, labels, name):
        """Labels among ``labels`` (prepared) that have no row yet, sorted."""
        candidates = labels[self.local_rows(labels) == UNKNOWN]
        return _object_array(_sorted_labels(candidates))

    def extend(self, categories):
        """Give each of ``categories`` (unseen labels) a row after the others."""
        self.categories = np.concatenate([self.categories, _object_array(categories)])
        self.size = len(self.categories) + 1

    def local_rows(self, labels):
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
        # the lookups are rebuilt on first use: a saved model holds only arrays
        return {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("_index", "_position")
        }


def _label_position(categories):
    return {label: i for i, label in enumerate(categories)}


def _hashable(value):
    """``value`` as a dict key; NaN-like and unhashable values never match."""
    try:
        hash(value)
    except TypeError:
        return None
    return None if _is_missing(value) else value


def _label_index(categories):
    """A hash lookup of ``categories``: a pandas Index, or a dict without pandas."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas ships with the tests
        return {label: i for i, label in enumerate(categories)}
    return pd.Index(categories, dtype=object)


def _sorted_labels(labels):
    distinct = {label for label in labels if not _is_missing(label)}
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
        return np.column_stack([_as_float(column) for column in columns])

    def local_rows(self, block):
        active = np.nan_to_num(block) != 0
        return np.where(active.any(axis=1), active.argmax(axis=1) + 1, UNKNOWN)


class _NumericColumn:
    """A real-valued column: one embedding row scaled by the standardised value."""

    kind = NUMERIC
    size = 1

    def __init__(self, values, name):
        _check_finite(values, name)
        self.mean = float(np.mean(values))
        std = float(np.std(values))
        self.scale = std if std > 0 else 1.0

    def prepare(self, column, name):
        values = _as_float(column)
        _check_finite(values, name)
        return values

    def scaled(self, values):
        return ((values - self.mean) / self.scale).astype(np.float32)


def _check_finite(values, name):
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"Input X contains NaN or infinity in numeric {name}. Impute or drop "
            "the missing values, or mark the column as categorical with "
            "categorical_features (missing categories go to an unknown embedding)."
        )


def _categorical_mask(categorical_features, n_columns, feature_names):
    """Bool mask of user-marked categorical columns, or None for 'auto'."""
    if isinstance(categorical_features, str):
        if categorical_features == "auto":
            return None
        return np.zeros(n_columns, dtype=bool)  # 'from_dtype': dtypes alone decide
    if categorical_features is None:
        return np.zeros(n_columns, dtype=bool)
    spec = np.asarray(categorical_features)
    if spec.ndim != 1:
        raise ValueError("categorical_features must be a 1-D array-like.")
    if spec.dtype.kind == "b":
        if spec.size != n_columns:
            raise ValueError(
                f"categorical_features as a boolean mask must have one entry per "
                f"column of X ({n_columns}), got {spec.size}."
            )
        return spec.copy()
    mask = np.zeros(n_columns, dtype=bool)
    if spec.dtype.kind in "iu":
        if spec.size and (spec.min() < -n_columns or spec.max() >= n_columns):
            raise ValueError(
                f"categorical_features indices must lie in [0, {n_columns}), got "
                f"{spec.tolist()}."
            )
        mask[spec] = True
        return mask
    if spec.dtype.kind in "OU":
        if feature_names is None:
            raise ValueError(
                "categorical_features given as column names needs X to be a "
                "DataFrame with string column names."
            )
        position = {name: j for j, name in enumerate(feature_names)}
        missing = [name for name in spec if name not in position]
        if missing:
            raise ValueError(
                f"categorical_features names {missing} are not columns of X."
            )
        mask[[position[name] for name in spec]] = True
        return mask
    raise ValueError(
        "categorical_features must be 'auto', 'from_dtype', None, a boolean mask, "
        f"integer indices or column names; got {categorical_features!r}."
    )


def _indicator_blocks(table, candidates):
    """Groups (lists of >= 2 column indices) of 0/1 columns that form one-hot
    blocks, by the sparse field rule applied to each contiguous run of
    ``candidates`` (a bool mask of 0/1 columns)."""
    blocks, j = [], 0
    while j < table.n_columns:
        if not candidates[j]:
            j += 1
            continue
        run = [j]
        while run[-1] + 1 < table.n_columns and candidates[run[-1] + 1]:
            run.append(run[-1] + 1)
        j = run[-1] + 1
        if len(run) < 2:
            continue
        dense = np.column_stack([_as_float(table.column(c)) for c in run])
        fields = infer_sparse_fields(sp.csr_matrix(dense.astype(np.float32)))
        for field in np.unique(fields):
            members = [run[i] for i in np.flatnonzero(fields == field)]
            if len(members) >= 2:
                blocks.append(members)
    return blocks


def _is_binary(column, kind):
    if kind == BOOLEAN:
        return True
    if kind != NUMBERS:
        return False
    values = _as_float(column)
    return bool(np.all((values == 0) | (values == 1)))


class FeatureEncoder:
    """Learns the embedding layout of the training input and encodes inputs.

    Parameters
    ----------
    fields : array-like of shape (n_features,) or None
        Field label of each column of a sparse (or numeric dense) matrix.
    categorical_features : 'auto', 'from_dtype', None, or array-like
        Which dense or DataFrame columns are categorical (see the estimators).

    Attributes
    ----------
    layout_ : InputLayout
        What ``fit`` decided, field by field.
    n_embeddings_ : int
        Rows of the shared embedding table.
    n_fields_ : int
    fields_ : ndarray of shape (n_features,)
        Field id of each input column.
    categorical_ : ndarray of shape (n_features,) of bool or None
        Which columns are categorical (None for sparse input).
    guesses_ : list of str
        The readings of 'auto' that may be wrong, one sentence each.
    """

    def __init__(self, fields=None, categorical_features="auto"):
        self.fields = fields
        self.categorical_features = categorical_features

    def fit(self, X, feature_names=None):
        self.guesses_ = []
        if sp.issparse(X) or self.fields is not None:
            self._fit_sparse(_as_csr(X), feature_names)
        else:
            self._fit_columns(_Table(X, feature_names))
        self.n_embeddings_ = self.layout_.n_embeddings
        self.n_fields_ = self.layout_.n_fields
        self.fields_ = self.layout_.column_fields
        self.categorical_ = self.layout_.is_categorical
        return self

    def transform(self, X, feature_names=None):
        if self.layout_.sparse:
            return self._transform_sparse(_as_csr(X))
        if sp.issparse(X):
            raise ValueError(
                "This model was fitted on dense columns (an array or a "
                "DataFrame) and got a sparse matrix. Pass the same kind of input "
                "as in fit, or refit on the sparse matrix."
            )
        return self._transform_columns(_Table(X, feature_names))

    # sparse ---------------------------------------------------------------
    def _fit_sparse(self, X, feature_names):
        if self.fields is None:
            column_fields = infer_sparse_fields(X)
        else:
            column_fields = check_fields(self.fields, X.shape[1])
        n_fields = int(column_fields.max()) + 1 if column_fields.size else 0
        layouts = []
        for field in range(n_fields):
            columns = tuple(int(c) for c in np.flatnonzero(column_fields == field))
            layouts.append(
                FieldLayout(
                    field=field,
                    columns=columns,
                    names=tuple(_name(feature_names, c) for c in columns),
                    kind=SPARSE,
                    offset=columns[0],
                    n_embeddings=len(columns),
                )
            )
        self.layout_ = InputLayout(tuple(layouts), X.shape[1], X.shape[1], True)
        self._columns = None

    def _transform_sparse(self, X):
        finite = np.isfinite(X.data)
        if not finite.all():
            column = int(X.indices[~finite][0])
            raise ValueError(
                f"Input X contains NaN or infinity in column {column}. Impute or "
                "drop the missing values before fitting or predicting."
            )
        n_rows, n_fields = X.shape[0], self.n_fields_
        if X.nnz == n_rows * n_fields and np.all(np.diff(X.indptr) == n_fields):
            fields = self.fields_[X.indices].reshape(n_rows, n_fields)
            if np.array_equal(
                fields, np.broadcast_to(np.arange(n_fields), fields.shape)
            ):
                indices = X.indices.astype(
                    index_dtype(self.n_embeddings_), copy=False
                ).reshape(n_rows, n_fields)
                values = X.data.reshape(n_rows, n_fields)
                return RegularRows(indices, None if np.all(values == 1) else values)
        return RaggedRows(X, self.fields_)

    # dense arrays and DataFrames -----------------------------------------
    def _fit_columns(self, table):
        marked = _categorical_mask(
            self.categorical_features, table.n_columns, table.feature_names
        )
        kinds = [
            _read_kind(table.column(j), table.describe(j))
            for j in range(table.n_columns)
        ]
        blocks = {}
        if isinstance(self.categorical_features, str):
            binary = [_is_binary(table.column(j), kinds[j]) for j in range(len(kinds))]
            blocks = {block[0]: block for block in _indicator_blocks(table, binary)}
        in_block = {j for block in blocks.values() for j in block}

        specs = []
        for j in range(table.n_columns):
            if j in in_block and j not in blocks:
                continue
            columns = blocks.get(j, [j])
            spec = self._fit_column(table, j, kinds[j], marked, columns)
            specs.append((columns, spec))
        self._columns = specs
        self._names = [table.name(j) for j in range(table.n_columns)]
        self._describe_columns()

    def _describe_columns(self):
        """Build ``layout_`` from the fitted columns (after fit or growth)."""
        layouts, offset = [], 0
        for field, (columns, spec) in enumerate(self._columns):
            layouts.append(
                FieldLayout(
                    field=field,
                    columns=tuple(columns),
                    names=tuple(self._names[c] for c in columns),
                    kind=spec.kind,
                    offset=offset,
                    n_embeddings=spec.size,
                    categories=getattr(spec, "categories", None),
                    mean=getattr(spec, "mean", None),
                    scale=getattr(spec, "scale", None),
                )
            )
            offset += spec.size
        self.layout_ = InputLayout(tuple(layouts), len(self._names), offset, False)
        self.n_embeddings_ = offset

    # growth ---------------------------------------------------------------
    def unseen_categories(self, X, feature_names=None):
        """Per field, the categories of ``X`` that have no embedding row yet
        (an empty list for fields that cannot grow: numeric, indicator and
        sparse fields)."""
        if self.layout_.sparse:
            return [[] for _ in self.layout_.fields]
        table = _Table(X, feature_names)
        found = []
        for columns, spec in self._columns:
            if not hasattr(spec, "unseen"):
                found.append([])
                continue
            name = table.describe(columns[0])
            found.append(
                spec.unseen(spec.prepare(table.column(columns[0]), name), name)
            )
        return found

    def extend(self, categories):
        """Give new categories their own embedding rows.

        Parameters
        ----------
        categories : list with one sequence of unseen categories per field
            As :meth:`unseen_categories` returns them.

        Returns
        -------
        new_rows : ndarray of shape (n_embeddings before,) or None
            The embedding row each old row moves to (None when nothing was
            added): a field's rows stay contiguous, so later fields move.
        """
        if not any(len(new) for new in categories):
            return None
        old = [(field.offset, field.n_embeddings) for field in self.layout_.fields]
        for (_, spec), new in zip(self._columns, categories, strict=True):
            if len(new):
                spec.extend(new)
        self._describe_columns()
        new_rows = np.empty(sum(size for _, size in old), dtype=np.int64)
        for (start, size), field in zip(old, self.layout_.fields, strict=True):
            new_rows[start : start + size] = field.offset + np.arange(size)
        self.n_fields_ = self.layout_.n_fields
        return new_rows

    def _fit_column(self, table, j, kind, marked, columns):
        name = table.describe(j)
        column = table.column(j)
        if len(columns) > 1:
            return _IndicatorBlock([table.name(c) for c in columns])
        if kind == LABELS:
            return _LabelColumn(_as_labels(column), name)
        values = _as_float(column)
        if kind == BOOLEAN:
            return _CategoricalColumn(values, name)
        if marked is not None:
            if marked[j]:
                return _CategoricalColumn(values, name)
            return _NumericColumn(values, name)
        _check_no_infinity(values, name)
        codes, n_negative = _integer_codes(values)
        if not codes:
            if n_negative > 1:
                self.guesses_.append(
                    f"{name} holds integers with {n_negative} distinct negative "
                    "values and was read as numeric; if these are category codes, "
                    "list it in categorical_features."
                )
            return _NumericColumn(values, name)
        spec = _CategoricalColumn(values, name)
        n_categories = spec.size - 1
        if n_categories >= max(
            HIGH_CARDINALITY_MIN, HIGH_CARDINALITY_SHARE * table.n_rows
        ):
            self.guesses_.append(
                f"{name} holds {n_categories:,} distinct integers in "
                f"{table.n_rows:,} rows and was read as categorical (most "
                "categories are rare); if it is a quantity, set "
                "categorical_features to read it as numeric."
            )
        return spec

    def warn_guesses(self, estimator_name):
        """One warning listing every reading of 'auto' that may be wrong."""
        if self.guesses_:
            warnings.warn(
                f"{estimator_name} read the input with categorical_features='auto'"
                "; check these guesses (input_layout_ shows every field):\n- "
                + "\n- ".join(self.guesses_),
                UserWarning,
                stacklevel=4,
            )

    def _transform_columns(self, table):
        if table.n_columns != self.layout_.n_features_in:
            raise ValueError(
                f"X has {table.n_columns} columns, but the model was fitted on "
                f"{self.layout_.n_features_in}."
            )
        n_rows = table.n_rows
        indices = np.empty(
            (n_rows, self.n_fields_), dtype=index_dtype(self.n_embeddings_)
        )
        values = None
        if not all(spec.kind != NUMERIC for _, spec in self._columns):
            values = np.ones((n_rows, self.n_fields_), dtype=np.float32)
        prepared = []
        for field, (columns, spec) in enumerate(self._columns):
            name = table.describe(columns[0])
            if isinstance(spec, _IndicatorBlock):
                source = spec.prepare([table.column(c) for c in columns], name)
            elif table.kind == "array" and not isinstance(spec, _LabelColumn):
                source = table.column(columns[0])  # sliced per row block below
            else:
                source = spec.prepare(table.column(columns[0]), name)
            prepared.append((field, name, spec, source, table.kind == "array"))
        offsets = [layout.offset for layout in self.layout_.fields]
        # Row blocks outer, columns inner: a block of X and of the output stay
        # in cache, where whole strided columns would not.
        for start in range(0, n_rows, ROW_BLOCK):
            rows = slice(start, start + ROW_BLOCK)
            for field, name, spec, source, raw in prepared:
                block = source[rows]
                if raw and not isinstance(spec, (_IndicatorBlock, _LabelColumn)):
                    block = spec.prepare(block, name)
                if isinstance(spec, _NumericColumn):
                    indices[rows, field] = offsets[field]
                    values[rows, field] = spec.scaled(block)
                else:
                    indices[rows, field] = offsets[field] + spec.local_rows(block)
        return RegularRows(indices, values)

    # what explanations show --------------------------------------------
    def field_values(self, X, feature_names=None):
        """Each field's value in each row of ``X``, an object array ``(n_rows,
        n_fields)``: a column's label or number as in ``X``; for an indicator
        block or a field of several sparse columns, the name of the active
        column (several joined by ``", "``; None when none is set); for a
        field of one sparse column, its value."""
        n_fields = self.layout_.n_fields
        if self.layout_.sparse:
            return self._sparse_field_values(_as_csr(X))
        table = _Table(X, feature_names)
        data = np.empty((table.n_rows, n_fields), dtype=object)
        for field, (columns, spec) in enumerate(self._columns):
            if isinstance(spec, _IndicatorBlock):
                block = spec.prepare([table.column(c) for c in columns], "")
                names = np.append(None, spec.categories).astype(object)
                data[:, field] = names[spec.local_rows(block)]
            elif isinstance(spec, _NumericColumn):
                data[:, field] = _as_float(table.column(columns[0]))
            else:
                data[:, field] = _as_labels(table.column(columns[0]))
        return data

    def _sparse_field_values(self, X):
        fields = self.layout_.fields
        data = np.empty((X.shape[0], len(fields)), dtype=object)
        for layout in fields:
            if len(layout.columns) == 1:
                column = X[:, layout.columns[0]].toarray().ravel()
                data[:, layout.field] = column.astype(np.float64)
                continue
            block = X[:, list(layout.columns)].tocsr()
            block.eliminate_zeros()
            block.sort_indices()
            names = np.asarray(layout.names, dtype=object)
            counts = np.diff(block.indptr)
            one = np.flatnonzero(counts == 1)
            data[one, layout.field] = names[block.indices[block.indptr[one]]]
            for row in np.flatnonzero(counts > 1):
                active = block.indices[block.indptr[row] : block.indptr[row + 1]]
                data[row, layout.field] = ", ".join(names[active])
        return data

    # several processes (merged by sklearn_deepfm._distributed) ------------
    def field_summaries(self, X, feature_names=None):
        """What ``fit`` read from ``X``, per field, as small picklable dicts:
        the field's ``columns`` and ``kind``; for a categorical field its
        ``categories``, whether they are ``labels`` (else codes) and the
        distinct ``negatives`` among its codes; for a
        numeric field its ``moments`` (rows, mean, sum of squared
        deviations).  Dense input only."""
        table = _Table(X, feature_names)
        summaries = []
        for columns, spec in self._columns:
            summary = {"columns": tuple(columns), "kind": spec.kind}
            if isinstance(spec, (_CategoricalColumn, _LabelColumn)):
                summary["categories"] = spec.categories
                summary["labels"] = isinstance(spec, _LabelColumn)
            if isinstance(spec, (_CategoricalColumn, _NumericColumn)):
                values = _as_float(table.column(columns[0]))
            if isinstance(spec, _CategoricalColumn):
                summary["negatives"] = np.unique(values[values < 0])
            if isinstance(spec, _NumericColumn):
                squares = float(np.sum((values - spec.mean) ** 2))
                summary["moments"] = (values.size, spec.mean, squares)
            summaries.append(summary)
        return summaries

    def set_fields(self, categories, scaling):
        """Replace what ``fit`` learnt field by field: ``categories[f]`` (any
        order, sorted here as ``fit`` sorts them) for categorical fields,
        ``scaling[f] = (mean, scale)`` for numeric fields (None elsewhere)."""
        for (_, spec), known, numeric in zip(
            self._columns, categories, scaling, strict=True
        ):
            if isinstance(spec, _CategoricalColumn):
                spec.categories = spec.categories[:0]
                spec.extend(np.unique(np.asarray(known, dtype=np.float64)))
            elif isinstance(spec, _LabelColumn):
                spec.categories = spec.categories[:0]
                spec.extend(_sorted_labels(known))
            elif isinstance(spec, _NumericColumn):
                spec.mean, spec.scale = numeric
        self._describe_columns()


def _name(feature_names, j):
    return f"x{j}" if feature_names is None else str(feature_names[j])


def _as_csr(X):
    """Canonical float32 CSR (sorted, no duplicates) without touching ``X``."""
    X = sp.csr_matrix(X) if not sp.issparse(X) else X.tocsr()
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X
