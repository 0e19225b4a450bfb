"""Encoded rows, mini-batches cut from them, and the hold-out split.

Batches are built by indexing whole arrays with a slice or an index array,
never one row at a time, and are handed to skorch as ``(X_dict, y)`` where
``X_dict`` holds the keyword arguments of :class:`~sklearn_deepfm._model.DeepFM`.
"""

import numpy as np
import torch
from sklearn.model_selection import train_test_split


def _tensor(array):
    """``array`` as a tensor, sharing memory with a NumPy array."""
    return array if isinstance(array, torch.Tensor) else torch.from_numpy(array)


class RegularRows:
    """Rows with exactly one slot per field, slot ``f`` being field ``f``.

    Parameters
    ----------
    indices : ndarray or tensor of shape (n_samples, n_fields), int32 or int64
        Embedding row of each slot.  Tensors (see :meth:`EncodedDataset.to`)
        keep the rows on their device, and batches are gathered there.
    values : ndarray or tensor of shape (n_samples, n_fields), float32, or None
        Value of each slot; None when every value is 1 (categories only).
    """

    def __init__(self, indices, values=None):
        self.indices = indices
        self.values = values

    def __len__(self):
        return self.indices.shape[0]

    def subset(self, index):
        """These rows' ``index`` rows (an index array)."""
        values = None if self.values is None else self.values[index]
        return RegularRows(self.indices[index], values)

    def take(self, rows):
        """Model inputs for ``rows`` (a slice or an index array)."""
        batch = {"indices": _tensor(self.indices[rows])}
        if self.values is not None:
            batch["values"] = _tensor(self.values[rows])
        return batch

    @property
    def nbytes(self):
        return self.indices.nbytes + (0 if self.values is None else self.values.nbytes)


class BaggedRows:
    """Rows in which some fields, or all, are *bags*: any number of
    weighted embedding rows per row, pooled by the model into one vector
    per field (``nn.EmbeddingBag`` over flat rows and offsets, never padded).

    Parameters
    ----------
    indices : ndarray of shape (n_samples, n_slots), int32 or int64
        Embedding rows of the single-valued fields (one slot each, in field
        order); ``n_slots`` is 0 when every field is a bag.
    values : ndarray of shape (n_samples, n_slots), float32, or None
        Values of those slots; None when every value is 1.
    bags : scipy.sparse CSR matrix of shape (n_samples, n_embeddings)
        Entry ``(i, r)`` is the weight with which row ``i``'s bag uses
        embedding row ``r`` (1, a sparse value, or ``1 / n_values`` for
        mean pooling).  Float32, sorted indices.
    bag_of_row : ndarray of shape (n_embeddings,), int64
        Position among the bags of each embedding row's field (-1 for rows
        of single-valued fields).  Each bag's rows lie below the next
        bag's, so a row's sorted entries come bag by bag.
    """

    def __init__(self, indices, values, bags, bag_of_row):
        self.indices = indices
        self.values = values
        self.bags = bags
        self.bag_of_row = bag_of_row
        self.n_bags = int(bag_of_row.max(initial=-1)) + 1
        self.weighted = bool(np.any(bags.data != 1))

    def __len__(self):
        return self.bags.shape[0]

    def subset(self, index):
        """These rows' ``index`` rows (an index array)."""
        return BaggedRows(
            self.indices[index],
            None if self.values is None else self.values[index],
            self.bags[index],
            self.bag_of_row,
        )

    def take(self, rows):
        """Model inputs for ``rows``: the slots as in :class:`RegularRows`,
        and the bags as flat ``bag_rows``, ``bag_offsets`` (where each of
        the ``n_rows * n_bags`` bags starts, row by row) and ``bag_weights``
        (None when all are 1)."""
        if isinstance(rows, slice):
            start, stop, _ = rows.indices(self.bags.shape[0])
            lo, hi = self.bags.indptr[start], self.bags.indptr[stop]
            indptr = self.bags.indptr[start : stop + 1] - lo
            columns, data = self.bags.indices[lo:hi], self.bags.data[lo:hi]
        else:
            sub = self.bags[rows]
            indptr, columns, data = sub.indptr, sub.indices, sub.data
        n_rows = indptr.size - 1
        row_of_entry = np.repeat(np.arange(n_rows), np.diff(indptr))
        bag = row_of_entry * self.n_bags + self.bag_of_row[columns]
        counts = np.bincount(bag, minlength=n_rows * self.n_bags)
        offsets = np.zeros(n_rows * self.n_bags, dtype=np.int64)
        np.cumsum(counts[:-1], out=offsets[1:])
        batch = RegularRows(self.indices, self.values).take(rows)
        batch["bag_rows"] = torch.from_numpy(columns.astype(np.int64))
        batch["bag_offsets"] = torch.from_numpy(offsets)
        if self.weighted:
            batch["bag_weights"] = torch.from_numpy(np.ascontiguousarray(data))
        return batch

    @property
    def nbytes(self):
        bags = self.bags.data.nbytes + self.bags.indices.nbytes
        return RegularRows(self.indices, self.values).nbytes + bags


