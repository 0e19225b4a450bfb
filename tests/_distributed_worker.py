"""One process of the two-process training run of ``test_distributed.py``.

Run as ``python _distributed_worker.py RANK WORLD_SIZE PORT OUT_DIR
[SCENARIO]``: joins a gloo process group on 127.0.0.1, fits the estimators
of :func:`fits` (or of the smaller ``SCENARIO`` of :data:`SCENARIOS`) on
this rank's shard with ``distributed=True`` and pickles what the test
compares into ``OUT_DIR/rank<RANK>.pkl``.
"""

import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from skorch.callbacks import Callback

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor

SETTINGS = {
    "hidden_units": (32,),
    "lr": 1e-2,
    "max_epochs": 20,
    "random_state": 0,
    "n_jobs": 1,
}

# Rows of rank 0; rank 1 gets the rest (fewer): shards of unequal sizes.
SPLIT = 2300
N_ROWS = 4000


def make_data(n_rows=N_ROWS, seed=0):
    """Click-like rows: string and integer-coded categories and a number; the
    label depends on an interaction.  Category 'only_on_1' of column 'site'
    appears in the rows of rank 1 alone."""
    rng = np.random.default_rng(seed)
    site = rng.choice(["s0", "s1", "s2", "s3", "s4"], size=n_rows).astype(object)
    site[SPLIT + 7 :: 50] = "only_on_1"
    app = rng.integers(0, 8, size=n_rows)
    device = rng.integers(0, 4, size=n_rows)
    price = rng.gamma(2.0, 3.0, size=n_rows)
    logit = (
        3.0 * ((app % 4) == device)
        + 1.0 * (site == "s1")
        - 0.2 * price
        + 1.0 * (site == "only_on_1")
    )
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({"site": site, "app": app, "device": device, "price": price})
    target = logit + rng.normal(scale=0.3, size=n_rows)
    return frame, y, target


CATEGORIES = ["site", "app", "device"]


def with_age(X, rank=None):
    """``X`` (a shard, or all rows) with whole years whose effect rises with
    them, and labels that follow the years."""
    rng = np.random.default_rng(5)
    age = rng.integers(20, 60, size=N_ROWS)
    y = (rng.random(N_ROWS) < 1 / (1 + np.exp(-(age - 40) / 6))).astype(int)
    if rank is not None:
        age, y = shard(rank, age, y)
    return X.assign(age=age), y


def with_weight(X, rank=None):
    """``X`` (a shard, or all rows) with a whole number per row or nearly
    (``weight``) whose logarithm the labels follow."""
    rng = np.random.default_rng(6)
    weight = rng.integers(10_000, 2_000_000, size=N_ROWS)
    y = rng.random(N_ROWS) < 1 / (1 + np.exp(-1.5 * (np.log(weight) - 13.2)))
    y = y.astype(int)
    if rank is not None:
        weight, y = shard(rank, weight, y)
    return X.assign(weight=weight), y


def one_hot():
    from sklearn.preprocessing import OneHotEncoder

    X, _, _ = make_data()
    return OneHotEncoder(handle_unknown="ignore").fit(X[CATEGORIES])


def shard(rank, *arrays):
    rows = slice(0, SPLIT) if rank == 0 else slice(SPLIT, None)
    return [a.iloc[rows] if hasattr(a, "iloc") else a[rows] for a in arrays]


def parameters(model):
    return {
        name: tensor.detach().cpu().numpy().copy()
        for name, tensor in model.net_.module_.state_dict().items()
    }


