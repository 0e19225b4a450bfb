"""Turning user input into embedding rows and values, by one rule for every
container.

:class:`FeatureEncoder` learns, at ``fit``, which embedding rows each input
column owns, and turns any later input into
:class:`~sklearn_deepfm._batching.RegularRows` (one slot per field) or
:class:`~sklearn_deepfm._batching.BaggedRows` (some fields, or all, holding
any number of values).  What it learnt is described by
:class:`~sklearn_deepfm._layout.InputLayout`.

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
    from them first;
  - a column whose cells are lists (tuples, arrays, polars or pyarrow
    lists) is one multi-valued field.

This module coordinates; each kind of column lives in its own module:
:mod:`~sklearn_deepfm._columns` reads a column of any dense container,
:mod:`~sklearn_deepfm._categorical` holds categorical columns and one-hot
blocks, :mod:`~sklearn_deepfm._numeric` numeric columns,
:mod:`~sklearn_deepfm._multivalued` columns of lists and
:mod:`~sklearn_deepfm._sparse` sparse matrices.
"""

import contextlib
import copy
import numbers

import numpy as np
import scipy.sparse as sp

from ._batching import BaggedRows, RegularRows
from ._caller import warn
from ._categorical import (
    _CategoricalColumn,
    _IndicatorBlock,
    _LabelColumn,
    _sorted_labels,
)
from ._columns import (
    BOOLEAN,
    LABELS,
    LISTS,
    MAX_EXACT_CODE,
    NUMBERS,
    _as_float,
    _as_labels,
    _check_no_infinity,
    _integer_codes,
    _is_float_column,
    _is_missing,
    _read_kind,
    _Table,
    index_dtype,
    is_dataframe,
    is_polars,
)
from ._fields import infer_sparse_fields
from ._layout import NUMERIC, FieldLayout, InputLayout
from ._multivalued import _MultiValuedColumn, read_lists
from ._numeric import (
    _NumberOfCategories,
    _NumericColumn,
    pooled_scaling,
)
from ._quantities import (
    category_sums,
    held_out_rows,
    is_quantity,
    may_be_quantity,
    row_statistics,
)
from ._sparse import SparseFields, _as_csr, multivalued_evidence

# Rows of a dense input encoded together.
ROW_BLOCK = 4096

# 'auto' reads an integer column with more distinct values than this share
# of the rows (and at least HIGH_CARDINALITY_MIN of them) as categorical, but
# says so: it may be an identifier, or a quantity.
HIGH_CARDINALITY_SHARE = 0.5
HIGH_CARDINALITY_MIN = 100

# Fields inferred from a sparse matrix beyond which fit warns: a TF-IDF
# matrix of 4,000 columns read as 4,000 fields took 2.4 GB to predict 20,000
# rows (a 4,096-row batch holds 4,096 x fields x embedding_dim floats), and
# one field for the block 46 MB.  Click-log tables have tens of fields.
MANY_INFERRED_FIELDS = 1000

# Values of a sparse matrix used as they are, beyond which fit says to scale
# them: Adult's raw numbers through a DictVectorizer (fnlwgt up to 1.5e6,
# capital-gain up to 99,999) filled the first-order solve with line-search
# warnings and ended at 0.868 test AUC against LogisticRegression's 0.884 on
# one seed of three (/work/research/s15/transformers, t11; not scaled here,
# since the graphs of sklearn_deepfm.onnx and .export take the values as
# given).
LARGE_SPARSE_VALUE = 1e3


