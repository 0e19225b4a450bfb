"""Multi-valued columns: cells holding any number of values (tags, genres,
recent items), read as one field pooled into one vector.

A cell is a list, tuple or NumPy array (pandas object columns, object
arrays), a polars ``List`` or ``Array`` value, or a pyarrow list (a pandas
``pd.ArrowDtype(pa.list_(...))`` column); every container is read into flat
values and per-row lengths, never padded, with no maximum length.

Each value seen in ``fit`` owns an embedding row.  Local row 0 (*unknown*)
receives values never seen and missing cells (None, NaN); local row 1 is
the empty list, a learned "nothing" rather than an error; value ``i`` is
local row ``2 + i``.  A row's values are pooled by their mean (each weighted
``1 / n``) or sum; the encoded rows hold them as a bag of weighted rows
(:class:`~sklearn_deepfm._batching.BaggedRows`).  The values themselves are
read as categories are: integer codes, or labels of any hashable kind.
"""

import itertools
import numbers

import numpy as np

from ._categorical import (
    KIND_WORDS,
    _CategoricalColumn,
    _first_of_other_kind,
    _kind_of,
    _LabelColumn,
    _sorted_labels,
)
from ._columns import LIST_TYPES, _check_no_infinity, _is_missing, _is_number
from ._layout import MULTIVALUED

UNKNOWN, EMPTY = 0, 1  # local rows of a multi-valued field
POOLINGS = ("mean", "sum")


class _Lists:
    """A column of lists as flat values: ``lengths`` (0 for a missing
    cell), ``missing`` cells and the ``flat`` values, row after row."""

    def __init__(self, lengths, missing, flat):
        self.lengths = lengths
        self.missing = missing
        self.flat = flat


def read_lists(column, name):
    """The cells of a column of lists (any container) as :class:`_Lists`."""
    try:
        return _read_lists(column, name)
    except _NestedLists:
        raise TypeError(
            f"{name} holds lists inside its lists: each value of a multi-valued "
            "cell is one label or code. Flatten the cells, or join the inner "
            "values into one label each."
        ) from None


class _NestedLists(ValueError):
    """Values of a column of lists that are lists themselves."""


def _read_lists(column, name):
    module = type(column).__module__.split(".")[0]
    if module == "polars":
        return _polars_lists(column, name)
    if str(getattr(column, "dtype", "")).split("<")[0] in (
        "list",
        "large_list",
        "fixed_size_list",
    ):
        return _arrow_lists(column.array.__arrow_array__())
    cells = column.tolist() if module == "pandas" else list(column)
    return _python_lists(cells, name)


def _python_lists(cells, name):
    lengths = np.empty(len(cells), dtype=np.int64)
    missing = np.zeros(len(cells), dtype=bool)
    for i, cell in enumerate(cells):
        if isinstance(cell, LIST_TYPES):
            lengths[i] = len(cell)
        elif _is_missing(cell):
            lengths[i], missing[i] = 0, True
        elif isinstance(cell, (set, frozenset)):
            raise TypeError(
                f"{name} holds a set ({cell!r}) in row {i}: pass each cell as a "
                "list, for example X[column].map(sorted, na_action='ignore'), as "
                "in fit."
            )
        else:
            raise TypeError(
                f"{name} holds lists, and a single {type(cell).__name__} value "
                f"({cell!r}) in row {i}. Every cell of a multi-valued column must "
                "be a list, tuple or array of values (or None when missing): "
                "wrap single values in a list."
            )
    flat = list(
        itertools.chain.from_iterable(cells[i] for i in np.flatnonzero(~missing))
    )
    return _Lists(lengths, missing, _flat_array(flat))


def _flat_array(values):
    """Numbers as a numeric array, missing values among them (or alone) as
    NaN, which reads as unknown, as None does among labels; labels as an
    object array.  The first value present decides: labels go straight to
    an object array (NumPy's array of strings as wide as the longest, made
    first, cost 384 MiB for 100,000 tags with one of 1,000 characters)."""
    if not values:
        return np.empty(0, dtype=np.int64)
    first = next((value for value in values if not _is_missing(value)), None)
    if first is None or isinstance(first, (numbers.Number, np.bool_)):
        try:
            array = np.asarray(values)
        except ValueError:  # NumPy's "inhomogeneous shape": lists in the lists
            raise _NestedLists from None
        if array.ndim > 1:  # lists of equal length inside the lists
            raise _NestedLists
        if array.dtype.kind in "biuf":
            return array
        if first is None or all(
            _is_number(value) or _is_missing(value) for value in values
        ):
            return np.array([np.nan if _is_missing(v) else v for v in values], float)
    elif any(isinstance(value, LIST_TYPES) for value in values):
        raise _NestedLists
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _polars_lists(column, name):
    import polars as pl

    if column.null_count() == len(column):
        # a chunk of empty cells (typed Null, or String as pl.from_pandas
        # types [None]): every one missing
        n_rows = len(column)
        return _Lists(
            np.zeros(n_rows, np.int64), np.ones(n_rows, bool), _flat_array([])
        )
    if str(column.dtype).startswith("Array"):  # fixed width: read as lists
        column = column.arr.to_list()
    elif not isinstance(column.dtype, pl.List):  # single values: the cells say
        return _python_lists(column.to_list(), name)
    lengths = column.list.len().to_numpy()
    missing = column.is_null().to_numpy()
    lengths = np.where(missing, 0, lengths).astype(np.int64)
    # without empty or missing cells, exploding gives exactly the values
    flat = column.filter(pl.Series(lengths > 0)).explode()
    return _Lists(lengths, missing, _flat_array_of(flat.to_numpy()))