def fits(rank):
    frame, y, target = make_data()
    X, y_shard, target_shard = shard(rank, frame, y, target)
    out = {}
    clf = DeepFMClassifier(distributed=True, **SETTINGS).fit(X, y_shard)
    out["classifier"] = {
        "parameters": parameters(clf),
        "layout": clf.input_layout_,
        "history": [
            (row.get("valid_loss"), row.get("best_epoch")) for row in clf.history_
        ],
        "C": clf.linear_C_,
        "kept": clf.interactions_kept_,
        "crosses": clf.crosses_kept_,
        "retrained": clf.history_[-1].get("retrained_epochs"),
        "pickle": pickle.dumps(clf) if rank == 0 else None,
    }
    reg = DeepFMRegressor(distributed=True, **SETTINGS).fit(X, target_shard)
    out["regressor"] = {
        "parameters": parameters(reg),
        "scale": (reg._y_mean, reg._y_scale),
        "pickle": pickle.dumps(reg) if rank == 0 else None,
    }
    # three classes, the third absent from rank 1's rows
    y_multi = np.asarray(X["app"]) % 3
    keep = slice(None) if rank == 0 else y_multi != 2
    multi = DeepFMClassifier(distributed=True, class_weight="balanced", **SETTINGS).fit(
        X[keep], y_multi[keep]
    )
    out["multiclass"] = {"parameters": parameters(multi), "classes": multi.classes_}
    # a one-hot matrix (the encoder fitted on every row, so that the columns
    # mean the same on every process): the fields are inferred from all rows
    sparse = DeepFMClassifier(distributed=True, **SETTINGS).fit(
        one_hot().transform(X[CATEGORIES]), y_shard
    )
    out["sparse"] = {"parameters": parameters(sparse), "fields": sparse.fields_}
    # partial_fit: category 'late' first comes in the second call, on rank 1
    stream = DeepFMClassifier(distributed=True, **SETTINGS)
    half = len(y_shard) // 2
    stream.partial_fit(X.iloc[:half], y_shard[:half], classes=[0, 1])
    later = X.iloc[half:].copy()
    if rank == 1:
        later.iloc[::10, 0] = "late"
    stream.partial_fit(later, y_shard[half:])
    out["stream"] = {"parameters": parameters(stream), "layout": stream.input_layout_}
    # a column of lists: tag 'only_on_1' is on rank 1 alone, 'late' first
    # comes in a second partial_fit call on rank 1
    tags = pd.DataFrame(
        {
            "tags": [
                [s, f"a{a}"] if a else []
                for s, a in zip(X["site"], X["app"], strict=True)
            ]
        }
    )
    lists = DeepFMClassifier(distributed=True, **SETTINGS)
    lists.partial_fit(tags.iloc[:half], y_shard[:half], classes=[0, 1])
    later = tags.iloc[half:].copy()
    if rank == 1:
        later.iloc[::10, 0] = [["late"]] * len(later.iloc[::10])
    lists.partial_fit(later, y_shard[half:])
    # a 0/1 block declared one field: several columns set on rank 1 alone
    block = one_hot().transform(X[CATEGORIES]).tocsr()[:, :5]
    if rank == 1:
        block = block + one_hot().transform(X[CATEGORIES]).tocsr()[:, 1:6]
    block.data[:] = 1
    multi_hot = DeepFMClassifier(distributed=True, fields=[0] * 5, **SETTINGS).fit(
        block, y_shard
    )
    out["lists"] = {"parameters": parameters(lists), "layout": lists.input_layout_}
    out["multi-hot"] = {
        "parameters": parameters(multi_hot),
        "layout": multi_hot.input_layout_,
    }
    # whole years: a quantity, also read as a number; the decision and the
    # number's scaling are those of the pooled rows
    aged, y_aged = with_age(X, rank)
    quantity = DeepFMClassifier(distributed=True, **SETTINGS).fit(aged, y_aged)
    out["quantity"] = {"layout": quantity.input_layout_}
    # a value per row or nearly: read as a number where the linear model on
    # every process's validation rows says so, scaled on all rows
    weighted, y_weighted = with_weight(X, rank)
    many = DeepFMClassifier(distributed=True, **SETTINGS).fit(weighted, y_weighted)
    out["many-valued"] = {
        "parameters": parameters(many),
        "layout": many.input_layout_,
    }
    # a shard of 5 rows beside one of 2300: the small one takes empty steps
    small = slice(None) if rank == 0 else slice(0, 5)
    tiny = DeepFMClassifier(
        distributed=True,
        early_stopping=False,
        batch_size=256,
        **{**SETTINGS, "max_epochs": 2},
    ).fit(X.iloc[small], y_shard[small])
    out["tiny shard"] = {"parameters": parameters(tiny)}
    # a column of codes on one process and of fractions on the other: the
    # processes would read it differently, and both say so
    odd = X.copy()
    odd["device"] = odd["device"] + (0.5 if rank == 1 else 0)
    try:
        DeepFMClassifier(distributed=True, **SETTINGS).fit(odd, y_shard)
    except ValueError as error:
        out["disagreement"] = str(error)
    return out