class EncodedDataset(torch.utils.data.Dataset):
    """Encoded rows with their targets and sample weights.

    Parameters
    ----------
    rows : RegularRows or BaggedRows
    y : ndarray of shape (n_samples,) or None
        Float32 targets for BCE/MSE, int64 class indices for cross-entropy.
        Batches then carry the sample weights as ``X_dict["sample_weight"]``.
    sample_weight : ndarray of shape (n_samples,), float32, or None
    device : torch.device or None
        Where the rows, targets and weights are held as tensors (see
        :meth:`to`); None for NumPy arrays in main memory.
    """

    def __init__(self, rows, y=None, sample_weight=None, device=None):
        self.rows = rows
        self.y = y
        self.sample_weight = sample_weight
        self.device = device
        self._copies = {}

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.batch(np.atleast_1d(index))

    def subset(self, index):
        """A new dataset with the rows ``index`` (an index array)."""
        return EncodedDataset(
            self.rows.subset(index),
            None if self.y is None else self.y[index],
            None if self.sample_weight is None else self.sample_weight[index],
        )

    def batch(self, rows):
        """``(X_dict, y)`` tensors for ``rows``; X_dict holds the sample weights."""
        if self.device is not None and not isinstance(rows, slice):
            rows = torch.from_numpy(rows).to(self.device)
        X = self.rows.take(rows)
        if self.y is None:
            return X, None
        X["sample_weight"] = _tensor(self.sample_weight[rows])
        return X, _tensor(self.y[rows])

    @property
    def nbytes(self):
        """Bytes of the rows, targets and weights."""
        return self.rows.nbytes + sum(
            0 if array is None else array.nbytes
            for array in (self.y, self.sample_weight)
        )

    def to(self, device):
        """This dataset with its rows, targets and weights as tensors on
        ``device``, so that batches are gathered there; one copy per device.

        Only for :class:`RegularRows`.
        """
        device = torch.device(device)
        if device not in self._copies:
            rows = RegularRows(
                torch.as_tensor(self.rows.indices, device=device),
                None
                if self.rows.values is None
                else torch.as_tensor(self.rows.values, device=device),
            )
            self._copies[device] = EncodedDataset(
                rows,
                None if self.y is None else torch.as_tensor(self.y, device=device),
                None
                if self.sample_weight is None
                else torch.as_tensor(self.sample_weight, device=device),
                device=device,
            )
        return self._copies[device]


