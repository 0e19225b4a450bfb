"""Sparse matrices: every column owns one embedding row, scaled by its value.

Columns are grouped into fields by :mod:`~sklearn_deepfm._fields` (or by the
user's ``fields``); column ``c`` is embedding row ``c``.  Sparse input is
never densified: rows with exactly one stored value per field become
:class:`~sklearn_deepfm._batching.RegularRows`, any other rows
:class:`~sklearn_deepfm._batching.BaggedRows` over the matrix itself, each
field pooled into one vector.

A field given with ``fields`` whose columns hold only 0/1 and which has
several columns set in some training row (a ``MultiLabelBinarizer`` or
``CountVectorizer(binary=True)`` block) is *multi-valued*, read as a column
of lists is (see :mod:`~sklearn_deepfm._multivalued`): it also owns an
unknown row (unused here: a matrix has no unseen columns) and an empty-list
row, and its values are pooled by ``pooling``.  The fields then own
contiguous embedding rows in field order, and column ``c`` is mapped to its
row.
"""

import numpy as np
import scipy.sparse as sp

from ._batching import BaggedRows, RegularRows
from ._caller import warn
from ._columns import index_dtype
from ._fields import check_fields, infer_sparse_fields
from ._layout import MULTIVALUED, SPARSE, FieldLayout, InputLayout


def multivalued_evidence(X, column_fields):
    """Per field of a canonical CSR matrix: whether its stored values are
    all 0 or 1, and whether some row has several of its columns set.

    Several blocks of rows combine by logical and (first) and or (second).
    """
    n_fields = int(column_fields.max()) + 1 if column_fields.size else 0
    fields = column_fields[X.indices]
    binary = np.ones(n_fields, dtype=bool)
    binary[fields[(X.data != 0) & (X.data != 1)]] = False
    active = X.data != 0
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[active]
    pairs, counts = _pair_counts(rows, fields[active], X.shape[0], n_fields)
    several = np.zeros(n_fields, dtype=bool)
    several[pairs[counts > 1] % max(n_fields, 1)] = True
    return binary, several


def _multivalued_fields(evidence, column_fields, n_fields):
    """Which declared fields are multi-valued, from their
    :func:`multivalued_evidence`: fields of several 0/1 columns some row
    sets more than one of."""
    binary, several = evidence
    sizes = np.bincount(column_fields, minlength=n_fields)
    return binary & several & (sizes > 1)


def _pair_counts(rows, fields, n_rows, n_fields):
    """The (row, field) pairs of entries, as ``row * n_fields + field``, and
    how many entries each has: counted over every pair where that takes no
    more memory than the entries (a count per row and field grew with rows
    x fields: 642 MiB for 100,000 rows of 801 declared fields), else sorted."""
    keys = rows * n_fields + fields
    if n_rows * n_fields <= 4 * keys.size + 1024:
        counts = np.bincount(keys, minlength=n_rows * n_fields)
        pairs = np.flatnonzero(counts)
        return pairs, counts[pairs]
    return np.unique(keys, return_counts=True)