# A shard of 3 rows beside one of 300, in steps of 64 rows over both: 5
# steps, so the small shard's steps hold 1 row or none.
TINY = {
    "hidden_units": (8,),
    "batch_size": 64,
    "early_stopping": False,
    "max_epochs": 1,
    "random_state": 0,
    "n_jobs": 1,
}


def tiny_shard(rank, n_small=3, seed=0):
    """Rows of a category column and a column of lists: 300 on rank 0,
    ``n_small`` on rank 1, both labels on every rank (when it has 2 rows)."""
    rng = np.random.default_rng(seed + rank)
    n_rows = 300 if rank == 0 else n_small
    X = pd.DataFrame(
        {
            "site": rng.integers(0, 4, n_rows),
            "tags": [[f"t{v}" for v in rng.integers(0, 4, 2)] for _ in range(n_rows)],
        }
    )
    y = rng.integers(0, 2, n_rows)
    y[:2] = [0, 1][:n_rows]
    return X, y


def empty_steps(rank):
    """Bags in the steps a tiny shard takes empty: a column of lists
    (summed, then averaged) beside a category, by ``partial_fit`` and
    ``fit``, and a sparse field of several columns (every field a bag)."""
    X, y = tiny_shard(rank)
    out = {}
    streamed = DeepFMClassifier(distributed=True, **TINY)
    out["lists, partial_fit"] = streamed.partial_fit(X, y, classes=[0, 1])
    averaged = DeepFMClassifier(distributed=True, pooling="mean", **TINY)
    out["lists, mean, fit"] = averaged.fit(X, y)
    rows = one_hot().transform(make_data(len(y), seed=rank)[0][CATEGORIES]).tocsr()
    block = rows[:, :5] + rows[:, 1:6]  # two columns of the field set
    block.data[:] = 1
    multi_hot = DeepFMClassifier(distributed=True, fields=[0] * 5, **TINY)
    out["multi-hot, fit"] = multi_hot.fit(block, y)
    return {name: {"parameters": parameters(model)} for name, model in out.items()}


def batch_norm(rank):
    """batch_norm=True on a shard whose steps would hold 1 row (3 rows for
    ``partial_fit``, 5 for ``fit``), and the error of a shard of 1 row."""
    out = {}
    X, y = tiny_shard(rank)
    model = DeepFMClassifier(distributed=True, batch_norm=True, **TINY)
    out["partial_fit"] = parameters(model.partial_fit(X, y, classes=[0, 1]))
    X, y = tiny_shard(rank, n_small=5)
    model = DeepFMClassifier(distributed=True, batch_norm=True, **TINY)
    out["fit"] = parameters(model.fit(X, y))
    X, y = tiny_shard(rank, n_small=1)
    model = DeepFMClassifier(distributed=True, batch_norm=True, **TINY)
    try:
        model.partial_fit(X, y, classes=[0, 1])
    except ValueError as error:
        out["one row"] = str(error)
    return out


class RecordsTheStartingBias(Callback):
    def on_train_begin(self, net, **kwargs):
        self.bias = float(net.module_.linear.bias.item())


def class_prior(rank):
    """The output bias before the first step: shards of 5% and 50%
    positives (a stream sharded by time), for ``fit`` without early stopping
    and ``partial_fit``."""
    rng = np.random.default_rng(rank)
    X = rng.integers(0, 5, size=(400, 3))
    y = (rng.random(400) < (0.05, 0.5)[rank]).astype(int)
    y[:2] = (0, 1)  # both classes on both shards
    out = {"positives": int(y.sum())}
    for name in ("fit", "partial_fit"):
        start = RecordsTheStartingBias()
        model = DeepFMClassifier(distributed=True, callbacks=[start], **TINY)
        if name == "fit":
            model.fit(X, y)
        else:
            model.partial_fit(X, y, classes=[0, 1])
        out[name] = start.bias
    return out