def check_container(X, estimator_name):
    """Raise a TypeError for containers the estimators cannot read in memory."""
    if hasattr(X, "__dask_graph__"):
        # (it named fit where predict was called)
        raise TypeError(
            f"{estimator_name} reads data held in memory and got a dask "
            f"{type(X).__name__}. To train on it, stream it through "
            "partial_fit, for example with dask_ml.wrappers.Incremental; to "
            "predict, wrap the fitted model in dask_ml.wrappers.ParallelPostFit, "
            "which predicts block by block; or call .compute() if it fits in "
            "memory."
        )
    if sp.issparse(X) or isinstance(X, np.ndarray) or is_dataframe(X) or is_polars(X):
        return
    if type(X).__module__.split(".")[0] == "polars" and hasattr(X, "collect"):
        raise TypeError(
            f"{estimator_name} reads data held in memory and got a polars "
            f"{type(X).__name__}. Call .collect() first."
        )
    if hasattr(X, "__dataframe__") or hasattr(X, "column_names"):
        raise TypeError(
            f"{estimator_name} reads numpy arrays, scipy sparse matrices and "
            f"pandas or polars DataFrames; got {type(X).__module__}."
            f"{type(X).__name__}. Convert it to one of those first."
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
    if spec.size == 0:  # [] (float to NumPy): no column marked, as for HGB
        return mask
    if spec.dtype.kind in "iu":
        # as HGB: a negative index is an error, not a count from the end
        if spec.size and (spec.min() < 0 or spec.max() >= n_columns):
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


def _warn_large_values(X, feature_names):
    """Warn where columns of a sparse matrix hold values far from 1."""
    large = np.abs(X.data) > LARGE_SPARSE_VALUE
    if not large.any():
        return
    columns = np.unique(X.indices[large])
    named = [
        str(feature_names[c]) if feature_names is not None else f"x{c}"
        for c in columns[:3]
    ]
    more = f" and {columns.size - 3:,} more" if columns.size > 3 else ""
    warn(
        f"{columns.size:,} column(s) of the sparse matrix ({', '.join(named)}"
        f"{more}) hold values beyond {LARGE_SPARSE_VALUE:g} in absolute value "
        f"(up to {np.abs(X.data).max():.3g}). A sparse matrix's values are "
        "used as they are: scale such columns first (StandardScaler for "
        "numbers before they are stacked, or MaxAbsScaler on the sparse "
        "matrix), or the first-order solve and training may not converge.",
    )


def _holds_nothing(spec, kind=_CategoricalColumn):
    """Whether ``spec`` reads as ``kind`` (codes, or labels) a column that
    held no value (all missing)."""
    return type(spec) is kind and spec.categories.size == 0


def _turned(spec, kind, name):
    """The spec of a column that held no value in the first call, for the
    first values that come (``kind``, the reading of their column): a CSV
    chunk of blanks reads as float NaN, and is codes until labels come; an
    arrow, polars or object chunk of nulls reads as labels, and is codes
    until codes come (every later float was a category of its own, and codes
    were learnt beside their digits as strings)."""
    if _holds_nothing(spec) and kind == LABELS:
        return _LabelColumn(np.empty(0, dtype=object), name)
    if _holds_nothing(spec, _LabelColumn) and kind == NUMBERS:
        return _CategoricalColumn(np.empty(0), name)
    return spec


def _turned_by(spec, values):
    """:func:`_turned` for new categories ``values`` (codes or labels)."""
    return _turned(spec, NUMBERS if _all_numbers(values) else LABELS, "")


def _all_numbers(values):
    """Whether ``values`` (new categories) are all numbers (codes)."""
    values = np.asarray(values)
    return values.dtype.kind in "iuf" or all(
        isinstance(value, numbers.Real) for value in values
    )


def _reaches_inexact_codes(values):
    """Whether whole-number ``values`` reach 2**53, from where float64 no
    longer tells integers apart."""
    finite = values[np.isfinite(values)]
    return bool(finite.size) and finite.max() >= MAX_EXACT_CODE


def _is_binary(column, kind):
    if kind == BOOLEAN:
        return True
    if kind != NUMBERS:
        return False
    values = _as_float(column)
    return bool(np.all((values == 0) | (values == 1)))


@contextlib.contextmanager
def _readable_text(name):
    """Turn the UnicodeEncodeError of a label lookup (pandas' string arrays
    encode labels as UTF-8) into an error naming the column and the value."""
    try:
        yield
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{name} holds the string {exc.object!r}, which is not valid "
            f"Unicode ({exc.reason}: a lone surrogate, as decoding bytes with "
            "errors='surrogateescape' leaves). Decode the bytes with the right "
            "encoding, or replace the invalid characters (for example with "
            "s.encode('utf-8', 'replace').decode('utf-8'))."
        ) from exc


