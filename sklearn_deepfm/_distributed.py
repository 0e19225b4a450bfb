"""One model trained by several processes (``distributed=True``).

Each process of torch.distributed's default process group calls ``fit`` on
its own shard of the rows; all of them end with the model one process would
fit on the union of the shards.  This module is everything the estimator and
the net ask of the process group:

* gathered once per fit (``all_gather_object``): the input's field summaries
  (categories, numeric moments, the evidence of sparse fields), the class
  labels, the target's and the sample weights' sums, the shard sizes;
* summed over the processes, identically on every one (gathered, then added
  in rank order): the first-order objective and its gradient at every
  L-BFGS step (:mod:`~sklearn_deepfm._linear_lbfgs`), the epoch losses and
  the statistics of ``keep_interactions``;
* averaged after every backward pass (:func:`average_gradients`): the
  gradients, the sparse embedding gradients as rows and values.

Every process takes the same number of training steps per epoch (see
:class:`~sklearn_deepfm._batching.StepBatchIterator`), so shards of unequal
sizes never leave one waiting.

Every collective here is waited for before its function returns: nothing is
in flight when ``fit`` returns.  That is why the gradients are not averaged by
:class:`~torch.nn.parallel.DistributedDataParallel`: its constructor imports
``torch._dynamo``, which imports ``torch.distributed.nn``, whose functions
keep the default process group as a default argument.  The group then
outlives ``destroy_process_group()``, and its gloo threads outlive the script
into the interpreter's shutdown, where one that still releases a finished
collective's tensors aborts the process ("terminate called without an active
exception").  DDP also reduces sparse gradients with ATen operations on a gloo
thread while the backward pass goes on.  With DDP the scaling guide's script
failed in 2 of 50 runs back to back on a 2-core Intel machine (a process
aborting in training, "malloc(): unaligned tcache chunk detected", or a
segmentation fault) and in 14 of 55 elsewhere (at exit); 0 of 50 without.
"""

import itertools

import numpy as np
import torch
from torch import distributed as dist

from ._categorical import _object_array, _sorted_labels
from ._fields import field_evidence, fields_from_evidence
from ._layout import CATEGORICAL, MULTIVALUED, NUMERIC
from ._numeric import root_mean_square, spread_or_one
from ._sparse import _as_csr

if dist.is_available():
    # Imported now, before a process group exists, its functions' default
    # group is None.  Imported later (torch's own optimizers, SGD and AdamW
    # among them, import torch._dynamo, which imports it), they kept the
    # default group, whose gloo threads then outlived destroy_process_group()
    # into the interpreter's shutdown: the abort at exit described above.
    import torch.distributed.nn  # noqa: F401


def enabled(distributed):
    """Whether this fit is one of several processes' fits of one model.

    ``distributed=True`` needs an initialised default process group (an
    error says so otherwise) and is a no-op in a group of one process.
    """
    if not distributed:
        return False
    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError(
            "distributed=True trains one model over the processes of "
            "torch.distributed's default process group, and none is "
            "initialised. Call torch.distributed.init_process_group() in every "
            "process first (torchrun sets the environment it reads), or set "
            "distributed=False."
        )
    return dist.get_world_size() > 1


def gather(value):
    """``value`` of every process, in rank order (any picklable object)."""
    values = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return values


def all_sum(*values):
    """Each of ``values`` (numbers or arrays) summed over the processes, in
    rank order, so that every process gets the same bits; float64."""
    parts = gather(values)
    totals = []
    for i in range(len(values)):
        total = np.array(parts[0][i], dtype=np.float64)
        for part in parts[1:]:
            total += part[i]
        totals.append(total if total.ndim else float(total))
    return totals


def union(values):
    """The sorted distinct values of ``values`` over all processes."""
    return np.unique(np.concatenate(gather(np.asarray(values))))


