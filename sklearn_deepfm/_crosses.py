"""Pairwise crosses of the categorical fields in the first-order part.

Wide & Deep's wide side, the five-line alternative a scikit-learn user tries
next to DeepFM: every pair of categorical fields ``(f, g)`` crossed, each
pair of categories seen together in the training rows owning one
first-order weight (per output).  A row's crossed term is the sum of the
weights of its pairs; a pair of categories never seen together in the
training rows adds nothing.  The crosses are solved with the rest of the
first-order part (:mod:`~sklearn_deepfm._linear`), and that linear model
is mixed into the trained DeepFM in the share the validation rows prefer
(see ``BaseDeepFM._try_crosses``).

A cross is keyed by the embedding rows of its two categories,
``left * KEY_BASE + right``: rows are below ``KEY_BASE``, so keys of
different pairs of fields, and of categories learnt later by
``partial_fit``, never collide; when ``partial_fit`` moves the rows of
later fields, the keys move with them (:meth:`PairCrosses.move_rows`).
The seen keys are held sorted; a row's key is looked up by binary search
in the network and in ONNX (a ``LabelEncoder``), and by hashing where the
linear solve's designs are built from every row's keys at once (HR:
760,000 keys, 14 against 30 ms).
"""

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ._layout import CATEGORICAL, INDICATOR, SPARSE

# Embedding rows are below 2**31, so a key fits in an int64.
KEY_BASE = 2**31

# The crosses are tried only when the solve's rows times the pairs are at
# most this many: its cost grows with them, at 20 to 32 s on two cores for
# Frappe's 62,000 rows x 45 pairs (2.8 million entries, 220,000 crosses)
# and 44 to 58 s for Criteo's 7,200 x 741 (5.3 million, 1.7 million
# crosses), where the crosses never won (benchmarks/results/
# recipe_research.md, "Pairwise crosses in the linear solve").  Keeping only
# the pairs whose crosses recur on the validation rows cut Criteo's pairs
# by a quarter only, and cost Frappe all of its gain (its most useful pair
# recurs on a quarter of the rows); so does keeping only the crosses seen
# twice (-0.003 AUC on Frappe).  Those times are lbfgs'; newton-cg halved
# them (Frappe about 11 s), but admitting Adult (3.6 million) raised its
# mixed model's test AUC by 0.0001 for 13 s more per fit (recipe_research.md,
# fourth session, 5), so the bound stays.
MAX_CROSSED_ENTRIES = 3_000_000


def crossable_fields(layout):
    """The fields that can be crossed: categorical and indicator fields, and
    the fields of several sparse columns (one-hot blocks), whose rows name
    one category each.  Numeric, single sparse and multi-valued fields are
    not crossed."""
    return [
        field.field
        for field in layout.fields
        if field.kind in (CATEGORICAL, INDICATOR)
        or (field.kind == SPARSE and len(field.columns) > 1)
    ]


def field_pairs(fields):
    """Every pair of ``fields``, ``(n_pairs, 2)`` int64, in order."""
    left, right = np.triu_indices(len(fields), k=1)
    fields = np.asarray(fields, dtype=np.int64)
    return np.stack([fields[left], fields[right]], axis=1).reshape(-1, 2)


def cross_keys(categories, pairs):
    """The key of every row's cross of every pair, ``(n_rows, n_pairs)``
    int64, from each field's embedding row (``DeepFMNet.category_rows``);
    -1 where a field has no single value."""
    left = categories[:, pairs[:, 0]]
    right = categories[:, pairs[:, 1]]
    return np.where((left < 0) | (right < 0), -1, left * KEY_BASE + right)


def seen_keys(categories, pairs):
    """The sorted distinct keys of the crosses in the rows of
    ``categories`` (see :func:`cross_keys`)."""
    keys = _sorted_distinct(cross_keys(categories, pairs).ravel())
    return keys[keys >= 0]