class FeatureEncoder:
    """Learns the embedding layout of the training input and encodes inputs.

    Parameters
    ----------
    fields : array-like of shape (n_features,) or None
        Field label of each column of a sparse (or numeric dense) matrix.
    categorical_features : 'auto', 'from_dtype', None, or array-like
        Which dense or DataFrame columns are categorical (see the estimators).
    pooling : {'mean', 'sum'}
        How a multi-valued field pools its values.

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

    def __init__(self, fields=None, categorical_features="auto", pooling="sum"):
        self.fields = fields
        # the user's field labels (fields becomes the inferred numbering of
        # a distributed fit's sparse fields), a copy: the caller's list
        # changed in place after fit had renamed the fields of explanations
        self.labels = copy.copy(fields)
        self.categorical_features = categorical_features
        self.pooling = pooling

    def fit(
        self, X, feature_names=None, evidence=None, weighted_rows=None, shared=False
    ):
        """Learn the layout of ``X``; ``evidence`` (sparse input only) is
        :func:`~sklearn_deepfm._sparse.multivalued_evidence` of every
        process's rows.  ``weighted_rows`` (a mask of the rows of positive
        sample weight; None: all) are the rows whose numbers set the scaling
        of numeric columns, here and in :meth:`read_as_number` and
        :meth:`field_summaries` until :meth:`forget_rows`: as the loss, the
        scaling ignores a row of weight 0 (10 such rows holding 1e7 scaled a
        column by 811,089, and the test AUC fell from 0.898 to 0.562).
        ``shared``: a distributed fit, whose columns without a category here
        may hold some on other processes (warned of after
        :meth:`set_fields`, where they hold none on any)."""
        self._weighted_rows = weighted_rows
        self.guesses_ = []
        if sp.issparse(X) or self.fields is not None:
            self._fit_sparse(self._as_sparse(X), feature_names, evidence)
        else:
            self._fit_columns(_Table(X, feature_names))
            if not shared:
                self.warn_empty(X, feature_names)
        self._summarise()
        return self

    def __getstate__(self):
        # the sparse reading's layout is layout_: saved once (skops writes
        # every reference in full)
        state = dict(self.__dict__)
        sparse = state.get("_sparse")
        if sparse is not None and sparse.__dict__.get("layout") is state.get("layout_"):
            sparse = copy.copy(sparse)
            del sparse.layout
            state["_sparse"] = sparse
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        sparse = state.get("_sparse")
        if sparse is not None and "layout" not in sparse.__dict__:
            sparse.layout = self.layout_

    def forget_rows(self):
        """Drop the mask of ``fit``'s weighted rows (a fitted model keeps no
        per-row data)."""
        self._weighted_rows = None

    def _weighted(self, values):
        """``values`` of a column of ``fit``'s X, on its weighted rows."""
        rows = getattr(self, "_weighted_rows", None)
        return values if rows is None else values[rows]

    def _summarise(self):
        self.n_embeddings_ = self.layout_.n_embeddings
        self.n_fields_ = self.layout_.n_fields
        self.fields_ = self.layout_.column_fields
        self.categorical_ = self.layout_.is_categorical

    def transform(self, X, feature_names=None):
        if self.layout_.sparse:
            return self._transform_sparse(_fitted_csr(X))
        if sp.issparse(X):
            raise ValueError(
                "This model was fitted on dense columns (an array or a "
                "DataFrame) and got a sparse matrix. Pass the same kind of input "
                "as in fit, or refit on the sparse matrix."
            )
        return self._transform_columns(_Table(X, feature_names))

    # sparse ---------------------------------------------------------------
    def _as_sparse(self, X):
        """``X`` as canonical CSR; with ``fields`` a dense input must be
        numbers, which it then holds as a sparse matrix's values."""
        try:
            return _as_csr(X)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "fields= reads X as a sparse matrix (a numeric array is read as "
                "one), and X holds values that are not numbers. Encode such "
                "columns first (OneHotEncoder, for example), or leave fields "
                "out: a DataFrame's columns are then read one by one, with "
                "categorical_features."
            ) from exc

    def _fit_sparse(self, X, feature_names, evidence):
        marked = self.categorical_features
        if marked is not None and not isinstance(marked, str):
            # (KBinsDiscretizer(encode="ordinal") beside a sparse one-hot
            # block: the bins' column scaled its row by its value, silently)
            warn(
                "categorical_features applies to the columns of a dense array "
                "or a DataFrame and is ignored for a sparse matrix, whose "
                "columns are one-hot blocks or values scaling their own "
                "embedding row. One-hot encode a column of codes before it is "
                "stacked (for example KBinsDiscretizer(encode='onehot')).",
            )
        self._sparse = SparseFields(
            X, self.fields, feature_names, self.pooling, evidence
        )
        _warn_large_values(X, feature_names)
        self.layout_ = self._sparse.layout
        n_fields = self.layout_.n_fields
        if self.fields is None and n_fields > MANY_INFERRED_FIELDS:
            warn(
                f"The sparse matrix's {X.shape[1]:,} columns were read as "
                f"{n_fields:,} fields: a column holding values other than 0 and "
                "1 is a field of its own, as is each run of 0/1 columns with "
                "at most one set per row. The deep part's input is then "
                f"{n_fields:,} x embedding_dim wide, for every row. A text "
                "vectorizer's output (TF-IDF, counts) or a multi-hot block is "
                "one field: declare the fields with fields=, one label per "
                "original input column and one for the whole text block (with "
                "OneHotEncoder(feature_name_combiner=lambda feature, category: "
                "feature), a ColumnTransformer's get_feature_names_out() names "
                "each one-hot column by its input column). A OneHotEncoder's "
                "whole output as one field would be one multi-valued field, "
                "whose values do not interact.",
            )
        self._columns = None
        self._whole_numbers = set()
        self._many_values = {}

    def _transform_sparse(self, X):
        if "_sparse" not in self.__dict__:  # saved before multi-valued fields
            self._sparse = SparseFields.of_layout(self.layout_)
        return self._sparse.encode(X)

    def multivalued_evidence(self, X):
        """What decides which fields of sparse input are multi-valued, to
        merge over processes (see :func:`~sklearn_deepfm._sparse.
        multivalued_evidence`)."""
        return multivalued_evidence(_as_csr(X), self._sparse.column_fields)

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
        self._whole_numbers = set()
        self._many_values = {}
        for j in range(table.n_columns):
            if j in in_block and j not in blocks:
                continue
            columns = blocks.get(j, [j])
            spec = self._fit_column(table, j, kinds[j], marked, columns)
            specs.append((columns, spec))
        self._columns = specs
        self._names = [table.name(j) for j in range(table.n_columns)]
        self._describe_columns()

    def warn_empty(self, X, feature_names=None):
        """Warn about categorical columns of ``fit``'s ``X`` without a single
        category: entirely missing (NaN, None) or negative codes."""
        table = _Table(X, feature_names)
        empty = [
            table.describe(columns[0])
            for columns, spec in self._columns
            if isinstance(spec, (_CategoricalColumn, _LabelColumn))
            and len(spec.categories) == 0
        ]
        if empty:
            warn(
                f"{', '.join(empty)} holds no category: every value is missing "
                "(NaN or None) or a negative code. It carries no information "
                "(its field has only the unknown row); drop it, or check how the "
                "data was read. (In a partial_fit stream, it learns the values "
                "of the calls to come.)",
            )

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
                    pooling=getattr(spec, "pooling", None),
                    number_of=getattr(spec, "number_of", None),
                )
            )
            offset += spec.size
        self.layout_ = InputLayout(tuple(layouts), len(self._names), offset, False)
        self.n_embeddings_ = offset

    # whole numbers that are quantities ------------------------------------
    def add_numbers(
        self, X, feature_names, y, sample_weight, n_classes, seed, add=None, offset=0
    ):
        """Also read as a number (a field after the others) each column of
        non-negative whole numbers that ``'auto'`` read as categories and
        whose target follows the order of its values, by the test of
        :mod:`~sklearn_deepfm._quantities`.

        ``y`` holds class indices (``n_classes`` of them) or, with
        ``n_classes`` None, regression targets.  ``add`` sums arrays over the
        processes of a distributed fit (:func:`~sklearn_deepfm._distributed.
        all_sum`), which then decide as one; ``offset`` is where this
        process's rows start among theirs.  Returns the names of the columns
        now also read as numbers.
        """
        add = add or (lambda *values: list(values))
        if self.layout_.sparse:
            return []
        # 'auto' read these columns as categories from whole numbers
        candidate = np.array(
            [
                float(
                    columns[0] in self._whole_numbers
                    and isinstance(spec, _CategoricalColumn)
                )
                for columns, spec in self._columns
            ]
        )
        table = _Table(X, feature_names)
        # a column is a candidate when it is one in every process's rows, with
        # enough categories and rows per category over all of them (rows of
        # weight 0 count nowhere)
        n_weighted = float(np.count_nonzero(sample_weight))
        candidate, n_processes, n_rows, n_all = add(
            candidate, 1.0, n_weighted, float(len(sample_weight))
        )
        # (with rows of weight 0, a category may have none of weight: the
        # test counts the others, once their sums are known)
        fields = [
            field
            for field in np.flatnonzero(candidate == n_processes)
            if n_rows < n_all
            or may_be_quantity(self._columns[field][1].size - 1, n_rows)
        ]
        if not fields:
            return []
        stats = row_statistics(y, sample_weight, n_classes)
        # drawn for the rows of weight only: rows of weight 0 among them had
        # moved the others' draws, and the decision (5 of 40 tables)
        weighted = np.asarray(sample_weight) > 0
        held_out = np.zeros(table.n_rows, dtype=bool)
        held_out[weighted] = held_out_rows(int(weighted.sum()), seed, offset)
        sums = []
        for field in fields:
            columns, spec = self._columns[field]
            name = table.describe(columns[0])
            local = spec.local_rows(spec.prepare(table.column(columns[0]), name))
            sums.append(category_sums(local, spec.size, stats, held_out))
        sums = add(*sums)
        quantities = [
            field
            for field, field_sums in zip(fields, sums, strict=True)
            if is_quantity(field_sums, n_rows, n_classes is not None, seed)
        ]
        added = []
        for field in quantities:
            columns, _ = self._columns[field]
            name = self._names[columns[0]]
            # the number's scaling, of every process's rows
            values = _as_float(table.column(columns[0]))
            scaling = pooled_scaling(self._weighted(values), add)
            self._columns.append(
                (list(columns), _NumberOfCategories(scaling, name, int(field)))
            )
            added.append(name)
        if added:
            self._describe_columns()
            self._summarise()
        return added

    # whole numbers with a value per row or nearly ---------------------------
    def many_valued_fields(self):
        """The fields of the columns of non-negative whole numbers, none
        missing, that ``'auto'`` read as categories although most of their
        categories are rare (the guess :meth:`warn_guesses` names): a
        quantity such as a sampling weight, or an identifier."""
        if not self._many_values:  # always so for sparse input
            return []
        return [
            field
            for field, (columns, spec) in enumerate(self._columns)
            if columns[0] in self._many_values and isinstance(spec, _CategoricalColumn)
        ]

    def category_values(self, field):
        """The whole number of each local row of categorical ``field`` (NaN
        for the unknown row)."""
        categories = self._columns[field][1].categories
        return np.concatenate([[np.nan], np.asarray(categories, dtype=np.float64)])

    def read_as_number(self, field, X, feature_names=None, all_sum=None):
        """Read the column of ``field`` as numeric instead of categorical
        (scaled on the rows of ``X``, of every process's ``X`` when
        ``all_sum`` sums over the processes); its guess is withdrawn."""
        columns, _ = self._columns[field]
        table = _Table(X, feature_names)
        values = _as_float(table.column(columns[0]))
        spec = _NumericColumn(
            values, table.describe(columns[0]), self._weighted(values)
        )
        if all_sum is not None:
            spec.mean, spec.scale = pooled_scaling(self._weighted(values), all_sum)
        self._columns[field] = (columns, spec)
        guess = self._many_values.pop(columns[0])
        self.guesses_.remove(guess)
        self._describe_columns()
        self._summarise()

    # growth ---------------------------------------------------------------
    def unseen_categories(self, X, feature_names=None):
        """Per field, the categories of ``X`` that have no embedding row yet
        (an empty list for fields that cannot grow: numeric, indicator and
        sparse fields)."""
        if self.layout_.sparse:
            if "_sparse" in self.__dict__:
                self._sparse.warn_of_several(_fitted_csr(X))
            return [[] for _ in self.layout_.fields]
        table = _Table(X, feature_names)
        table.check_column_types()
        found = []
        for columns, spec in self._columns:
            name = table.describe(columns[0])
            if not hasattr(spec, "unseen"):
                # checked before any category is learnt: a call that then
                # failed on a number, or on a one-hot block's infinity, had
                # grown the vocabulary all the same
                if isinstance(spec, _NumericColumn):
                    spec.prepare(table.column(columns[0]), name)
                elif isinstance(spec, _IndicatorBlock):
                    spec.prepare([table.column(c) for c in columns], name)
                found.append([])
                continue
            column = table.column(columns[0])
            if _holds_nothing(spec) or _holds_nothing(spec, _LabelColumn):
                # a column that held no value in the first call takes the
                # values that come later, as a multi-valued column waits for
                # its first value; it turns in extend, once every column of
                # the call passed
                kind = _read_kind(column, name)
                if kind == LISTS:
                    spec = _MultiValuedColumn.holding_nothing(self.pooling)
                else:
                    spec = _turned(spec, kind, name)
            with _readable_text(name):
                found.append(spec.unseen(spec.prepare(column, name), name))
        return found

    def lists_to_come(self, X, feature_names=None):
        """The fields that held no value so far and hold lists in ``X``: they
        become multi-valued fields (``extend``'s ``lists``)."""
        if self.layout_.sparse:
            return []
        table = _Table(X, feature_names)
        return [
            field
            for field, (columns, spec) in enumerate(self._columns)
            if (_holds_nothing(spec) or _holds_nothing(spec, _LabelColumn))
            and _read_kind(table.column(columns[0]), "") == LISTS
        ]

    def _column_name(self, columns):
        """A field's first column as messages name it."""
        name = self._names[columns[0]] if "_names" in vars(self) else None
        return f"column {columns[0]}" + ("" if name is None else f" ({name!r})")

    def extend(self, categories, lists=()):
        """Give new categories their own embedding rows.

        Parameters
        ----------
        categories : list with one sequence of unseen categories per field
            As :meth:`unseen_categories` returns them.
        lists : sequence of int
            Fields that held no value so far and become multi-valued fields
            (:meth:`lists_to_come`): a stream whose first call held no tags
            (every cell None) had refused the lists of the next.

        Returns
        -------
        new_rows : ndarray of shape (n_embeddings before,) or None
            The embedding row each old row moves to (None when nothing was
            added): a field's rows stay contiguous, so later fields move.
        """
        if not lists and not any(len(new) for new in categories):
            return None
        old = [(field.offset, field.n_embeddings) for field in self.layout_.fields]
        for field, new in enumerate(categories):
            columns, spec = self._columns[field]
            if field in lists:  # (its unknown row stays local row 0)
                spec = _MultiValuedColumn.holding_nothing(self.pooling)
                self._columns[field] = (columns, spec)
            if len(new):
                # (values of this process's call or, distributed, another's)
                spec = _turned_by(spec, new)
                self._columns[field] = (columns, spec)
                if isinstance(spec, (_LabelColumn, _MultiValuedColumn)):
                    spec.extend(new, self._column_name(columns))
                else:
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
        if kind == LISTS:
            return _MultiValuedColumn(read_lists(column, name), name, self.pooling)
        if kind == LABELS:
            return _LabelColumn(_as_labels(column), name)
        values = _as_float(column)
        if kind == BOOLEAN:
            spec = _CategoricalColumn(values, name)
            spec.holds = "booleans"  # (its errors had said "integer codes")
            return spec
        if marked is not None:
            if marked[j]:
                return _CategoricalColumn(values, name)
            return _NumericColumn(values, name, self._weighted(values))
        _check_no_infinity(values, name)
        codes, n_negative = _integer_codes(values)
        if codes and _reaches_inexact_codes(values) and _is_float_column(column):
            # every float from 2**53 on is whole: no evidence of codes (amounts
            # in wei were refused as codes too large to tell apart)
            self.guesses_.append(
                f"{name} holds floats of 2**53 or more (whole numbers, as every "
                "float of that size is) and was read as numeric; if these are "
                "category codes, pass the column as strings."
            )
            return _NumericColumn(values, name, self._weighted(values))
        if not codes:
            if n_negative > 1:
                self.guesses_.append(
                    f"{name} holds integers with {n_negative} distinct negative "
                    "values and was read as numeric; if these are category codes, "
                    "pass the column as strings (a column listed in "
                    "categorical_features reads every negative code as missing, "
                    "one category with the unseen values)."
                )
            return _NumericColumn(values, name, self._weighted(values))
        spec = _CategoricalColumn(values, name)
        if n_negative == 0:
            self._whole_numbers.add(j)
        n_categories, n_rows = spec.size - 1, table.n_rows
        rows = getattr(self, "_weighted_rows", None)
        if rows is not None:  # rows of weight 0 count nowhere
            weighted = self._weighted(values)
            n_categories = np.unique(weighted[weighted >= 0]).size
            n_rows = weighted.size
        if n_categories >= max(HIGH_CARDINALITY_MIN, HIGH_CARDINALITY_SHARE * n_rows):
            guess = (
                f"{name} holds {n_categories:,} distinct integers in "
                f"{n_rows:,} rows and was read as categorical (most "
                "categories are rare); if it is a quantity, set "
                "categorical_features to read it as numeric."
            )
            self.guesses_.append(guess)
            if n_negative == 0 and not np.isnan(values).any():
                self._many_values[j] = guess
        return spec

    def warn_guesses(self, estimator_name):
        """One warning listing every reading of 'auto' that may be wrong."""
        if self.guesses_:
            warn(
                f"{estimator_name} read the input with categorical_features='auto'"
                "; check these guesses (input_layout_ shows every field):\n- "
                + "\n- ".join(self.guesses_),
            )

    def _transform_columns(self, table):
        if table.n_columns != self.layout_.n_features_in:
            raise ValueError(
                f"X has {table.n_columns} columns, but the model was fitted on "
                f"{self.layout_.n_features_in}."
            )
        n_rows = table.n_rows
        single = [
            (field, columns, spec)
            for field, (columns, spec) in enumerate(self._columns)
            if not isinstance(spec, _MultiValuedColumn)
        ]
        indices = np.empty((n_rows, len(single)), dtype=index_dtype(self.n_embeddings_))
        values = None
        if any(spec.kind == NUMERIC for _, _, spec in single):
            values = np.ones((n_rows, len(single)), dtype=np.float32)
        prepared = []
        table.check_column_types()
        for slot, (field, columns, spec) in enumerate(single):
            name = table.describe(columns[0])
            if isinstance(spec, _IndicatorBlock):
                source = spec.prepare([table.column(c) for c in columns], name)
                spec.warn_of_several(source, name)
            elif table.kind == "array" and not isinstance(spec, _LabelColumn):
                source = table.column(columns[0])  # sliced per row block below
            else:
                source = spec.prepare(table.column(columns[0]), name)
            prepared.append((slot, field, name, spec, source, table.kind == "array"))
        offsets = [layout.offset for layout in self.layout_.fields]
        fractions = {}  # slot: non-integer codes read as unknown, and one

        def encode_block(entry, rows):
            slot, field, name, spec, source, raw = entry
            block = source[rows]
            if raw and not isinstance(spec, (_IndicatorBlock, _LabelColumn)):
                block = spec.prepare(block, name)
            if isinstance(spec, _NumericColumn):
                indices[rows, slot] = offsets[field]
                values[rows, slot] = spec.scaled(block)
                return
            with _readable_text(name):
                if isinstance(spec, _LabelColumn):  # (names it, refusing a list)
                    local = spec.local_rows(block, name)
                else:
                    local = spec.local_rows(block)
            indices[rows, slot] = offsets[field] + local
            if isinstance(spec, _CategoricalColumn):
                found = spec.fractions(block, local)
                if found.size:
                    count, first = fractions.get(slot, (0, found[0]))
                    fractions[slot] = (count + found.size, first)

        # Row blocks outer, columns inner: a block of X and of the output stay
        # in cache, where whole strided columns would not.  Codes looked up in
        # a hash go column by column instead, so that each hash table stays in
        # cache: the wide prediction benchmark's nine hashed columns took 0.050
        # s per 100,000 rows by blocks and 0.026 s by columns.
        hashed = [entry for entry in prepared if _hashes(entry[3])]
        for entry in hashed:
            for start in range(0, n_rows, ROW_BLOCK):
                encode_block(entry, slice(start, start + ROW_BLOCK))
        blocked = [entry for entry in prepared if not _hashes(entry[3])]
        for start in range(0, n_rows, ROW_BLOCK):
            for entry in blocked:
                encode_block(entry, slice(start, start + ROW_BLOCK))
        for slot, (count, example) in sorted(fractions.items()):
            _CategoricalColumn.warn_of_fractions(count, example, prepared[slot][2])
        if len(single) == self.n_fields_:
            return RegularRows(indices, values)
        return BaggedRows(indices, values, *self._bags(table))

    def _bags(self, table):
        """The multi-valued fields of ``table`` as one CSR matrix of bag
        weights, and the bag of each embedding row."""
        bags = sp.csr_matrix((table.n_rows, self.n_embeddings_), dtype=np.float32)
        bag_of_row = np.full(self.n_embeddings_, -1, dtype=np.int64)
        fields = self.layout_.fields
        for (columns, spec), layout in zip(self._columns, fields, strict=True):
            if not isinstance(spec, _MultiValuedColumn):
                continue
            name = table.describe(columns[0])
            lists = spec.prepare(table.column(columns[0]), name)
            with _readable_text(name):
                rows, lengths, weights = spec.bags(lists, layout.offset, name)
            indptr = np.concatenate([[0], np.cumsum(lengths)])
            shape = (table.n_rows, self.n_embeddings_)
            bags = bags + sp.csr_matrix((weights, rows, indptr), shape=shape)
            bag_of_row[layout.offset : layout.offset + spec.size] = bag_of_row.max() + 1
        bags.sum_duplicates()
        return bags, bag_of_row

    # what explanations show --------------------------------------------
    def field_values(self, X, feature_names=None):
        """Each field's value in each row of ``X``, an object array ``(n_rows,
        n_fields)``: a column's label or number as in ``X``; for an indicator
        block or a field of several sparse columns, the name of the active
        column (several joined by ``", "``; None when none is set); for a
        field of one sparse column, its value."""
        n_fields = self.layout_.n_fields
        if self.layout_.sparse:
            return self._sparse_field_values(_fitted_csr(X))
        table = _Table(X, feature_names)
        data = np.empty((table.n_rows, n_fields), dtype=object)
        for field, (columns, spec) in enumerate(self._columns):
            if isinstance(spec, _IndicatorBlock):
                block = spec.prepare(
                    [table.column(c) for c in columns], table.describe(columns[0])
                )
                names = np.append(None, spec.categories).astype(object)
                data[:, field] = names[spec.local_rows(block)]
            elif isinstance(spec, _NumericColumn):
                data[:, field] = _as_float(table.column(columns[0]))
            elif isinstance(spec, _MultiValuedColumn):
                # a list of the values as given per cell (None when missing),
                # whatever the container: arrow and polars gave NumPy arrays,
                # and pandas' NA for a null
                cells = [
                    None
                    if _is_missing(cell)
                    else (cell.tolist() if hasattr(cell, "tolist") else list(cell))
                    for cell in _as_labels(table.column(columns[0]))
                ]
                data[:, field] = np.array(cells + [None], dtype=object)[:-1]
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
                if not spec.categories.size:
                    # a column that held no value on this process reads as
                    # the others' values (it refused to fit with them)
                    summary["labels"] = None
            if isinstance(spec, _MultiValuedColumn):
                summary["categories"] = spec.categories
                summary["labels"] = spec.labels
            if isinstance(spec, (_CategoricalColumn, _NumericColumn)):
                values = _as_float(table.column(columns[0]))
            if isinstance(spec, _CategoricalColumn):
                summary["negatives"] = np.unique(values[values < 0])
            if isinstance(spec, _NumericColumn):
                values = self._weighted(values)
                squares = float(np.sum((values - spec.mean) ** 2))
                summary["moments"] = (values.size, spec.mean, squares)
            summaries.append(summary)
        return summaries

    def set_fields(self, categories, scaling, lists=None):
        """Replace what ``fit`` learnt field by field: ``categories[f]`` (any
        order, sorted here as ``fit`` sorts them) for categorical fields,
        ``scaling[f] = (mean, scale)`` for numeric fields (None elsewhere);
        where ``lists[f]``, the field is a multi-valued column (one that held
        no value here becomes one)."""
        lists = lists or [False] * len(categories)
        for field, (known, numeric) in enumerate(zip(categories, scaling, strict=True)):
            columns, spec = self._columns[field]
            if lists[field] and not isinstance(spec, _MultiValuedColumn):
                spec = _MultiValuedColumn.holding_nothing(self.pooling)
                self._columns[field] = (columns, spec)
            if known is not None and len(known):
                spec = _turned_by(spec, known)
                self._columns[field] = (columns, spec)
            if isinstance(spec, _CategoricalColumn):
                spec.categories = spec.categories[:0]
                spec.extend(np.unique(np.asarray(known, dtype=np.float64)))
            elif isinstance(spec, _LabelColumn):
                spec.categories = spec.categories[:0]
                spec.extend(_sorted_labels(known), self._column_name(columns))
            elif isinstance(spec, _MultiValuedColumn):
                spec.set_categories(known)
            elif isinstance(spec, _NumericColumn):
                spec.mean, spec.scale = numeric
        self._describe_columns()


def _fitted_csr(X):
    """``X`` as the canonical CSR of a model fitted on a sparse matrix (or on
    numbers with ``fields=``), with the package's message for text (a raw
    error had come from scipy, or from the frame's reading)."""
    try:
        return _as_csr(X)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "This model reads X as a sparse matrix of numbers (it was fitted on "
            "one, or on numbers with fields=), and X holds values that are not "
            "numbers. Pass the same kind of input as in fit."
        ) from exc


def _hashes(spec):
    """Whether ``spec`` looks its codes up in a hash table."""
    return isinstance(spec, _CategoricalColumn) and spec.hashes