class BatchIterator:
    """Iterate over a dataset in mini-batches, reshuffled every epoch.

    Parameters
    ----------
    dataset : EncodedDataset
    batch_size : int
    shuffle : bool
    random_state : numpy.random.Generator or None
        Source of the shuffling order (required when ``shuffle``).
    copy_to : torch.device or None
        CUDA device to which each batch is copied from pinned memory without
        waiting (``non_blocking``); None leaves batches where they are.
    min_rows : int
        A last batch of fewer rows joins the batch before it (batch
        normalisation cannot train on one row).
    """

    def __init__(
        self,
        dataset,
        batch_size,
        shuffle=False,
        random_state=None,
        copy_to=None,
        min_rows=1,
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.copy_to = copy_to
        self.min_rows = min_rows

    def __len__(self):
        return len(self._starts()) - 1

    def __iter__(self):
        for rows in self._row_batches():
            X, y = self.dataset.batch(rows)
            if self.copy_to is not None:
                X = {key: self._copy(value) for key, value in X.items()}
                y = None if y is None else self._copy(y)
            yield X, y

    def _row_batches(self):
        starts = self._starts()
        if self.shuffle:
            order = self.random_state.permutation(len(self.dataset))
            for start, end in zip(starts[:-1], starts[1:], strict=True):
                yield np.sort(order[start:end])
        else:
            for start, end in zip(starts[:-1], starts[1:], strict=True):
                yield slice(start, end)

    def _starts(self):
        """Where each batch starts, and the end of the rows."""
        n_samples = len(self.dataset)
        if 0 < n_samples < self.min_rows:
            raise ValueError(
                f"batch_norm=True cannot train on fewer than {self.min_rows} "
                f"rows, and these are {n_samples}. Pass more rows, or fit with "
                "batch_norm=False (a partial_fit stream goes on with the "
                "batch_norm it started with: pass more rows per call)."
            )
        starts = list(range(0, n_samples, self.batch_size)) + [n_samples]
        if len(starts) > 2 and starts[-1] - starts[-2] < self.min_rows:
            del starts[-2]
        return starts

    def _copy(self, tensor):
        return tensor.pin_memory().to(self.copy_to, non_blocking=True)


class StepBatchIterator(BatchIterator):
    """One process's training batches when several processes train one model.

    Every process takes the same steps: ``ceil(sum(shards) / batch_size)``,
    less any that no process has a row for.  A process cuts its rows,
    reshuffled every epoch, into batches of sizes as even as
    :func:`numpy.array_split` makes them, whatever its number of rows; a
    shard with fewer rows than steps takes some steps empty.  Each batch
    carries ``step_scale = world_size / step_rows[k]`` per row, where
    ``step_rows[k]`` is the rows of step ``k`` over all processes: summing a
    batch's losses times it, then averaging the gradients over the
    processes (as the net does after every backward pass), gives the
    gradient of the mean loss over the rows of step ``k`` of all processes.

    Parameters
    ----------
    dataset : EncodedDataset
        This process's rows.
    shards : sequence of int
        Rows of every process (this one's among them), the same sequence on
        every process.
    batch_size : int
        Rows of one step over all processes.
    random_state : numpy.random.Generator
    copy_to : torch.device or None
    min_rows : int
        Fewest rows of a process's batch that is not empty (2 with batch
        normalisation, which cannot train on one row).  A shard with fewer
        than ``min_rows`` rows per step fills fewer steps, each of
        ``min_rows`` rows or more, and takes the others empty: the steps
        stay those of every process.  A shard of 1 to ``min_rows - 1`` rows
        cannot, and raises a ValueError, the same on every process.
    """

    def __init__(
        self, dataset, shards, batch_size, random_state, copy_to=None, min_rows=1
    ):
        super().__init__(
            dataset,
            batch_size,
            shuffle=True,
            random_state=random_state,
            copy_to=copy_to,
            min_rows=min_rows,
        )
        _check_shards(shards, min_rows)
        n_steps = max(1, -(-int(sum(shards)) // batch_size))
        step_rows = sum(_shard_steps(int(n), n_steps, min_rows) for n in shards)
        used = step_rows > 0
        self.batch_rows = _shard_steps(len(dataset), n_steps, min_rows)[used]
        self.step_scale = (len(shards) / step_rows[used]).astype(np.float32)

    def __len__(self):
        return self.step_scale.size

    def __iter__(self):
        order = self.random_state.permutation(len(self.dataset))
        batches = np.split(order, np.cumsum(self.batch_rows)[:-1])
        for scale, rows in zip(self.step_scale, batches, strict=True):
            X, y = self.dataset.batch(np.sort(rows))
            X["step_scale"] = torch.full((len(rows),), float(scale))
            if self.copy_to is not None:
                X = {key: self._copy(value) for key, value in X.items()}
                y = None if y is None else self._copy(y)
            yield X, y


def _shard_steps(n_rows, n_steps, min_rows):
    """Rows of each of ``n_steps`` steps for a shard of ``n_rows``, as even
    as :func:`numpy.array_split` cuts them; over the first ``n_rows //
    min_rows`` steps alone where a cut over all would give a step fewer than
    ``min_rows`` rows (3 rows in 5 steps, ``min_rows=2``: 3, 0, 0, 0, 0
    rather than 1, 1, 1, 0, 0)."""
    n_filled = n_steps
    if min_rows > 1:
        n_filled = max(1, min(n_steps, n_rows // min_rows))
    rows = np.zeros(n_steps, dtype=np.int64)
    rows[:n_filled] = n_rows // n_filled + (np.arange(n_filled) < n_rows % n_filled)
    return rows


def _check_shards(shards, min_rows):
    """Raise where a shard is too small for a batch of ``min_rows`` rows:
    every process checks the same shards, so every one raises, at the same
    point, and none waits for the others."""
    if any(0 < n < min_rows for n in shards):
        raise ValueError(
            f"distributed=True: batch normalisation (batch_norm=True) cannot "
            f"train on a batch of fewer than {min_rows} rows, and the "
            f"processes' training rows are {[int(n) for n in shards]} (in rank "
            f"order): a process with fewer than {min_rows} rows would train on "
            f"such a batch. Give every process at least {min_rows} training "
            "rows (with early_stopping, fit holds validation_fraction of them "
            "out), or set batch_norm=False."
        )


class HoldoutSplit:
    """skorch ``train_split``: a seeded hold-out, stratified for classifiers.

    Parameters
    ----------
    fraction : float
        Share of the rows held out for validation.
    stratify : bool
        Whether to keep the class proportions in both parts.
    random_state : int
    """

    def __init__(self, fraction, stratify, random_state):
        self.fraction = fraction
        self.stratify = stratify
        self.random_state = random_state

    def __call__(self, dataset, y=None, **fit_params):
        index = np.arange(len(dataset))
        labels = dataset.y if self.stratify else None
        train, valid = train_test_split(
            index,
            test_size=self.fraction,
            stratify=labels,
            random_state=self.random_state,
        )
        if self.stratify:
            rng = np.random.default_rng(self.random_state)
            train, valid = _each_class_in_both(train, valid, labels, rng)
        return dataset.subset(np.sort(train)), dataset.subset(np.sort(valid))


def _each_class_in_both(train, valid, labels, rng):
    """Move a row of each class that the stratified split left out of one
    part, from the other part where it has two rows or more (a class of 3
    rows in 3,000 got no validation row, and the recipe's decisions then
    never saw it)."""
    _, codes = np.unique(labels, return_inverse=True)
    n_classes = codes.max() + 1
    counts = [np.bincount(codes[part], minlength=n_classes) for part in (train, valid)]
    parts = [train, valid]
    for source, target in ((0, 1), (1, 0)):
        for code in np.flatnonzero((counts[target] == 0) & (counts[source] >= 2)):
            row = rng.choice(parts[source][codes[parts[source]] == code])
            parts[source] = parts[source][parts[source] != row]
            parts[target] = np.append(parts[target], row)
    return parts[0], parts[1]