class SparseFields:
    """The fields of a sparse matrix and how its rows are encoded.

    Parameters
    ----------
    X : canonical CSR matrix
        The training matrix.
    fields : array-like or None
        The user's field labels; None infers them.
    feature_names : array-like or None
    pooling : {'mean', 'sum'}
        How multi-valued fields pool their values.
    evidence : tuple or None
        :func:`multivalued_evidence` of all the training rows (of every
        process); None reads it from ``X``.
    """

    def __init__(self, X, fields, feature_names, pooling, evidence=None):
        if fields is None:
            column_fields = infer_sparse_fields(X)
        else:
            column_fields = check_fields(fields, X.shape[1])
        self.column_fields = column_fields
        self.pooling = pooling
        n_fields = int(column_fields.max()) + 1 if column_fields.size else 0
        multivalued = np.zeros(n_fields, dtype=bool)
        self.declared = fields is not None
        if fields is not None:
            evidence = evidence or multivalued_evidence(X, column_fields)
            multivalued = _multivalued_fields(evidence, column_fields, n_fields)
        self.multivalued = multivalued
        self.row_of_column = None  # column c is row c
        layouts, offset = [], 0
        if multivalued.any():
            self.row_of_column = np.empty(X.shape[1], dtype=np.int64)
        # each field's columns in column order, from one stable sort: a test
        # of every column per field took fields x columns (a TF-IDF block of
        # 100,000 columns, each its own field, 10**10)
        order = np.argsort(column_fields, kind="stable")
        bounds = np.searchsorted(column_fields[order], np.arange(n_fields + 1))
        for field in range(n_fields):
            columns = tuple(order[bounds[field] : bounds[field + 1]].tolist())
            names = tuple(_name(feature_names, c) for c in columns)
            extra = 2 if multivalued[field] else 0
            if self.row_of_column is None:
                offset = columns[0]
            else:
                self.row_of_column[list(columns)] = (
                    offset + extra + np.arange(len(columns))
                )
            layouts.append(
                FieldLayout(
                    field=field,
                    columns=columns,
                    names=names,
                    kind=MULTIVALUED if multivalued[field] else SPARSE,
                    offset=offset,
                    n_embeddings=len(columns) + extra,
                    categories=_object_array(names) if extra else None,
                    pooling=pooling if extra else None,
                )
            )
            offset += len(columns) + extra
        n_embeddings = X.shape[1] if self.row_of_column is None else offset
        self.layout = InputLayout(tuple(layouts), X.shape[1], n_embeddings, True)
        self.row_fields = np.repeat(
            np.arange(n_fields), [f.n_embeddings for f in layouts]
        )
        if self.row_of_column is None:
            self.row_fields = column_fields
        # user fields may interleave columns: a row's entries are then
        # reordered field by field, as a bag's entries must be contiguous
        self._in_column_order = bool(np.all(np.diff(column_fields) >= 0))

    @classmethod
    def of_layout(cls, layout):
        """The reading of a sparse ``layout`` without multi-valued fields
        (what an encoder saved before they existed learnt)."""
        fields = cls.__new__(cls)
        fields.layout = layout
        fields.column_fields = fields.row_fields = layout.column_fields
        fields.multivalued = np.zeros(layout.n_fields, dtype=bool)
        fields.row_of_column = None
        fields.pooling = None
        fields._in_column_order = bool(np.all(np.diff(fields.column_fields) >= 0))
        return fields

    def warn_of_several(self, X):
        """Warn where rows of ``X`` (a later ``partial_fit`` call's canonical
        CSR matrix) set several 0/1 columns of a declared field that the
        first call read as one value per row."""
        if not getattr(self, "declared", False):
            return
        evidence = multivalued_evidence(X, self.column_fields)
        found = _multivalued_fields(evidence, self.column_fields, self.multivalued.size)
        late = np.flatnonzero(found & ~self.multivalued)
        if late.size:
            first = self.layout.fields[late[0]]
            warn(
                f"Rows of this call set several columns of the field of "
                f"{first.names[0]} ({len(late)} field(s) in all), which fit "
                "or the first call of partial_fit read as one value per row: "
                "no row of theirs set two. Their values add up, not pooled by "
                "pooling, and a row with none set has no empty-list row of its "
                "own. To read such a field as multi-valued, fit (or begin the "
                "stream) with rows that set several of its columns.",
            )

    def encode(self, X):
        """Rows of a canonical CSR matrix ``X`` for the model."""
        finite = np.isfinite(X.data)
        if not finite.all():
            column = int(X.indices[~finite][0])
            raise ValueError(
                f"Input X contains NaN or infinity in column {column}. Impute or "
                "drop the missing values before fitting or predicting."
            )
        n_rows, n_fields = X.shape[0], self.layout.n_fields
        n_embeddings = self.layout.n_embeddings
        no_slots = np.empty((n_rows, 0), dtype=index_dtype(n_embeddings))
        if self.row_of_column is None:
            if X.nnz == n_rows * n_fields and np.all(np.diff(X.indptr) == n_fields):
                fields = self.column_fields[X.indices].reshape(n_rows, n_fields)
                in_order = np.broadcast_to(np.arange(n_fields), fields.shape)
                if np.array_equal(fields, in_order):
                    indices = X.indices.astype(
                        index_dtype(n_embeddings), copy=False
                    ).reshape(n_rows, n_fields)
                    values = X.data.reshape(n_rows, n_fields)
                    if np.all(values == 1):
                        values = None
                    return RegularRows(indices, values)
            if not self._in_column_order:
                X = _grouped_by_field(X, self.column_fields)
            return BaggedRows(no_slots, None, X, self.row_fields)
        return BaggedRows(no_slots, None, self._bags(X), self.row_fields)

    def _bags(self, X):
        """``X`` with columns mapped to their rows, a multi-valued field's
        values weighted for its pooling, and its empty bags given the
        empty-list row."""
        n_rows, n_fields = X.shape[0], self.layout.n_fields
        active = X.data != 0
        rows = np.repeat(np.arange(n_rows), np.diff(X.indptr))[active]
        columns, data = X.indices[active], X.data[active]
        fields = self.column_fields[columns]
        multi = self.multivalued[fields]
        if self.pooling == "mean":
            pairs, counts = _pair_counts(rows, fields, n_rows, n_fields)
            entry_counts = counts[np.searchsorted(pairs, rows * n_fields + fields)]
            data = np.where(multi, data / entry_counts, data).astype(np.float32)
        # the rows with no entry in a multi-valued field (few such fields: a
        # row and field of every field took rows x fields)
        multivalued = np.flatnonzero(self.multivalued)
        slot = np.full(n_fields, -1)
        slot[multivalued] = np.arange(multivalued.size)
        held = np.zeros((n_rows, multivalued.size), dtype=bool)
        held[rows[multi], slot[fields[multi]]] = True
        empty_rows, empty_slots = np.nonzero(~held)
        empty_fields = multivalued[empty_slots]
        offsets = np.array([field.offset for field in self.layout.fields])
        bags = sp.csr_matrix(
            (
                np.concatenate([data, np.ones(empty_rows.size, dtype=np.float32)]),
                (
                    np.concatenate([rows, empty_rows]),
                    np.concatenate(
                        [self.row_of_column[columns], offsets[empty_fields] + 1]
                    ),
                ),
            ),
            shape=(n_rows, self.layout.n_embeddings),
            dtype=np.float32,
        )
        bags.sum_duplicates()
        return bags