def cross_matrix(categories, pairs, keys):
    """The crosses of the rows as a CSR 0/1 matrix of shape ``(n_rows,
    len(keys))``: column ``k`` is the cross of key ``keys[k]`` (crosses not
    in ``keys`` have no column)."""
    found = cross_keys(categories, pairs)
    n_rows = found.shape[0]
    position = _positions(keys, found)
    hit = position >= 0
    counts = hit.sum(axis=1)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    columns = position[hit].astype(np.int32)
    data = np.ones(columns.size, dtype=np.float32)
    return sp.csr_matrix((data, columns, indptr), shape=(n_rows, len(keys)))


def _sorted_distinct(values):
    """``np.unique(values)`` (int64), by a hash table where pandas is there:
    HR's 760,000 keys 7 against 23 ms."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas ships with the tests
        return np.unique(values)
    return np.sort(pd.unique(values))


def _positions(keys, found):
    """Where each of ``found`` is in the sorted distinct ``keys``; -1 where
    it is not."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas ships with the tests
        if not len(keys):
            return np.full(found.shape, -1, dtype=np.int64)
        position = np.searchsorted(keys, found).clip(max=len(keys) - 1)
        return np.where(keys[position] == found, position, -1)
    return pd.Index(keys).get_indexer(found.ravel()).reshape(found.shape)


def carry_crosses(weight, keys, new_keys):
    """``weight`` of a design whose last ``len(keys)`` columns are the crosses
    ``keys``, in the layout of the same design with the crosses ``new_keys``
    instead: the features' rows as they are, each cross's row where its key
    is in ``new_keys``, zero for the crosses only ``new_keys`` has."""
    n_features = weight.shape[0] - len(keys)
    carried = np.zeros((n_features + len(new_keys), *weight.shape[1:]), weight.dtype)
    carried[:n_features] = weight[:n_features]
    if len(new_keys):
        position = np.searchsorted(new_keys, keys).clip(max=len(new_keys) - 1)
        found = new_keys[position] == keys
        carried[n_features + position[found]] = weight[n_features:][found]
    return carried