def as_one_fit(rank):
    """Recipe decisions of shards of 1,500 rows against one fit on all 3,000
    (rank 0 fits both): whether a weak whole-number column is a quantity,
    on tables where the processes' own held-out rows decided otherwise, and
    whether the crosses are tried under the (scaled-down) row cap."""
    settings = {**TINY, "embedding_dim": 2}
    out = {"distributed": [], "one fit": []}
    rows = slice(0, 1500) if rank == 0 else slice(1500, 3000)
    for seed in (1, 2, 5, 21):
        rng = np.random.default_rng(seed)
        age = rng.integers(0, 15, 3000)
        y = (rng.random(3000) < 1 / (1 + np.exp(-0.08 * (age - 7)))).astype(int)
        X = pd.DataFrame({"age": age})
        model = DeepFMClassifier(distributed=True, **settings)
        out["distributed"].append(model.fit(X[rows], y[rows]).input_layout_.n_fields)
        if rank == 0:
            one = DeepFMClassifier(**settings).fit(X, y)
            out["one fit"].append(one.input_layout_.n_fields)
    # the row cap of the linear solves, scaled down by 200 (200,000 rows and
    # 3 million crossed entries): the processes keep their shares of it
    from sklearn_deepfm import _base

    _base.LINEAR_MAX_ROWS, _base.MAX_CROSSED_ENTRIES = 1_000, 15_000
    rng = np.random.default_rng(0)
    X = pd.DataFrame({f"c{j}": rng.integers(0, 4, 3000) for j in range(6)})
    y = (rng.random(3000) < 1 / (1 + np.exp(-(X.c0 == X.c1) * 2 + 1))).astype(int)
    recipe = {**settings, "early_stopping": True, "max_epochs": 2}
    model = DeepFMClassifier(distributed=True, **recipe).fit(X[rows], y[rows])
    out["crosses tried"] = "crosses_C" in model.history_[-1]
    if rank == 0:
        one = DeepFMClassifier(**recipe).fit(X, y)
        out["crosses tried, one fit"] = "crosses_C" in one.history_[-1]
    return out


def no_values_on_one_shard(rank):
    """A multi-valued column whose tags all sit on rank 0: rank 1's cells
    are empty lists or missing, which read as neither labels nor codes."""
    rng = np.random.default_rng(rank)
    n_rows = 300
    if rank == 0:
        tags = [list(rng.choice(["news", "sport", "tech"], 2)) for _ in range(n_rows)]
    else:
        tags = [[] if i % 2 else None for i in range(n_rows)]
    X = pd.DataFrame({"site": rng.choice(["a", "b"], n_rows), "tags": pd.Series(tags)})
    y = rng.integers(0, 2, n_rows)
    model = DeepFMClassifier(distributed=True, **TINY).fit(X, y)
    out = {
        "parameters": parameters(model),
        "tags": list(model.input_layout_.fields[1].categories),
    }
    # no value on any process yet, typed as lists on rank 0 only (an Arrow
    # list column of nulls beside None; refused as lists beside labels): a
    # multi-valued field, which learns the tags that come
    import pyarrow as pa

    empty = pd.Series([None] * n_rows, dtype=object)
    if rank == 0:
        empty = empty.astype(pd.ArrowDtype(pa.list_(pa.string())))
    stream = DeepFMClassifier(distributed=True, **TINY)
    stream.partial_fit(X.assign(tags=empty), y, classes=[0, 1])
    out["empty kind"] = stream.input_layout_.fields[1].kind
    stream.partial_fit(X.assign(tags=pd.Series([["news"]] * n_rows)), y)
    out["stream"] = parameters(stream)
    return out