def _grouped_by_field(X, column_fields):
    """``X`` with each row's entries ordered by field (stably)."""
    n_fields = int(column_fields.max()) + 1
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    order = np.argsort(rows * n_fields + column_fields[X.indices], kind="stable")
    return sp.csr_matrix((X.data[order], X.indices[order], X.indptr), shape=X.shape)


def _object_array(values):
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def _name(feature_names, j):
    return f"x{j}" if feature_names is None else str(feature_names[j])


def _frame_numbers(frame):
    """A pandas DataFrame of numbers and booleans as a float32 array, missing
    values as NaN: NumPy made nullable, Arrow and bool-beside-float frames
    objects, which scipy refused ("does not support dtype object"). Other
    columns (strings) are a TypeError, not parsed."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    def numbers(dtype):
        return is_numeric_dtype(dtype) or is_bool_dtype(dtype)

    for dtype in frame.dtypes:
        categories = getattr(dtype, "categories", None)  # (codes held as such)
        if not (numbers(dtype) or categories is not None and numbers(categories.dtype)):
            raise TypeError(f"a column of the type {dtype} holds no numbers")
    return frame.to_numpy(dtype=np.float32, na_value=np.nan)


def _as_csr(X):
    """Canonical float32 CSR (sorted, no duplicates, no stored zeros)
    without touching ``X``: a stored 0 is a zero, as scipy reads it (counted
    as an entry, it made a one-hot field's category and its crosses)."""
    if type(X).__module__.split(".")[0] == "pandas":
        X = _frame_numbers(X)
    X = sp.csr_matrix(X) if not sp.issparse(X) else X.tocsr()
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    if not X.has_canonical_format or not X.data.all():
        X = X.copy()
        X.sum_duplicates()
        X.eliminate_zeros()
    return X