def union_of_labels(classes):
    """The sorted class labels of every process's ``classes``; a ValueError
    on every process where they mix strings and numbers, as scikit-learn's
    ``unique_labels`` refuses them in one fit (merged, 0/1 on one process
    and 'no'/'yes' on the other made a model of four classes)."""
    from sklearn.utils.multiclass import unique_labels

    parts = gather(np.asarray(classes))
    try:
        unique_labels(*parts)
    except ValueError as error:
        raise ValueError(
            f"distributed=True: the processes' class labels are "
            f"{[part.tolist() for part in parts]} (in rank order), and one fit "
            f"on all rows would refuse them: {str(error).rstrip('.')}. Give y the "
            "same type on every process."
        ) from None
    return np.unique(np.concatenate(parts))


def same_classes(classes):
    """Raise on every process unless all of them give ``partial_fit`` the
    same ``classes`` (each ``np.unique``-sorted): the model's outputs are
    the classes in that order."""
    parts = gather(np.asarray(classes))
    if any(
        part.shape != parts[0].shape or not np.array_equal(part, parts[0])
        for part in parts
    ):
        raise ValueError(
            f"distributed=True: partial_fit's classes differ between the "
            f"processes ({[part.tolist() for part in parts]}, in rank order). "
            "Give every process the same classes: every label that will ever "
            "appear in any process's y."
        )


# Settings that may differ from one process to the next: where each runs and
# what it prints; every other parameter makes the model, and a difference
# hung the processes (max_epochs) or left them with different models (lr).
LOCAL_SETTINGS = ("callbacks", "device", "n_jobs", "verbose")


def _digest(value):
    """A digest of a parameter's value that every process computes alike
    and never fails (a failure on one process left the other waiting): a
    class or function pickle cannot reach (defined in a function, as in a
    Ray training loop) is known by its name, other such values by type."""
    from joblib import hash as digest

    try:
        return digest(value)
    except Exception:
        if callable(value):
            return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
        return f"a {type(value).__qualname__}"


def same_settings(params):
    """Raise on every process unless all of them fit with the same
    ``params`` (``get_params(deep=False)``) but for LOCAL_SETTINGS."""
    mine = {
        name: _digest(value)
        for name, value in params.items()
        if name not in LOCAL_SETTINGS
    }
    parts = gather(mine)
    differing = sorted(
        name for name in mine if any(part.get(name) != mine[name] for part in parts)
    )
    if differing:
        raise ValueError(
            f"distributed=True: the processes fit with different {differing}; "
            "every process must fit one model with the same parameters "
            f"(only {list(LOCAL_SETTINGS)} may differ)."
        )


def row_offset(n_rows):
    """Where this process's ``n_rows`` rows start among every process's rows,
    taken in rank order (as one fit on all of them would read them)."""
    sizes = gather(int(n_rows))
    return int(sum(sizes[: dist.get_rank()]))


def common(values):
    """The sorted values of ``values`` that every process holds."""
    held = [set(np.asarray(part).tolist()) for part in gather(list(values))]
    return sorted(set.intersection(*held))


def mean_and_error(values, shared=True):
    """Mean of ``values`` and the standard error of that mean, over every
    process's rows when ``shared``, else over this process's.  One row gives
    no estimate of the error: it is infinite then, so that no difference
    counts as clear (the recipe keeps the linear model)."""
    if not shared:
        n_rows = values.size
        error = values.std(ddof=1) / np.sqrt(n_rows) if n_rows > 1 else np.inf
        return values.mean(), error
    total, n_rows = all_sum(values.sum(), values.size)
    mean = total / n_rows
    (squares,) = all_sum(np.sum((values - mean) ** 2))
    if n_rows < 2:
        return mean, np.inf
    return mean, np.sqrt(squares / (n_rows - 1)) / np.sqrt(n_rows)


