"""Multi-valued fields: memory, speed and quality.

1. A long-tail field against DeepCTR-Torch's padded ``VarLenSparseFeat``.
   Synthetic rows (seeded): four single-valued fields (1,000, 100, 50 and 10
   categories) and one multi-valued field of a 100,000-value vocabulary
   whose rows hold 1 to 200 values (Zipf lengths, mean about 3; one row
   holds 200) drawn with Zipf-like popularity.  The label is a logistic
   draw from the mean score of a row's values, a single-valued field, and
   the product of another field's effect with a second score of the values
   (an interaction).  The last 10% of the rows are the test rows.

   Each contestant runs in a fresh process (``--worker``), one thread,
   builds its own input from the same seeded arrays and trains two epochs
   of batch 1024 with embedding size 10 and hidden layers (256, 128):

   - ``ours``: ``DeepFMClassifier(early_stopping=False, ...)`` on a pandas
     DataFrame whose multi-valued column holds pyarrow lists (flat values
     and offsets, as ``pa.ListArray.from_arrays`` builds them), mean pooling
     as the peer's combiner, library defaults otherwise (lr 2e-3);
   - ``deepctr``: DeepCTR-Torch 0.3.0 ``DeepFM`` with a ``VarLenSparseFeat``
     (``combiner='mean'``, ``maxlen`` = the longest row, 200) fed the values
     padded with 0 to ``maxlen``, as its documentation shows
     (``benchmarks/contestants/deepctr.py``, ``PaddedRunner``), Adam lr 1e-3.

   Measured: the peak resident set size during ``fit`` (``VmHWM`` after
   resetting it through ``/proc/self/clear_refs`` once the input is built;
   the input's own RSS is recorded as ``rss_before_fit_mib``), training rows
   per second (rows times epochs over the ``fit`` time) and the test AUC.

2. MovieLens 100k: the 19 genre flags as one multi-valued field (mean or
   sum pooling) against 19 binary columns (each read as a categorical field
   through ``categorical_features``) beside user, item, age, gender,
   occupation, zip and release year (categorical);
   ``StratifiedShuffleSplit(5, test_size=0.2, random_state=0)``,
   ``DeepFMClassifier(random_state=k)`` with library defaults, test AUC.

Run (a few minutes at 200,000 rows)::

    python benchmarks/multivalued.py --rows 200000 \
        --out benchmarks/results/multivalued.json

``--movielens-splits 0`` skips part 2; ``--rows 0`` skips part 1.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
# this checkout's sklearn_deepfm, whatever is installed
sys.path.insert(1, str(REPO_ROOT))
MARKER = "@@MULTIVALUED@@ "
CARDINALITIES = (1000, 100, 50, 10)
VOCABULARY = 100_000
MAX_LENGTH = 200
CONFIG = {
    "embedding_dim": 10,
    "hidden_units": (256, 128),
    "batch_size": 1024,
    "max_epochs": 2,
    "seed": 0,
}


def make_long_tail(n_rows, seed=0):
    """Single-valued codes ``(n_rows, 4)``, row lengths, flat values and 0/1
    labels (see the module docstring)."""
    rng = np.random.default_rng(seed)
    single = np.column_stack([rng.integers(0, c, n_rows) for c in CARDINALITIES])
    lengths = np.minimum(rng.zipf(2.15, n_rows), MAX_LENGTH)
    lengths[n_rows // 2] = MAX_LENGTH
    popularity = 1.0 / (np.arange(VOCABULARY) + 10.0)
    flat = rng.choice(
        VOCABULARY, size=int(lengths.sum()), p=popularity / popularity.sum()
    )
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    score, second = rng.normal(size=VOCABULARY), rng.normal(size=VOCABULARY)
    mean_score = np.add.reduceat(score[flat], starts) / lengths
    mean_second = np.add.reduceat(second[flat], starts) / lengths
    effect0 = rng.normal(size=CARDINALITIES[0])
    effect1 = rng.normal(size=CARDINALITIES[1])
    logit = (
        1.5 * mean_score
        + effect0[single[:, 0]]
        + 1.5 * effect1[single[:, 1]] * mean_second
        + 0.5 * (single[:, 2] % 2)
        - 0.3
    )
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return single, lengths, flat, y


def _rss_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return None


def _reset_peak():
    """Reset VmHWM to the current RSS; False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _split(n_rows):
    n_train = int(0.9 * n_rows)
    return slice(0, n_train), slice(n_train, None)