def weights(rank):
    """Weights only their ratios matter for, over the processes: rank 0's
    1e300 and rank 1's 1e306 (each process took its own unit, and the ratio
    between them was lost); every row of rank 1 of weight 0 (it failed
    alone)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.choice(list("pqrs"), 800), "b": rng.normal(size=800)})
    y = ((X.a == "p") ^ (X.b > 0)).to_numpy().astype(int)
    rows = slice(0, 400) if rank == 0 else slice(400, 800)
    out = {}
    for name, scales in (
        ("huge", (1e300, 1e306)),
        ("ratio", (1.0, 1e6)),
        ("zero", (1.0, 0.0)),
    ):
        weight = np.repeat(scales, 400)
        model = DeepFMClassifier(distributed=True, **TINY)
        model.fit(X[rows], y[rows], sample_weight=weight[rows])
        out[name] = model.predict_proba(X)
    # a later partial_fit call whose rows all weigh 0 on every process
    stream = DeepFMClassifier(distributed=True, class_weight={0: 0.0, 1: 1.0}, **TINY)
    stream.partial_fit(X[rows], y[rows], classes=[0, 1])
    before = stream.predict_proba(X)
    zeros = y[rows] == 0
    stream.partial_fit(X[rows][zeros], y[rows][zeros])
    out["weightless call"] = np.abs(stream.predict_proba(X) - before).max()
    # a class weight for a class that rank 1's rows lack (scikit-learn refused
    # the dict on rank 1 alone): as the same weights given per row
    later = np.arange(800) >= 400
    rows = np.flatnonzero(later & (y == 0) if rank == 1 else ~later)
    weighted = DeepFMClassifier(distributed=True, class_weight={1: 5.0}, **TINY)
    out["class weight"] = weighted.fit(X.iloc[rows], y[rows]).predict_proba(X)
    per_row = DeepFMClassifier(distributed=True, **TINY)
    per_row.fit(X.iloc[rows], y[rows], sample_weight=np.where(y[rows] == 1, 5.0, 1.0))
    out["per row"] = per_row.predict_proba(X)
    return out


def blank_on_one_shard(rank):
    """A column that holds no value on rank 1 (an optional column left blank
    in its CSV: float NaN) and labels on rank 0: both refused to fit, with
    advice that did not help; digits as strings on one rank and numbers on
    the other, whose advice was categorical_features."""
    rng = np.random.default_rng(rank)
    n_rows = 300
    coupon = rng.choice(["a", "b"], n_rows) if rank == 0 else np.full(n_rows, np.nan)
    X = pd.DataFrame({"site": rng.choice(["x", "y", "z"], n_rows), "coupon": coupon})
    y = rng.integers(0, 2, n_rows)
    out = {}
    model = DeepFMClassifier(distributed=True, **TINY).fit(X, y)
    out["categories"] = list(model.input_layout_.fields[1].categories)
    out["parameters"] = parameters(model)
    stream = DeepFMClassifier(distributed=True, **TINY)
    stream.partial_fit(X, y, classes=[0, 1])
    out["stream categories"] = list(stream.input_layout_.fields[1].categories)
    digits = rng.integers(0, 3, n_rows)
    mixed = X.assign(coupon=digits.astype(str) if rank == 0 else digits)
    try:
        DeepFMClassifier(distributed=True, **TINY).fit(mixed, y)
    except ValueError as error:
        out["mixed"] = str(error)
    return out


def mismatches(rank):
    """What one process gives otherwise than the other: a column of lists
    that holds no value on rank 0 (a shard from before it had any), refused;
    class labels of two types, merged into four classes; partial_fit's
    classes, each process's own; max_epochs, which left both waiting."""
    rng = np.random.default_rng(rank)
    n_rows = 200
    if rank == 0:
        tags = pd.Series([None] * n_rows, dtype=object)
    else:
        tags = pd.Series([list(rng.choice(["a", "b", "c"], 2)) for _ in range(n_rows)])
    X = pd.DataFrame({"site": rng.choice(["x", "y"], n_rows), "tags": tags})
    y = rng.integers(0, 2, n_rows)
    out = {}
    model = DeepFMClassifier(distributed=True, **TINY).fit(X, y)
    out["kind"] = model.input_layout_.fields[1].kind
    out["parameters"] = parameters(model)
    out["proba"] = model.predict_proba(X)
    calls = {
        "labels": lambda: DeepFMClassifier(distributed=True, **TINY).fit(
            X, y if rank == 0 else np.where(y == 1, "yes", "no")
        ),
        "classes": lambda: DeepFMClassifier(distributed=True, **TINY).partial_fit(
            X, y, classes=[0, 1] if rank == 0 else [0, 1, 2]
        ),
        "max_epochs": lambda: DeepFMClassifier(
            distributed=True, **{**TINY, "max_epochs": 2 + rank}
        ).fit(X, y),
    }
    for name, call in calls.items():
        try:
            call()
        except ValueError as error:
            out[name] = str(error)

    class LocalSGD(torch.optim.SGD):  # as in a Ray training loop: no pickle
        pass

    local = DeepFMClassifier(distributed=True, **{**TINY, "optimizer": LocalSGD})
    out["local optimizer"] = parameters(local.fit(X, y))
    # torch's optimizers import torch._dynamo, and with it torch.distributed.nn,
    # whose functions then kept the default group for good (an abort at exit)
    from torch.distributed.nn import functional

    out["group kept"] = functional.broadcast.__defaults__[0] is not None

    # mixed_precision='auto' where one process's CPU has no native bfloat16
    # (each decided for itself: bfloat16 beside float32)
    from sklearn_deepfm import _base

    native = _base.native_bfloat16
    if rank == 1:
        _base.native_bfloat16 = lambda: False
    try:
        auto = DeepFMClassifier(distributed=True, mixed_precision="auto", **TINY)
        out["auto precision"] = auto.fit(X, y).mixed_precision_
    finally:
        _base.native_bfloat16 = native
    return out


