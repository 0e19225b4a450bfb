"""bfloat16 against float32 on this CPU: is ``mixed_precision='auto'`` right?

The same model (26 label-encoded fields of the ``medium`` cardinalities,
embedding 10, MLP 400-400-400, batch 2048, one epoch without early
stopping) is fitted and used for prediction with ``mixed_precision`` False
and True, in interleaved rounds; the report gives medians and ranges of the
training and prediction rows/s, the test AUC, the CPU's ISA flags and what
``'auto'`` decides here.

Run::

    python benchmarks/precision.py --out benchmarks/results/precision.json
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import torch  # noqa: E402
from run import cpu_flags, cpu_model, git_state, package_versions  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from sklearn_deepfm import DeepFMClassifier  # noqa: E402
from sklearn_deepfm.datasets import (  # noqa: E402
    ctr_cardinalities,
    make_ctr_classification,
)

SETTING = {
    "embedding_dim": 10,
    "hidden_units": (400, 400, 400),
    "batch_size": 2048,
    "max_epochs": 1,
    "early_stopping": False,
    "random_state": 0,
}


def measure(mixed_precision, X_train, y_train, X_test, y_test):
    model = DeepFMClassifier(mixed_precision=mixed_precision, **SETTING)
    tic = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - tic
    train_seconds = float(sum(model.history_[:, "dur"]))
    tic = time.perf_counter()
    scores = model.decision_function(X_test)
    predict_seconds = time.perf_counter() - tic
    return {
        "mixed_precision_": bool(model.mixed_precision_),
        "train_rows_per_second": len(y_train) / train_seconds,
        "fit_seconds": fit_seconds,
        "predict_rows_per_second": len(y_test) / predict_seconds,
        "auc": float(roc_auc_score(y_test, scores)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=200_000)
    parser.add_argument("--test-rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(BENCH_DIR / "results" / "precision.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cards = ctr_cardinalities(26, 385_000, random_state=0).tolist()
    X, y = make_ctr_classification(
        args.train_rows + args.test_rows, 26, cards, random_state=0
    )
    split = args.train_rows
    data = (X[:split], y[:split], X[split:], y[split:])
    runs = {"float32": [], "bfloat16": []}
    for round_ in range(args.rounds):
        for name, flag in (("float32", False), ("bfloat16", True)):
            runs[name].append(measure(flag, *data))
            print(round_, name, runs[name][-1], flush=True)
    auto = DeepFMClassifier(mixed_precision="auto", **{**SETTING, "max_epochs": 1})
    auto.fit(X[:5000], y[:5000])
    meta = {
        "command": "python " + " ".join(sys.argv),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "threads": args.threads,
        "setting": SETTING,
        "train_rows": args.train_rows,
        "test_rows": args.test_rows,
        "auto_enables_bfloat16": bool(auto.mixed_precision_),
        "versions": package_versions(),
        "git": git_state(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "runs": runs}, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(meta, runs))
    print(markdown(meta, runs))


def _median_range(values, fmt):
    values = np.asarray(values)
    return (
        f"{format(np.median(values), fmt)} "
        f"[{format(values.min(), fmt)}, {format(values.max(), fmt)}]"
    )


def markdown(meta, runs):
    lines = [
        "# bfloat16 against float32 on this CPU",
        "",
        f"Command: `{meta['command']}`; {meta['cpu']} (flags: "
        f"{', '.join(meta['cpu_flags'] or [])}); {meta['threads']} torch threads; "
        f"{meta['train_rows']:,} training and {meta['test_rows']:,} test rows of the "
        "medium cardinalities, embedding 10, MLP 400-400-400, batch 2048, one "
        f"epoch. `mixed_precision='auto'` enables bfloat16 here: "
        f"{'yes' if meta['auto_enables_bfloat16'] else 'no'}. Medians [ranges] "
        f"of {len(runs['float32'])} interleaved rounds.",
        "",
        "| precision | train rows/s | predict rows/s | AUC |",
        "|---|---|---|---|",
    ]
    for name, rows in runs.items():
        train = _median_range([r["train_rows_per_second"] for r in rows], ",.0f")
        predict = _median_range([r["predict_rows_per_second"] for r in rows], ",.0f")
        auc = np.median([r["auc"] for r in rows])
        lines.append(f"| {name} | {train} | {predict} | {auc:.4f} |")
    speed = {
        key: np.median([r[key] for r in runs["bfloat16"]])
        / np.median([r[key] for r in runs["float32"]])
        for key in ("train_rows_per_second", "predict_rows_per_second")
    }
    lines += [
        "",
        f"bfloat16 / float32: training {speed['train_rows_per_second']:.2f}x, "
        f"prediction {speed['predict_rows_per_second']:.2f}x.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