def _ours(single, lengths, flat, y, train, test):
    import pandas as pd
    import pyarrow as pa

    from sklearn_deepfm import DeepFMClassifier

    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))
    X = pd.DataFrame({f"f{j}": single[:, j] for j in range(single.shape[1])})
    X["values"] = pd.Series(pd.arrays.ArrowExtensionArray(lists))
    model = DeepFMClassifier(
        embedding_dim=CONFIG["embedding_dim"],
        hidden_units=CONFIG["hidden_units"],
        batch_size=CONFIG["batch_size"],
        max_epochs=CONFIG["max_epochs"],
        early_stopping=False,
        pooling="mean",  # as the peer's combiner
        n_jobs=1,
        random_state=CONFIG["seed"],
    )
    X_train, X_test = X.iloc[train], X.iloc[test].reset_index(drop=True)
    return (
        lambda: model.fit(X_train, y[train]),
        lambda: model.predict_proba(X_test)[:, 1],
    )


def _deepctr(single, lengths, flat, y, train, test):
    sys.path.insert(0, str(HERE))
    from contestants.deepctr import PaddedRunner

    maxlen = int(lengths.max())
    padded = np.zeros((len(lengths), maxlen), dtype=np.int64)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    padded[rows, np.arange(flat.size) - np.repeat(starts, lengths)] = flat + 1
    runner = PaddedRunner(
        list(CARDINALITIES), VOCABULARY, maxlen, {**CONFIG, "lr": 1e-3}
    )
    train_inputs = runner.inputs(single[train], padded[train])
    test_inputs = runner.inputs(single[test], padded[test])
    return (
        lambda: runner.fit(train_inputs, y[train].astype(np.float32)),
        lambda: runner.predict_proba(test_inputs),
    )


CONTESTANTS = {"ours": _ours, "deepctr": _deepctr}


def worker(contestant, n_rows):
    import torch
    from sklearn.metrics import roc_auc_score

    torch.set_num_threads(1)
    single, lengths, flat, y = make_long_tail(n_rows)
    train, test = _split(n_rows)
    fit, predict = CONTESTANTS[contestant](single, lengths, flat, y, train, test)
    rss_before = _rss_mib("VmRSS:")
    reset = _reset_peak()
    start = time.perf_counter()
    fit()
    seconds = time.perf_counter() - start
    peak = _rss_mib("VmHWM:")
    auc = roc_auc_score(y[test], predict())
    n_train = train.stop
    result = {
        "contestant": contestant,
        "rows": n_rows,
        "train_rows": n_train,
        "mean_length": float(lengths.mean()),
        "max_length": int(lengths.max()),
        "fit_s": seconds,
        "train_rows_per_s": n_train * CONFIG["max_epochs"] / seconds,
        "rss_before_fit_mib": rss_before,
        "peak_rss_fit_mib": peak,
        "peak_reset": reset,
        "test_auc": float(auc),
    }
    print(MARKER + json.dumps(result), flush=True)


