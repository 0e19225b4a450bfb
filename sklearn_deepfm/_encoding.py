"""Turning user input into embedding rows and values.

:class:`FeatureEncoder` learns, at ``fit``, which embedding rows each input
column owns, and turns any later input into
:class:`~sklearn_deepfm._batching.RegularRows` (one slot per field) or
:class:`~sklearn_deepfm._batching.RaggedRows` (any number of slots).

* Dense arrays and DataFrames: every column is a field.  A categorical
  column owns one embedding row per category seen in ``fit`` plus one
  *unknown* row that receives categories never seen, negative codes and
  missing values.  A numeric column owns one row, scaled by the column's
  standardised value.
* Sparse matrices: every column owns one embedding row, scaled by the
  stored value; columns are grouped into fields by
  :mod:`~sklearn_deepfm._fields`.  Sparse input is never densified.
"""

import numpy as np
import scipy.sparse as sp

from ._batching import RaggedRows, RegularRows
from ._fields import check_fields, infer_sparse_fields

UNKNOWN = 0  # local row of the unknown category within a categorical field

# A categorical column whose largest code is below
# max(LOOKUP_TABLE_MIN_SIZE, LOOKUP_TABLE_RATIO * n_categories) maps codes to
# rows through a table indexed by code; other columns use a binary search.
LOOKUP_TABLE_MIN_SIZE = 1 << 16
LOOKUP_TABLE_RATIO = 4

# Rows of a dense input encoded together.
ROW_BLOCK = 4096


def index_dtype(n_embeddings):
    """Smallest integer dtype (int32 or int64) that numbers every embedding row:
    encoded rows take half the memory when int32 suffices."""
    return np.int32 if n_embeddings <= np.iinfo(np.int32).max else np.int64


def is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "iloc") and hasattr(X, "dtypes")


def _is_numeric_dtype(dtype):
    return getattr(dtype, "kind", "O") in "iuf" and str(dtype) != "category"


def _column_name(feature_names, j):
    if feature_names is None:
        return f"column {j}"
    return f"column {j} ({feature_names[j]!r})"


def _looks_label_encoded(column):
    finite = column[np.isfinite(column)]
    return bool(np.all(finite >= 0) and np.all(finite == np.round(finite)))


class _CategoricalColumn:
    """Integer codes (any numeric dtype) mapped to local rows; negatives unknown."""

    def __init__(self, values, name):
        known = values[np.isfinite(values) & (values >= 0)]
        if np.any(known != np.round(known)):
            raise ValueError(
                f"Categorical {name} holds non-integer values such as "
                f"{known[known != np.round(known)][0]!r}. Label-encode it (for "
                "example with OrdinalEncoder) or pass a pandas DataFrame."
            )
        self.categories = np.unique(known)
        self.size = self.categories.size + 1
        # Codes up to a few times the number of categories (label-encoded data)
        # are looked up in a table, which is much faster than a binary search.
        self._table = None
        if self.categories.size and self.categories[-1] < max(
            LOOKUP_TABLE_MIN_SIZE, LOOKUP_TABLE_RATIO * self.categories.size
        ):
            self._table = np.zeros(
                int(self.categories[-1]) + 1, dtype=index_dtype(self.size)
            )
            self._table[self.categories.astype(np.int64)] = np.arange(
                1, self.categories.size + 1
            )

    def local_rows(self, values, name):
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
        position = np.searchsorted(self.categories, values)
        position = np.minimum(position, self.categories.size - 1)
        found = self.categories[position] == values
        return np.where(found, position + 1, UNKNOWN)


class _LabelColumn:
    """Any hashable labels (a non-numeric DataFrame column) mapped to local rows."""

    def __init__(self, series, name):
        import pandas as pd

        labels = pd.unique(series.dropna())
        try:
            labels = sorted(labels)
        except TypeError:
            labels = list(labels)
        self.categories = pd.Index(labels, dtype=object)
        self.size = len(self.categories) + 1

    def local_rows(self, series, name):
        codes = self.categories.get_indexer(series.astype(object))
        return codes.astype(np.int64) + 1


