"""Defaults on small training sets (under ``early_stopping='auto'``'s 1,000
rows and around it) of every shared table, against LR (C=1).

For every table, split ``k`` of ``quality.py``'s protocol (80/20,
random_state=0) and size ``n`` in ``--sizes``, a stratified random ``n`` of
the training rows (seed ``k``) trains LR (C=1, ``quality.py``'s one-hot +
scaled pipeline) and ``DeepFMClassifier(random_state=k, **variant)`` for
every variant of ``--variants`` (``default``: the library defaults;
``recipe``: ``early_stopping=True``, the recipe at any size; ``no_recipe``:
``early_stopping=False``), each scored on the split's full test rows (AUC
and log loss).  Tables whose test rows number more than ``--max-test`` are
scored on a stratified ``--max-test`` of them (seed ``k``).

    python benchmarks/small_tables.py --out benchmarks/results/small_tables.json
"""

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "2")

import _tables  # noqa: E402
import torch  # noqa: E402
from quality import one_hot_pipeline, split_indices  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from small_data import environment  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_deepfm import DeepFMClassifier  # noqa: E402

RESULTS = Path(__file__).parent / "results"
VARIANTS = {
    "default": {},
    "recipe": {"early_stopping": True},
    "no_recipe": {"early_stopping": False},
}
TABLES = ("adult", "hr", "telco", "coupon", "criteo", "avazu", "movielens", "frappe")


def _subset(indices, y, n, seed):
    if n >= len(indices):
        return indices
    subset, _ = train_test_split(
        indices, train_size=n, stratify=y[indices], random_state=seed
    )
    return subset


def run(table, sizes, n_splits, variants, max_test):
    rows = []
    splits, _ = split_indices(table, n_splits)
    numeric, categorical = table.numeric_columns, table.categorical_columns
    for k, (train, test) in enumerate(splits):
        test = _subset(test, table.y, max_test, k)
        X_test, y_test = table.X.iloc[test], table.y[test]
        for n in sizes:
            subset = _subset(train, table.y, n, k)
            X, y = table.X.iloc[subset], table.y[subset]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipeline = one_hot_pipeline(numeric, categorical).fit(X, y)
            proba = pipeline.predict_proba(X_test)[:, 1]
            lr = {
                "auc": float(roc_auc_score(y_test, proba)),
                "logloss": float(log_loss(y_test, proba, labels=[0, 1])),
            }
            entry = {
                "table": table.name,
                "split": k,
                "n_train": n,
                "lr": {"auc": lr["auc"], "log_loss": lr["logloss"]},
            }
            for name in variants:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = DeepFMClassifier(random_state=k, **VARIANTS[name]).fit(X, y)
                proba = model.predict_proba(X_test)[:, 1]
                entry[name] = {
                    "auc": float(roc_auc_score(y_test, proba)),
                    "log_loss": float(log_loss(y_test, proba, labels=[0, 1])),
                    "interactions_kept": bool(model.interactions_kept_),
                    "epochs": len(model.history_),
                }
            rows.append(entry)
            print(
                f"{table.name} split {k} n={n}: LR {lr['auc']:.4f}/{lr['logloss']:.4f} "
                + ", ".join(
                    f"{name} {entry[name]['auc']:.4f}/{entry[name]['log_loss']:.4f}"
                    for name in variants
                ),
                flush=True,
            )
    return rows


def markdown(rows, variants, meta):
    lines = [
        "# Small training sets: the defaults against LR (C=1)",
        "",
        f"Command: `{meta['command']}`; {meta['date']}; commit "
        f"{(meta['git'].get('commit') or 'unknown')[:10]}; {meta['cpu']} (flags: "
        f"{', '.join(meta['cpu_flags'])}); {meta['torch_threads']} torch threads.",
        "",
        "Protocol: see the docstring of `benchmarks/small_tables.py`. Cells: "
        "DeepFM variant - LR (C=1), mean over splits [worst split]; AUC, then "
        "log loss (lower is better).",
        "",
        "| table | rows | LR AUC | LR log loss | "
        + " | ".join(f"{v} - LR AUC | {v} - LR log loss" for v in variants)
        + " |",
        "|---|---|---|---|" + "---|---|" * len(variants),
    ]
    for table in dict.fromkeys(row["table"] for row in rows):
        for n in sorted({row["n_train"] for row in rows if row["table"] == table}):
            group = [r for r in rows if r["table"] == table and r["n_train"] == n]
            lr_auc = np.array([r["lr"]["auc"] for r in group])
            lr_loss = np.array([r["lr"]["log_loss"] for r in group])
            cells = []
            for v in variants:
                auc = np.array([r[v]["auc"] for r in group]) - lr_auc
                loss = np.array([r[v]["log_loss"] for r in group]) - lr_loss
                cells.append(
                    f"{auc.mean():+.4f} [{auc.min():+.4f}] | "
                    f"{loss.mean():+.4f} [{loss.max():+.4f}]"
                )
            lines.append(
                f"| {table} | {n:,} | {lr_auc.mean():.4f} | {lr_loss.mean():.4f} | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[20, 50, 100, 200, 500, 999]
    )
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=["default", "no_recipe"])
    parser.add_argument("--max-test", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=_tables.DEFAULT_DATA_DIR)
    parser.add_argument("--out", default=str(RESULTS / "small_tables.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads, user_api="blas")
    meta = environment()
    rows = []
    for name in args.tables:
        table = _tables.load_table(name, args.data_dir)
        rows += run(table, args.sizes, args.splits, args.variants, args.max_test)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(rows, args.variants, meta))
    print(markdown(rows, args.variants, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