def run_contestant(contestant, n_rows):
    command = [sys.executable, __file__, "--worker", contestant, "--rows", str(n_rows)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    return {"contestant": contestant, "error": done.stderr[-2000:]}


# MovieLens 100k --------------------------------------------------------------
def load_movielens(folder):
    """Rows with user, item, age, gender, occupation, zip and release year
    (strings), the genres as lists and as 19 0/1 columns, label rating >= 4."""
    import pandas as pd

    ratings = pd.read_csv(
        folder / "u.data", sep="\t", names=["user", "item", "rating", "time"]
    )
    users = pd.read_csv(
        folder / "u.user",
        sep="|",
        names=["user", "age", "gender", "occupation", "zip"],
        dtype=str,
    )
    users["user"] = users["user"].astype(np.int64)
    items = pd.read_csv(folder / "u.item", sep="|", header=None, encoding="latin-1")
    genre_names = pd.read_csv(folder / "u.genre", sep="|", header=None)[0].tolist()
    flags = items.iloc[:, 5:24].to_numpy().astype(np.int64)
    item_frame = pd.DataFrame(flags, columns=[f"genre {g}" for g in genre_names])
    item_frame["item"] = items[0]
    item_frame["year"] = items[2].fillna("").str[-4:].replace("", None)
    item_frame["genres"] = [
        [g for g, f in zip(genre_names, row, strict=True) if f] for row in flags
    ]
    rows = ratings.merge(users, on="user").merge(item_frame, on="item")
    base = rows[["user", "item", "age", "gender", "occupation", "zip", "year"]]
    base = base.astype({"user": str, "item": str})
    y = (rows["rating"].to_numpy() >= 4).astype(np.int64)
    flags = rows[[f"genre {g}" for g in genre_names]]
    return base, rows["genres"], flags, y


def movielens(n_splits):
    import pandas as pd
    import torch
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit

    from sklearn_deepfm import DeepFMClassifier

    torch.set_num_threads(1)
    folder = REPO_ROOT.parent / "shared" / "data" / "movielens_100k"
    if not folder.is_dir():
        return {"skipped": f"{folder} absent"}
    base, genres, flags, y = load_movielens(folder)
    variants = {
        "one multi-valued field, mean": (
            base.assign(genres=pd.Series(genres.to_list(), dtype=object)),
            {"pooling": "mean"},
        ),
        "one multi-valued field, sum": (
            base.assign(genres=pd.Series(genres.to_list(), dtype=object)),
            {"pooling": "sum"},
        ),
        "19 binary columns": (
            pd.concat([base, flags], axis=1),
            {"categorical_features": list(base.columns) + list(flags.columns)},
        ),
    }
    splitter = StratifiedShuffleSplit(n_splits, test_size=0.2, random_state=0)
    scores = {name: [] for name in variants}
    seconds = {name: 0.0 for name in variants}
    for k, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
        for name, (X, params) in variants.items():
            start = time.perf_counter()
            model = DeepFMClassifier(random_state=k, n_jobs=1, **params)
            model.fit(X.iloc[train], y[train])
            proba = model.predict_proba(X.iloc[test])[:, 1]
            seconds[name] += time.perf_counter() - start
            scores[name].append(float(roc_auc_score(y[test], proba)))
    return {
        name: {
            "auc": values,
            "mean": float(np.mean(values)),
            "std": float(np.std(values)),
            "fit_predict_s": seconds[name],
        }
        for name, values in scores.items()
    }


# report ------------------------------------------------------------------------
def markdown(report):
    lines = [
        "# Multi-valued fields",
        "",
        f"Measured {report['date']} on {report['cpu']} (flags: "
        f"{', '.join(report['cpu_flags'] or [])}), one thread per process. "
        "Command: `" + report["command"] + "`.",
        "",
    ]
    long_tail = report.get("long_tail")
    if long_tail:
        rows = long_tail[0].get("rows")
        lines += [
            f"## Long-tail field ({rows:,} rows, 100,000 values, max 200)",
            "",
            "Both: two epochs, batch 1024, embedding size 10, hidden layers "
            "(256, 128), mean pooling, one thread, 90%/10% train/test. Ours: "
            "`DeepFMClassifier(early_stopping=False)` on pyarrow lists (lr "
            "2e-3, its default); DeepCTR-Torch 0.3.0: `VarLenSparseFeat` "
            "padded to 200 values (Adam lr 1e-3). Peak RSS is VmHWM reset "
            "once the input is built.",
            "",
            "| contestant | peak RSS in fit (MiB) | RSS of the input (MiB) "
            "| training rows/s | test AUC |",
            "|---|---:|---:|---:|---:|",
        ]
        for entry in long_tail:
            if "error" in entry:
                lines.append(f"| {entry['contestant']} | error | | | |")
                continue
            lines.append(
                f"| {entry['contestant']} | {entry['peak_rss_fit_mib']:,.0f} | "
                f"{entry['rss_before_fit_mib']:,.0f} | "
                f"{entry['train_rows_per_s']:,.0f} | {entry['test_auc']:.4f} |"
            )
        by_name = {e["contestant"]: e for e in long_tail if "error" not in e}
        if len(by_name) == 2:
            ours, peer = by_name["ours"], by_name["deepctr"]
            lines += [
                "",
                f"Mean row length {ours['mean_length']:.2f}, longest "
                f"{ours['max_length']}. Ours against the padded peer: peak RSS "
                f"{peer['peak_rss_fit_mib'] / ours['peak_rss_fit_mib']:.1f}x "
                f"lower, {ours['train_rows_per_s'] / peer['train_rows_per_s']:.1f}x "
                f"the training rows/s, AUC {ours['test_auc'] - peer['test_auc']:+.4f}.",
            ]
        lines.append("")
    ml = report.get("movielens")
    if ml and "skipped" not in ml:
        lines += [
            "## MovieLens 100k: genres as one multi-valued field",
            "",
            "| genres as | test AUC (mean over splits) | std | per split |",
            "|---|---:|---:|---|",
        ]
        for name, entry in ml.items():
            per = ", ".join(f"{v:.4f}" for v in entry["auc"])
            lines.append(
                f"| {name} | {entry['mean']:.4f} | {entry['std']:.4f} | {per} |"
            )
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=sorted(CONTESTANTS))
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--movielens-splits", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.rows)
        return
    sys.path.insert(0, str(HERE))
    from run import cpu_flags, cpu_model

    report = {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "busy_machine": True,
        "command": "python benchmarks/multivalued.py " + " ".join(sys.argv[1:]),
        "config": {**CONFIG, "hidden_units": list(CONFIG["hidden_units"])},
    }
    if args.rows:
        report["long_tail"] = [run_contestant(c, args.rows) for c in CONTESTANTS]
    if args.movielens_splits:
        report["movielens"] = movielens(args.movielens_splits)
    text = json.dumps(report, indent=2)
    if args.out is None:
        print(text)
        print(markdown(report))
        return
    args.out.write_text(text + "\n")
    args.out.with_suffix(".md").write_text(markdown(report) + "\n")


if __name__ == "__main__":
    main()