class _NumericColumn:
    """A real-valued column: one embedding row scaled by the standardised value."""

    size = 1

    def __init__(self, values, name):
        _check_finite(values, name)
        self.mean = float(np.mean(values))
        std = float(np.std(values))
        self.scale = std if std > 0 else 1.0

    def scaled(self, values, name):
        _check_finite(values, name)
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
                "pandas DataFrame with string column names."
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
    n_embeddings_ : int
        Rows of the shared embedding table.
    n_fields_ : int
    fields_ : ndarray of shape (n_features,)
        Field id of each input column.
    categorical_ : ndarray of shape (n_features,) of bool or None
        Which columns are categorical (None for sparse input).
    """

    def __init__(self, fields=None, categorical_features="auto"):
        self.fields = fields
        self.categorical_features = categorical_features

    def fit(self, X, feature_names=None):
        if sp.issparse(X) or self.fields is not None:
            self._fit_sparse(_as_csr(X))
        else:
            self._fit_columns(X, feature_names)
        return self

    def transform(self, X, feature_names=None):
        if self.columns_ is None:
            return self._transform_sparse(_as_csr(X))
        return self._transform_columns(X, feature_names)

    # sparse ---------------------------------------------------------------
    def _fit_sparse(self, X):
        if self.fields is None:
            self.fields_ = infer_sparse_fields(X)
        else:
            self.fields_ = check_fields(self.fields, X.shape[1])
        self.n_fields_ = int(self.fields_.max()) + 1
        self.n_embeddings_ = X.shape[1]
        self.categorical_ = None
        self.columns_ = None

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
    def _fit_columns(self, X, feature_names):
        frame = is_dataframe(X)
        n_columns = X.shape[1]
        marked = _categorical_mask(self.categorical_features, n_columns, feature_names)
        self.columns_ = []
        for j in range(n_columns):
            name = _column_name(feature_names, j)
            column = X.iloc[:, j] if frame else X[:, j]
            if not _is_numeric_dtype(column.dtype) and column.dtype.kind != "b":
                self.columns_.append(_LabelColumn(column, name))
                continue
            values = _as_float(column)
            categorical = _looks_label_encoded(values) if marked is None else marked[j]
            if categorical or column.dtype.kind == "b":
                self.columns_.append(_CategoricalColumn(values, name))
            else:
                self.columns_.append(_NumericColumn(values, name))
        sizes = np.array([column.size for column in self.columns_], dtype=np.int64)
        self.offsets_ = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.n_embeddings_ = int(sizes.sum())
        self.n_fields_ = n_columns
        self.fields_ = np.arange(n_columns)
        self.categorical_ = np.array(
            [not isinstance(column, _NumericColumn) for column in self.columns_]
        )

    def _transform_columns(self, X, feature_names):
        frame = is_dataframe(X)
        n_rows = X.shape[0]
        indices = np.empty(
            (n_rows, self.n_fields_), dtype=index_dtype(self.n_embeddings_)
        )
        values = None
        if not self.categorical_.all():
            values = np.ones((n_rows, self.n_fields_), dtype=np.float32)
        blocked = []
        for j, spec in enumerate(self.columns_):
            name = _column_name(feature_names, j)
            column = X.iloc[:, j] if frame else X[:, j]
            if isinstance(spec, _LabelColumn):
                indices[:, j] = self.offsets_[j] + spec.local_rows(column, name)
            elif frame:
                numeric = isinstance(spec, _NumericColumn)
                blocked.append(
                    (j, name, spec, _as_float(column) if numeric else _as_codes(column))
                )
            else:
                blocked.append((j, name, spec, column))
        # Row blocks outer, columns inner: a block of X and of the output stay
        # in cache, where whole strided columns would not.
        for start in range(0, n_rows, ROW_BLOCK):
            rows = slice(start, start + ROW_BLOCK)
            for j, name, spec, column in blocked:
                if isinstance(spec, _NumericColumn):
                    indices[rows, j] = self.offsets_[j]
                    values[rows, j] = spec.scaled(_as_float(column[rows]), name)
                else:
                    local = spec.local_rows(_as_codes(column[rows]), name)
                    indices[rows, j] = self.offsets_[j] + local
        return RegularRows(indices, values)


def _as_codes(column):
    """A categorical column as given when it holds plain integers (no float
    conversion needed), else as float64 with missing values as NaN."""
    dtype = getattr(column, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return np.ascontiguousarray(column)
    return _as_float(column)


def _as_float(column):
    """A column (ndarray or Series) as float64, pandas NA as NaN."""
    if hasattr(column, "to_numpy"):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(column, dtype=np.float64)


def _as_csr(X):
    """Canonical float32 CSR (sorted, no duplicates) without touching ``X``."""
    X = sp.csr_matrix(X) if not sp.issparse(X) else X.tocsr()
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X
