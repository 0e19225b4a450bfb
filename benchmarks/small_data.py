"""DeepFM against LR on small subsamples of Adult, and what a grid search over
``embedding_dim`` sees there.

For every split ``k`` of ``quality.py``'s protocol (StratifiedShuffleSplit,
80/20, random_state=0) and every size ``n`` in ``--sizes``, a stratified
random ``n`` of the training rows (seed ``k``) trains

* ``DeepFMClassifier(random_state=k)`` with the library defaults, and
  ``embedding_dim`` 4, 8 and 16 (the grid a user searches);
* LR (C=1): ``quality.py``'s one-hot + scaled pipeline,

and every model is scored on split ``k``'s full test rows.  The report gives
DeepFM - LR (AUC, mean over splits and the worst split), whether the recipe
kept the interactions, and how far apart the three ``embedding_dim`` scores
are: identical scores mean the recipe dropped the interactions and the
search tuned a linear model.

    python benchmarks/small_data.py --out benchmarks/results/small_data.json
"""

import argparse
import datetime
import json
import os
import shlex
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "2")

import _data  # noqa: E402
import _tables  # noqa: E402
import torch  # noqa: E402
from quality import fit_logistic_pipelines, split_indices  # noqa: E402
from run import cpu_flags, cpu_model, git_state, package_versions  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_deepfm import DeepFMClassifier  # noqa: E402

RESULTS = Path(__file__).parent / "results"
DIMS = (4, 8, 16)


def run(table, sizes, n_splits):
    rows = []
    splits, _ = split_indices(table, n_splits)
    numeric, categorical = table.numeric_columns, table.categorical_columns
    for k, (train, test) in enumerate(splits):
        X_test, y_test = table.X.iloc[test], table.y[test]
        for n in sizes:
            subset, _ = train_test_split(
                train, train_size=n, stratify=table.y[train], random_state=k
            )
            X, y = table.X.iloc[subset], table.y[subset]
            lr, _ = fit_logistic_pipelines(
                X, y, X_test, y_test, numeric, categorical, k
            )
            entry = {"split": k, "n_train": n, "lr_auc": lr["auc"], "deepfm": {}}
            for dim in (None, *DIMS):
                params = {} if dim is None else {"embedding_dim": dim}
                model = DeepFMClassifier(random_state=k, **params).fit(X, y)
                auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
                entry["deepfm"]["default" if dim is None else str(dim)] = {
                    "auc": float(auc),
                    "interactions_kept": bool(model.interactions_kept_),
                    "epochs": len(model.history_),
                }
            rows.append(entry)
            print(
                f"split {k} n={n}: LR {lr['auc']:.4f}, DeepFM "
                + ", ".join(
                    f"{key} {v['auc']:.4f}{'' if v['interactions_kept'] else ' (lin)'}"
                    for key, v in entry["deepfm"].items()
                ),
                flush=True,
            )
    return rows


def markdown(rows, meta):
    lines = [
        "# Small data: DeepFM against LR on Adult subsamples",
        "",
        f"Command: `{meta['command']}`; {meta['date']}; commit "
        f"{(meta['git'].get('commit') or 'unknown')[:10]}; {meta['cpu']} (flags: "
        f"{', '.join(meta['cpu_flags'])}); {meta['torch_threads']} torch threads.",
        "",
        "Protocol: see the docstring of `benchmarks/small_data.py`. Cells: mean "
        "over splits [worst split]; kept: splits whose recipe kept the "
        "interactions; spread: max - min AUC of embedding_dim 4, 8, 16 "
        "(mean over splits; 0 = identical scores).",
        "",
        "| training rows | LR (C=1) AUC | DeepFM AUC | DeepFM - LR | kept "
        "(default) | kept (dims 4/8/16) | spread over embedding_dim |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in sorted({row["n_train"] for row in rows}):
        group = [row for row in rows if row["n_train"] == n]
        lr = np.array([row["lr_auc"] for row in group])
        deep = np.array([row["deepfm"]["default"]["auc"] for row in group])
        kept = sum(row["deepfm"]["default"]["interactions_kept"] for row in group)
        kept_dims = sum(
            row["deepfm"][str(dim)]["interactions_kept"]
            for row in group
            for dim in DIMS
        )
        spread = np.mean(
            [np.ptp([row["deepfm"][str(dim)]["auc"] for dim in DIMS]) for row in group]
        )
        lines.append(
            f"| {n:,} | {lr.mean():.4f} | {deep.mean():.4f} | "
            f"{(deep - lr).mean():+.4f} [{(deep - lr).min():+.4f}] | "
            f"{kept}/{len(group)} | {kept_dims}/{len(group) * len(DIMS)} | "
            f"{spread:.4f} |"
        )
    return "\n".join(lines) + "\n"


def environment():
    """The command, date, CPU, threads, versions and commit of a run."""
    return {
        "command": "python " + shlex.join(sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "torch_threads": torch.get_num_threads(),
        "versions": package_versions(),
        "git": git_state(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 20000])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=_data.DEFAULT_DATA_DIR)
    parser.add_argument("--out", default=str(RESULTS / "small_data.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads, user_api="blas")
    meta = environment()
    table = _tables.load_table("adult", args.data_dir)
    rows = run(table, args.sizes, args.splits)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