def share_module(module):
    """Give every process process 0's parameters and buffers, after checking
    that the processes' modules have the same shapes."""
    shapes = [tuple(tensor.shape) for tensor in module.state_dict().values()]
    if any(other != shapes for other in gather(shapes)):
        raise ValueError(
            "distributed=True: the processes' models have different shapes; "
            "every process must fit the same estimator, with the same "
            "parameters, on shards of the same columns."
        )
    with torch.no_grad():
        for param in module.parameters():
            dist.broadcast(param, src=0)
    broadcast_buffers(module)


def broadcast_buffers(module):
    """Give every process process 0's buffers (batch-norm statistics, which
    each process updates on its own rows)."""
    for buffer in module.buffers():
        dist.broadcast(buffer, src=0)


def average_gradients(dense, sparse):
    """Replace the gradient of every parameter by its mean over the
    processes, the same bits on every process.

    The gradients of ``dense`` are summed in one all-reduce.  Those of
    ``sparse`` (the tables of ``nn.Embedding(sparse=True)``) are sparse: the
    rows and values of every process are gathered and added in rank order.
    A missing gradient counts as zero.
    """
    world = dist.get_world_size()
    if dense:
        flat = torch.cat(
            [
                p.grad.reshape(-1) if p.grad is not None else p.new_zeros(p.numel())
                for p in dense
            ]
        )
        dist.all_reduce(flat)
        flat /= world
        parts = flat.split([p.numel() for p in dense])
        for param, part in zip(dense, parts, strict=True):
            param.grad = part.view_as(param)
    for param in sparse:
        param.grad = _sparse_mean(param, world)


def _sparse_mean(param, world):
    """The mean over the processes of ``param``'s sparse gradient, coalesced."""
    grad = param.grad
    if grad is None:
        grad = torch.sparse_coo_tensor(
            param.new_zeros((1, 0), dtype=torch.int64),
            param.new_zeros((0, *param.shape[1:])),
            param.shape,
            check_invariants=True,
        )
    rows, values = grad._indices()[0], grad._values()
    counts = [rows.new_zeros(1) for _ in range(world)]
    dist.all_gather(counts, rows.new_full((1,), rows.numel()))
    counts = [int(count) for count in counts]
    longest = max(counts)
    padded_rows = rows.new_zeros(longest)
    padded_rows[: rows.numel()] = rows
    padded_values = values.new_zeros((longest, *values.shape[1:]))
    padded_values[: rows.numel()] = values
    all_rows = [torch.empty_like(padded_rows) for _ in range(world)]
    all_values = [torch.empty_like(padded_values) for _ in range(world)]
    dist.all_gather(all_rows, padded_rows)
    dist.all_gather(all_values, padded_values)
    rows = torch.cat([r[:n] for r, n in zip(all_rows, counts, strict=True)])
    values = torch.cat([v[:n] for v, n in zip(all_values, counts, strict=True)])
    mean = torch.sparse_coo_tensor(
        rows.unsqueeze(0), values / world, param.shape, check_invariants=True
    )
    return mean.coalesce()


def mean_weight(sample_weight):
    """Mean sample weight over every process's rows of positive weight."""
    total, n_rows = all_sum(sample_weight.sum(), np.count_nonzero(sample_weight))
    return total / max(n_rows, 1)


def target_spread(y, sample_weight):
    """Weighted mean and standard deviation of ``y`` over every process's
    rows."""
    y = np.asarray(y, dtype=np.float64)
    weight, weighted = all_sum(sample_weight.sum(), np.dot(sample_weight, y))
    mean = weighted / weight
    spread = root_mean_square(
        y - mean, sample_weight, all_sum, lambda values: max(sum(gather(values), []))
    )
    return float(mean), spread