def _arrow_lists(array):
    import pyarrow.compute as pc

    if hasattr(array, "combine_chunks"):
        array = array.combine_chunks()
    missing = array.is_null().to_numpy(zero_copy_only=False)
    lengths = pc.list_value_length(array).fill_null(0).to_numpy()
    flat = array.flatten().to_numpy(zero_copy_only=False)
    return _Lists(lengths.astype(np.int64), missing, _flat_array_of(flat))


def _flat_array_of(values):
    if values.dtype.kind in "biuf":
        return values
    return _flat_array(list(values))


class _MultiValuedColumn:
    """A column of lists: each value seen in ``fit`` owns a row; a row's
    values are pooled by ``pooling`` ('mean' or 'sum')."""

    kind = MULTIVALUED

    def __init__(self, lists, name, pooling):
        self.pooling = pooling
        self._learn(lists.flat, name)

    @classmethod
    def holding_nothing(cls, pooling):
        """A column that held no value yet: its first values decide."""
        empty = np.zeros(0, dtype=np.int64)
        return cls(_Lists(empty, empty.astype(bool), empty.astype(float)), "", pooling)

    def _learn(self, flat, name):
        # labels or integer codes; undecided (None) while no value was seen
        # (missing values read as NaN): the values of a later call decide
        seen = flat.dtype == object or not np.isnan(flat).all()
        self.labels = flat.dtype == object if flat.size and seen else None
        if self.labels:
            self._values = _LabelColumn(flat, name)
            return
        fractions = flat[np.isfinite(flat) & (flat != np.round(flat))]
        if fractions.size:  # (the advice of a column of codes does not apply)
            raise ValueError(
                f"{name} holds lists of numbers, read as integer codes, and "
                f"{fractions[0].item()!r} is not a whole number. Pass the values "
                "as strings (each is then a label) or as integer codes."
            )
        self._values = _CategoricalColumn(flat.astype(np.float64), name)

    @property
    def categories(self):
        return self._values.categories

    @property
    def size(self):
        return self._values.size + 1

    def prepare(self, column, name):
        lists = read_lists(column, name)
        if self.labels is False and lists.flat.dtype == object:
            raise TypeError(
                f"{name} held lists of integer codes in fit and holds lists of "
                f"labels such as {lists.flat[0]!r} now. Pass the same kind of "
                "values as in fit."
            )
        flat = lists.flat
        fitted = self._values._label_kind() if self.labels else None
        # numbers among labels that were strings (or the reverse), in a
        # batch of numbers or beside strings: as a column of single labels,
        # '1' and 1 were two values
        wrong = None if fitted is None else _first_of_other_kind(flat, flat, fitted)
        if wrong is not None:
            wrong = wrong.item() if isinstance(wrong, np.generic) else wrong
            raise TypeError(
                f"{name} held lists of {KIND_WORDS[fitted]} in fit and holds "
                f"{KIND_WORDS[_kind_of(wrong)]} among its values now, such as "
                f"{wrong!r}; no such value has a row of its own. Pass the "
                "values as in fit."
            )
        if self.labels is False:  # codes: as a column of codes reads them
            _check_no_infinity(self._flat(lists), name)
        return lists

    def unseen(self, lists, name):
        """Values among ``lists`` (prepared) that have no row yet."""
        if self.labels is None:  # every value is new
            return _MultiValuedColumn(lists, name, self.pooling).categories
        return self._values.unseen(self._flat(lists), name)

    def extend(self, categories, name="a column"):
        """Give each of ``categories`` (unseen values) a row after the others."""
        if self.labels is None and len(categories):
            self._learn(np.asarray(categories), name)
        elif self.labels:
            self._values.extend(categories, name)
        else:
            self._values.extend(categories)

    def set_categories(self, known):
        """Replace the values learnt in ``fit`` (any order, sorted here)."""
        known = np.asarray(known)
        if self.labels is None:
            if not len(known):  # no value on any process yet: as it is
                return
            self._learn(known, None)
        self._values.categories = self._values.categories[:0]
        if self.labels:
            self._values.extend(_sorted_labels(known))
        else:
            self._values.extend(np.unique(known.astype(np.float64)))

    def _flat(self, lists):
        if self.labels:
            return lists.flat
        return lists.flat.astype(np.float64, copy=False)

    def bags(self, lists, offset, name="a column"):
        """Each row's bag: the embedding ``rows`` (values, or the unknown or
        empty-list row), the bag ``lengths`` (each at least 1) and the
        ``weights`` (``1 / n`` for the mean, else 1).  Codes that are not
        whole numbers are unknown values, with the warning of a column of
        codes (they had gone to the unknown row without a word)."""
        if self.labels is None:  # no value was learnt: each is unknown
            local = np.full(lists.flat.size, UNKNOWN, dtype=np.int64)
        else:
            flat = self._flat(lists)
            local = self._values.local_rows(flat)
        if self.labels is False:
            found = self._values.fractions(flat, local)
            if found.size:
                _CategoricalColumn.warn_of_fractions(
                    found.size, found[0], name, lists=True
                )
        local = np.where(local == UNKNOWN, UNKNOWN, local + 1)
        lengths = np.maximum(lists.lengths, 1)
        nothing = lists.lengths == 0
        starts = np.cumsum(lengths) - lengths
        rows = np.empty(int(lengths.sum()), dtype=np.int64)
        filler = np.zeros(rows.size, dtype=bool)
        filler[starts[nothing]] = True
        rows[starts[nothing]] = np.where(lists.missing, UNKNOWN, EMPTY)[nothing]
        rows[~filler] = local
        rows += offset
        if self.pooling == "mean":
            weights = np.repeat(1.0 / lengths, lengths).astype(np.float32)
        else:
            weights = np.ones(rows.size, dtype=np.float32)
        return rows, lengths, weights