class Watches(Callback):
    """What a user prints or logs on one process only."""

    def on_epoch_end(self, net, **kwargs):
        pass


def local_callbacks(rank):
    """Callbacks on rank 0 only, which may differ: one that watches (the
    recipe's second training had run on rank 1 alone, which waited for
    rank 0 in its collectives), one that reads the gradients (they were
    dense on rank 0, sparse on rank 1: gloo aborted); and the shards'
    columns in another order (they had been mixed into one field)."""
    from skorch.callbacks import GradientNormClipping

    rng = np.random.default_rng(rank)
    n_rows = 1500
    app, device = rng.integers(0, 8, n_rows), rng.integers(0, 4, n_rows)
    X = pd.DataFrame(
        {"app": app, "device": device, "site": rng.choice(["a", "b"], n_rows)}
    )
    logit = 3.0 * ((app % 4) == device) - 1.5 + (X["site"] == "b")
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    out = {}
    watched = DeepFMClassifier(
        distributed=True,
        callbacks=[Watches()] if rank == 0 else None,
        **{**SETTINGS, "hidden_units": (16,), "max_epochs": 12},
    ).fit(X, y)
    out["interactions kept"] = watched.interactions_kept_
    out["retrained"] = watched.history_[-1].get("retrained_epochs")
    out["watched"] = parameters(watched)
    clipped = DeepFMClassifier(
        distributed=True,
        callbacks=[GradientNormClipping(1e9)] if rank == 0 else None,
        **TINY,
    ).fit(X, y)
    out["clipped"] = parameters(clipped)
    try:
        DeepFMClassifier(distributed=True, **TINY).fit(
            X[["device", "app", "site"]] if rank == 1 else X, y
        )
    except ValueError as error:
        out["columns"] = str(error)
    return out


SCENARIOS = {
    "local callbacks": local_callbacks,
    "mismatches": mismatches,
    "blank on one shard": blank_on_one_shard,
    "weights": weights,
    "no values on one shard": no_values_on_one_shard,
    "as one fit": as_one_fit,
    "all": fits,
    "empty steps": empty_steps,
    "batch norm": batch_norm,
    "class prior": class_prior,
}


def main(rank, world_size, port, out_dir, scenario="all"):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
    )
    try:
        out = SCENARIOS[scenario](rank)
    finally:
        dist.destroy_process_group()
    with open(Path(out_dir) / f"rank{rank}.pkl", "wb") as file:
        pickle.dump(out, file)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:])