class PairCrosses(nn.Module):
    """The crossed first-order term: ``weight[k]`` for each of a row's
    crosses seen in training (key ``keys[k]``), summed over the pairs.

    Empty (no pairs) until :meth:`set` gives it crosses; its buffers are
    saved with the model's weights and take their shapes from them on
    :meth:`load_state_dict`.
    """

    def __init__(self, n_outputs):
        super().__init__()
        self.key_base = KEY_BASE
        self.register_buffer("pairs", torch.zeros((0, 2), dtype=torch.long))
        self.register_buffer("keys", torch.zeros(0, dtype=torch.long))
        # the last row, zero, is the weight of a cross not seen in training
        self.register_buffer("weight", torch.zeros((1, n_outputs), dtype=torch.float32))

    def set(self, pairs, keys, weight):
        """Cross the pairs of fields ``pairs`` with the seen ``keys`` (sorted)
        and their weights ``(len(keys), n_outputs)``."""
        device = self.weight.device
        self.pairs = torch.as_tensor(pairs, dtype=torch.long, device=device)
        self.keys = torch.as_tensor(keys, dtype=torch.long, device=device)
        weight = torch.as_tensor(weight, dtype=self.weight.dtype, device=device)
        self.weight = torch.cat([weight, weight.new_zeros((1, weight.shape[1]))])

    def move_rows(self, new_rows):
        """Key the crosses by the embedding rows' new places after the input
        layout gained categories: row ``r`` moved to ``new_rows[r]`` (see
        ``DeepFMNet.grow``).  Without it, a cross's key would name other
        categories once an earlier field had grown."""
        if self.keys.shape[0] == 0:
            return
        moved = torch.as_tensor(new_rows, dtype=torch.long, device=self.keys.device)
        keys = (
            moved[self.keys // self.key_base] * self.key_base
            + moved[self.keys % self.key_base]
        )
        keys, order = torch.sort(keys)  # rows keep their order: a no-op today
        self.keys = keys
        self.weight = torch.cat([self.weight[:-1][order], self.weight[-1:]])

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("pairs", "keys", "weight"):
            saved = state_dict.get(prefix + name)
            if saved is not None:
                setattr(self, name, torch.empty_like(saved, device=self.weight.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, categories: Tensor) -> Tensor:
        """Long ``(batch, fields)``, each field's embedding row (-1: none or
        several, see ``DeepFM._category_rows``), to the crossed term
        ``(batch, outputs)``."""
        return F.embedding(self.codes(categories), self.weight).sum(dim=1)

    def codes(self, categories: Tensor) -> Tensor:
        """Row of ``weight`` of every cross, ``(batch, pairs)`` long (the
        last row for a cross not seen in training)."""
        left = categories.index_select(1, self.pairs[:, 0]).long()
        right = categories.index_select(1, self.pairs[:, 1]).long()
        key = left * self.key_base + right
        unseen = self.keys.shape[0]
        if unseen == 0:
            return torch.full_like(key, 0)
        if not torch.jit.is_scripting() and _exporting_to_onnx():
            position = _binary_search(self.keys, key)  # ONNX has no searchsorted
        else:
            position = torch.searchsorted(self.keys, key)
        position = position.clamp_(max=unseen - 1)
        hit = self.keys.index_select(0, position.flatten()).view_as(key) == key
        hit = hit & (left >= 0) & (right >= 0)
        return torch.where(hit, position, torch.full_like(position, unseen))

    def pair_terms(self, categories: Tensor) -> Tensor:
        """Each pair's crossed term, ``(batch, pairs, outputs)``."""
        if self.pairs.shape[0] == 0:
            n_rows = categories.shape[0]
            return self.weight.new_zeros((n_rows, 0, self.weight.shape[1]))
        return F.embedding(self.codes(categories), self.weight)


@torch.jit.unused
def _exporting_to_onnx() -> bool:
    return torch.onnx.is_in_onnx_export()


def _binary_search(keys: Tensor, key: Tensor) -> Tensor:
    """``torch.searchsorted(keys, key)`` in steps of fixed number (about
    log2 of the number of keys), each a gather and a comparison: ops ONNX
    has, where ``torch.onnx.export`` found no ``searchsorted``."""
    n = keys.shape[0]
    position = torch.zeros_like(key)  # the number of keys below key
    step = 1
    while step * 2 <= n:
        step *= 2
    while step > 0:
        candidate = position + step
        below = keys.index_select(0, (candidate - 1).clamp(max=n - 1).flatten())
        below = (candidate <= n) & (below.view_as(key) < key)
        position = torch.where(below, candidate, position)
        step //= 2
    return position


def single_rows(bag_rows: Tensor, bag_offsets: Tensor, n_rows: int) -> Tensor:
    """The embedding row of each bag holding exactly one entry, -1 for the
    others, ``(n_rows, n_bags)`` long (the bags as :func:`pool_bags` takes
    them; ``bag_offsets`` may point past ``bag_rows`` for empty bags).

    Written for ``torch.export`` with a dynamic batch: every size is
    ``n_rows * n_bags`` or one more, so the program serves any number of
    rows.  Slicing ``bag_offsets[1:]`` (``n_rows * n_bags - 1`` entries)
    made export demand 3 rows or more with a single bag field, and a
    symbolic ``n_bags`` made the exported program assert ``n_rows * n_bags
    >= 2``, failing one row with one bag.
    """
    n_bags = int(bag_offsets.shape[0] // n_rows) if n_rows > 0 else 0
    n_entries = bag_rows.shape[0]
    # bag b ends where bag b + 1 starts; the last ends at n_entries
    ends = torch.cat([bag_offsets, bag_offsets.new_full((1,), n_entries)])[1:]
    # an empty bag at the end starts at n_entries: it reads the -1 appended
    padded = torch.cat([bag_rows.long(), bag_offsets.new_full((1,), -1)])
    first = padded.index_select(0, bag_offsets)
    rows = torch.where(ends - bag_offsets == 1, first, torch.full_like(first, -1))
    return rows.view(n_rows, n_bags)
