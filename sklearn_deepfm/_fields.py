"""Which field each column of a sparse matrix belongs to.

The deep part of DeepFM sees one embedding per *field* (an original input
column such as "country"), while a one-hot matrix has one column per
*category*.  :func:`infer_sparse_fields` recovers the fields from the matrix
itself; :func:`check_fields` validates fields given by the user.

The inference rule, applied to the training matrix:

1. A column holding any stored value other than 0 or 1 is numeric and is a
   field of its own.
2. The remaining (binary) columns are read left to right and grouped into
   maximal runs of contiguous columns in which no row has more than one
   active column.  Each run is one field.

On the output of ``OneHotEncoder`` (with or without ``handle_unknown``,
inside a ``ColumnTransformer`` or not) every original column's block has
exactly one active column per row, while the first column of the next block
is active together with one of the current block's in some row, so each
block becomes one field.  Multi-hot columns (several active per row, e.g.
``DictVectorizer`` or ``CountVectorizer`` output) split into smaller runs;
pass ``fields=`` to group them as you wish.
"""

import numpy as np


def infer_sparse_fields(X):
    """Field id per column of a canonical CSR matrix, ids in column order.

    Parameters
    ----------
    X : scipy.sparse CSR matrix or array with sorted indices and no duplicates

    Returns
    -------
    fields : ndarray of shape (n_columns,), dtype int64
    """
    return fields_from_evidence(*field_evidence(X))


def field_evidence(X):
    """What the rule reads from a canonical CSR matrix, column by column.

    Returns
    -------
    numeric : ndarray of shape (n_columns,), bool
        Whether the column holds a stored value other than 0 or 1.
    previous_active : ndarray of shape (n_columns,), int64
        The largest column active before it in one row (-1 if none).

    The evidence of several blocks of rows combines into that of all rows
    by logical or (``numeric``) and maximum (``previous_active``).
    """
    n_columns = X.shape[1]
    numeric = np.zeros(n_columns, dtype=bool)
    numeric[X.indices[(X.data != 0) & (X.data != 1)]] = True

    # For every active entry, the row's previous active column; the largest
    # one per column tells how far back a block containing it may start.
    active = X.data != 0
    columns = X.indices[active].astype(np.int64)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[active]
    same_row = rows[1:] == rows[:-1]
    previous_active = np.full(n_columns, -1, dtype=np.int64)
    np.maximum.at(previous_active, columns[1:][same_row], columns[:-1][same_row])
    return numeric, previous_active


def fields_from_evidence(numeric, previous_active):
    """Field id per column from :func:`field_evidence`."""
    n_columns = numeric.size
    fields = np.empty(n_columns, dtype=np.int64)
    field, start = -1, 0
    numeric_list = numeric.tolist()
    previous_list = previous_active.tolist()
    for column in range(n_columns):
        is_numeric = numeric_list[column]
        if (
            column == 0
            or is_numeric
            or numeric_list[column - 1]
            or previous_list[column] >= start
        ):
            field += 1
            start = column
        fields[column] = field
    return fields


def check_fields(fields, n_columns):
    """Validate user-given fields; return them relabelled to ``0..n_fields-1``.

    Parameters
    ----------
    fields : array-like of shape (n_columns,)
        Any hashable label per column; columns sharing a label form a field.
    n_columns : int

    Returns
    -------
    fields : ndarray of shape (n_columns,), dtype int64
        Field ids numbered in order of first appearance.
    """
    # labels as given, one per column, never through an array: np.asarray
    # made tuples a second dimension, merged 0 and "0" into strings, and its
    # sort refused None or a mix of numbers and strings
    if isinstance(fields, np.ndarray) and fields.ndim != 1:
        raise ValueError(
            f"fields must give one field label per column of X: expected "
            f"{n_columns} labels, got an array of shape {fields.shape}."
        )
    labels = list(fields)
    if len(labels) != n_columns:
        raise ValueError(
            f"fields must give one field label per column of X: expected "
            f"{n_columns} labels, got {len(labels)}."
        )
    ids = {}
    try:
        # every NaN one label, as pandas and scikit-learn's encoders key it:
        # NaN objects that are not the same object are unequal, and made a
        # field each where np.array([np.nan] * 4) labelled four columns
        numbered = [ids.setdefault(_key(label), len(ids)) for label in labels]
    except TypeError as exc:
        raise TypeError(
            f"fields must hold hashable labels (strings, numbers, tuples, ...): {exc}."
        ) from exc
    return np.array(numbered, dtype=np.int64)


class _NaN:
    """The one key of every NaN field label."""


def _key(label):
    if isinstance(label, (float, np.floating)) and np.isnan(label):
        return _NaN
    return label