# the input ----------------------------------------------------------------
def share_encoder(encoder, X, feature_names):
    """Make the fitted ``encoder`` what ``fit`` would make of every process's
    rows together: the same fields, categories (in ``fit``'s order) and
    numeric scaling on every process."""
    widths = gather(X.shape[1])
    if len(set(widths)) > 1:
        raise ValueError(
            f"distributed=True: the processes' inputs have different numbers "
            f"of columns ({widths}, in rank order); every shard must have the "
            "same columns."
        )
    # matched by position, columns in another order had been mixed into one
    # field (names on some processes only are allowed: arrays beside frames)
    names = gather(None if feature_names is None else list(feature_names))
    named = [part for part in names if part is not None]
    if any(part != named[0] for part in named):
        rank = next(i for i, part in enumerate(names) if part not in (None, named[0]))
        raise ValueError(
            f"distributed=True: the columns of process {rank} are not those of "
            f"the first process with names, or not in the same order "
            f"({names[rank]} against {named[0]}); every shard must have the "
            "same columns in the same order."
        )
    if encoder.layout_.sparse:
        if encoder.fields is None:
            # one rule for all rows: the field evidence of every shard, merged
            parts = gather(field_evidence(_as_csr(X)))
            numeric = np.logical_or.reduce([part[0] for part in parts])
            previous = np.maximum.reduce([part[1] for part in parts])
            encoder.fields = fields_from_evidence(numeric, previous)
            encoder.fit(X, feature_names)
        else:
            # a field is multi-valued if it is in any shard (0/1 in all)
            parts = gather(encoder.multivalued_evidence(X))
            binary = np.logical_and.reduce([part[0] for part in parts])
            several = np.logical_or.reduce([part[1] for part in parts])
            encoder.fit(X, feature_names, evidence=(binary, several))
        return
    parts = gather(encoder.field_summaries(X, feature_names))
    _check_same_reading(parts, encoder.categorical_features, feature_names)
    categories, scaling, lists = [], [], []
    for fields in zip(*parts, strict=True):
        # a column of lists where any process holds some (it may hold no
        # value at all on another: a shard from before the column had any)
        lists.append(any(field["kind"] == MULTIVALUED for field in fields))
        known = [field["categories"] for field in fields if "categories" in field]
        categories.append(np.concatenate(known) if known else None)
        scaling.append(
            _pooled_scaling([f["moments"] for f in fields])
            if fields[0]["kind"] == NUMERIC
            else None
        )
    encoder.set_fields(categories, scaling, lists)
    encoder.warn_empty(X, feature_names)  # of columns empty on every process


def share_unseen(unseen):
    """Per field, the categories without a row yet that any process's rows
    hold (``FeatureEncoder.unseen_categories`` of every process, merged and
    sorted as it sorts them), so that every process grows the same rows."""
    merged = []
    for fields in zip(*gather(unseen), strict=True):
        new = np.concatenate([np.asarray(field) for field in fields])
        if new.dtype == object:
            merged.append(_object_array(_sorted_labels(new)))
        else:
            merged.append(np.unique(new))
    return merged


def share_lists(lists):
    """The fields that any process's rows turn into multi-valued fields
    (``FeatureEncoder.lists_to_come`` of every process), sorted."""
    return sorted(set().union(*gather(list(lists))))


