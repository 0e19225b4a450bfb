"""Sparse matrices: every column owns one embedding row, scaled by its value.

Columns are grouped into fields by :mod:`~sklearn_deepfm._fields` (or by the
user's ``fields``); column ``c`` is embedding row ``c``.  Sparse input is
never densified: rows with exactly one stored value per field become
:class:`~sklearn_deepfm._batching.RegularRows`, any other rows
:class:`~sklearn_deepfm._batching.RaggedRows` over the matrix itself.
"""

import numpy as np
import scipy.sparse as sp

from ._batching import RaggedRows, RegularRows
from ._columns import index_dtype
from ._fields import check_fields, infer_sparse_fields
from ._layout import SPARSE, FieldLayout, InputLayout


def sparse_layout(X, fields, feature_names):
    """The :class:`InputLayout` of a canonical CSR matrix ``X``: fields
    inferred, or the user's ``fields`` checked."""
    if fields is None:
        column_fields = infer_sparse_fields(X)
    else:
        column_fields = check_fields(fields, X.shape[1])
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
    return InputLayout(tuple(layouts), X.shape[1], X.shape[1], True)


def encode_sparse(X, column_fields, n_embeddings):
    """Rows of a canonical CSR matrix ``X`` for the model; ``column_fields``
    is the field id of each column."""
    finite = np.isfinite(X.data)
    if not finite.all():
        column = int(X.indices[~finite][0])
        raise ValueError(
            f"Input X contains NaN or infinity in column {column}. Impute or "
            "drop the missing values before fitting or predicting."
        )
    n_rows = X.shape[0]
    n_fields = int(column_fields.max()) + 1 if column_fields.size else 0
    if X.nnz == n_rows * n_fields and np.all(np.diff(X.indptr) == n_fields):
        fields = column_fields[X.indices].reshape(n_rows, n_fields)
        if np.array_equal(fields, np.broadcast_to(np.arange(n_fields), fields.shape)):
            indices = X.indices.astype(index_dtype(n_embeddings), copy=False).reshape(
                n_rows, n_fields
            )
            values = X.data.reshape(n_rows, n_fields)
            return RegularRows(indices, None if np.all(values == 1) else values)
    return RaggedRows(X, column_fields)


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