def _check_same_reading(parts, categorical_features, feature_names):
    """Raise when the processes read the columns differently; one fit on all
    rows would read them one way."""
    readings = [_reading(part) for part in parts]
    reference = readings[0]
    for one, rank in itertools.combinations(range(len(readings)), 2):
        if len(readings[one]) != len(readings[rank]) or not all(
            map(_agree, readings[one], readings[rank])
        ):
            column, first, other = _first_difference(readings[one], readings[rank])
            kinds = {first.split(" (")[0], other.split(" (")[0]}
            if kinds == {CATEGORICAL, MULTIVALUED}:
                raise ValueError(
                    f"distributed=True: {_describe(column, feature_names)} is "
                    f"{first} on process {one} and {other} on process {rank}: "
                    "a column of lists is one multi-valued field, and every "
                    "cell must then be a list (or None when missing), on every "
                    "process: wrap single values in a list."
                )
            if kinds == {MULTIVALUED} or {first, other} == {
                "categorical (labels)",
                "categorical (integer codes)",
            }:
                lists = "lists of " if kinds == {MULTIVALUED} else ""
                raise ValueError(
                    f"distributed=True: {_describe(column, feature_names)} holds "
                    f"{lists}{first.split('(')[1][:-1]} on process {one} and "
                    f"{lists}{other.split('(')[1][:-1]} on process {rank}: give "
                    "the values the same type on every process (strings, for "
                    "example), so that a code and its digits as a label are "
                    "not two categories."
                )
            raise ValueError(
                f"distributed=True: the processes read the input differently: "
                f"{_describe(column, feature_names)} is {first} on process {one} "
                f"and {other} on process {rank}, because categorical_features="
                f"{categorical_features!r} reads each process's own rows. Pass "
                "categorical_features explicitly (a boolean mask, indices or "
                "names), which also reads dense 0/1 columns one by one, so that "
                "every process reads every column the same way."
            )
    if not (isinstance(categorical_features, str) and categorical_features == "auto"):
        return
    for field in range(len(reference)):
        negatives = np.unique(
            np.concatenate([part[field].get("negatives", []) for part in parts])
        )
        if negatives.size > 1:
            column = reference[field][0][0]
            raise ValueError(
                f"distributed=True: {_describe(column, feature_names)} holds the "
                f"negative codes {negatives.tolist()} across the processes; "
                "categorical_features='auto' reads a column with more than one "
                "negative code as numeric, and each process saw only one. Pass "
                "categorical_features explicitly, or the column as strings where "
                "its negative codes are categories of their own (a categorical "
                "column reads every negative code as missing)."
            )


def _reading(summaries):
    """(columns, how they are read) of every field."""
    reading = []
    for field in summaries:
        kind = field["kind"]
        if "labels" in field:
            labels = field["labels"]
            if labels is None:  # a multi-valued column that held no value
                kind += UNDECIDED
            else:
                kind += " (labels)" if labels else " (integer codes)"
        reading.append((field["columns"], kind))
    return reading


UNDECIDED = " (no values)"


def _agree(first, second):
    """Whether two processes read a field alike: a multi-valued column that
    held no value on one of them agrees with either kind of values."""
    if first == second:
        return True
    (columns, kind), (other_columns, other_kind) = first, second
    undecided = [k for k in (kind, other_kind) if k.endswith(UNDECIDED)]
    base = {k.split(" (")[0] for k in (kind, other_kind)}
    # a column of single labels that held no value agrees with lists too
    alike = len(base) == 1 or (
        base == {CATEGORICAL, MULTIVALUED}
        and (len(undecided) == 2 or all(k.startswith(CATEGORICAL) for k in undecided))
    )
    return columns == other_columns and bool(undecided) and alike


def _first_difference(reference, reading):
    kinds, blocks = [], []
    for fields in (reference, reading):
        kinds.append({c: kind for columns, kind in fields for c in columns})
        blocks.append({c: columns for columns, _ in fields for c in columns})
    for column in sorted(kinds[0]):
        if kinds[0][column] != kinds[1][column]:
            return column, kinds[0][column], kinds[1][column]
        if blocks[0][column] != blocks[1][column]:
            return (
                column,
                f"in the field of columns {list(blocks[0][column])}",
                f"in the field of columns {list(blocks[1][column])}",
            )
    raise AssertionError("readings differ but no column does")  # pragma: no cover


def _describe(column, feature_names):
    if feature_names is None:
        return f"column {column}"
    return f"column {column} ({feature_names[column]!r})"


def _pooled_scaling(moments):
    """(mean, scale) of the union from every shard's (rows, mean, sum of
    squared deviations), as numpy's mean and std of the union give them to
    rounding."""
    rows = np.array([m[0] for m in moments], dtype=np.float64)
    means = np.array([m[1] for m in moments])
    squares = np.array([m[2] for m in moments])
    mean = float(np.dot(rows, means) / rows.sum())
    total = squares.sum() + np.dot(rows, (means - mean) ** 2)
    std = float(np.sqrt(total / rows.sum()))
    return mean, spread_or_one(std, mean)
