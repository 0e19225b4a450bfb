"""Where a default fit's time goes: the recipe's steps against HGB's whole fit.

On the splits of ``quality.py`` (the first ``--splits``), one default
``DeepFMClassifier(random_state=k)`` fit per split on the DataFrame, with
the wall time of each step of the recipe (docs: "The default recipe"):

* input: reading the columns (encoder, whole-number quantity test) and
  encoding the rows;
* many-valued: the linear solves that decide whether a column with a value
  per row is read as a number (Adult's fnlwgt);
* first-order: the linear part's C sweep on the training rows;
* first training: the FM and deep parts on the training rows, epochs chosen
  on the validation rows;
* crosses: the crossed linear model's C sweep, its refit on every row and
  the share of the mix;
* second training: the FM and deep parts again on every row, with the
  first-order part's refit before it;
* refit: the first-order part refitted on every row when it is the model;
* other: the rest (the keep decision, the holdout, bookkeeping).

Each step is timed where the estimator enters it; a step called inside
another (the second training's first-order refit) counts in the outer one.
HGB (``_alternatives.fit_hgb``, the quality table's contestant) is fitted on
the same rows just before, so the ratios are taken at the same machine
speed.  The steps are private methods of the estimator: this script follows
them, and is to be updated when they move.

Run on an otherwise idle machine::

    cd benchmarks
    python fit_breakdown.py --data-dir ../../shared/data \\
        --out results/fit_breakdown.json
"""

import argparse
import functools
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _alternatives  # noqa: E402
import _data  # noqa: E402
import _tables  # noqa: E402
import torch  # noqa: E402
from quality import DATASETS as QUALITY_DATASETS  # noqa: E402
from quality import environment, split_indices, warm_up  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_deepfm import DeepFMClassifier  # noqa: E402
from sklearn_deepfm._base import BaseDeepFM  # noqa: E402
from sklearn_deepfm._net import DeepFMNet  # noqa: E402

# the quality table's tables, Frappe rebuilt from the raw log aside (not in
# the quality table of record either)
DATASETS = [name for name in QUALITY_DATASETS if name != "frappe_rebuilt"]
# (class, method, step); the first training is the net's partial_fit when
# the estimator calls it itself, not from inside another step
STEPS = [
    (BaseDeepFM, "_fit_encoder", "input"),
    (BaseDeepFM, "_add_numbers", "input"),
    (BaseDeepFM, "_dataset", "input"),
    (BaseDeepFM, "_read_many_valued", "many-valued"),
    (BaseDeepFM, "_solve_linear", "first-order"),
    (DeepFMNet, "partial_fit", "first training"),
    (BaseDeepFM, "_try_crosses", "crosses"),
    (BaseDeepFM, "_retrain", "second training"),
    (BaseDeepFM, "_refit_linear", "refit"),
]
COLUMNS = [
    "input",
    "many-valued",
    "first-order",
    "first training",
    "crosses",
    "second training",
    "refit",
    "other",
]


class StepClock:
    """Wall time per step, counted at the outermost timed call only."""

    def __init__(self):
        self.seconds = {}
        self._depth = 0

    def wrap(self, cls, name, step):
        method = getattr(cls, name)

        @functools.wraps(method)
        def timed(*args, **kwargs):
            if self._depth:
                return method(*args, **kwargs)
            self._depth += 1
            tic = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= 1
                spent = time.perf_counter() - tic
                self.seconds[step] = self.seconds.get(step, 0.0) + spent

        setattr(cls, name, timed)
        return method

    def __enter__(self):
        self._originals = [
            (cls, name, self.wrap(cls, name, step)) for cls, name, step in STEPS
        ]
        return self

    def __exit__(self, *exc):
        for cls, name, method in self._originals:
            setattr(cls, name, method)


def run_table(table, n_splits):
    numeric, categorical = table.numeric_columns, table.categorical_columns
    splits, _ = split_indices(table, n_splits)
    rows = []
    for k, (train, test) in enumerate(splits):
        X_train, y_train = table.X.iloc[train], table.y[train]
        _, hgb = _alternatives.fit_hgb(
            X_train, y_train, table.X.iloc[test], numeric, categorical, k
        )
        model = DeepFMClassifier(random_state=k)
        with StepClock() as clock:
            tic = time.perf_counter()
            model.fit(X_train, y_train)
            fit = time.perf_counter() - tic
        steps = {step: clock.seconds.get(step, 0.0) for step in COLUMNS[:-1]}
        steps["other"] = fit - sum(steps.values())
        rows.append(
            {
                "split": k,
                "n_train": int(len(train)),
                "fit_seconds": fit,
                "hgb_seconds": hgb["fit_seconds"],
                "steps": steps,
                "epochs": len(model.history_),
                "retrained_epochs": model.history_[-1].get("retrained_epochs"),
                "interactions_kept": bool(model.interactions_kept_),
                "crosses_kept": bool(model.crosses_kept_),
            }
        )
        print(
            f"{table.name} split {k}: fit {fit:.2f} s, HGB "
            f"{hgb['fit_seconds']:.2f} s; "
            + ", ".join(f"{step} {s:.2f}" for step, s in steps.items()),
            flush=True,
        )
    return {"dataset": table.name, "splits": rows}


def mean(values):
    return float(np.mean(values))


def markdown(results, meta):
    git = meta["git"]
    lines = [
        "# Where a default fit's time goes",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Date {meta['date']}; commit {(git['commit'] or '?')[:10]}"
        f"{' (dirty)' if git['dirty'] else ''}; {meta['cpu']} "
        f"({meta['machine']}, {meta['logical_cpus']} logical CPUs; flags: "
        f"{', '.join(meta['cpu_flags'] or [])}; torch CPU capability "
        f"{meta['torch_cpu_capability']}), {meta['torch_threads']} torch threads.",
        "",
        "One default `DeepFMClassifier(random_state=k)` fit per `quality.py` "
        "split (the first "
        f"{meta['splits']}), HGB (the quality table's contestant) fitted on the "
        "same rows just before. Seconds are means over the splits; the steps "
        "are described in `fit_breakdown.py`. The fit-time target is 3x HGB.",
        "",
        "| data set | train rows | HGB s | fit s | fit / HGB | "
        + " | ".join(COLUMNS)
        + " | training alone / HGB | kept (interactions, crosses) |",
        "|---|---|---|---|---|" + "---|" * len(COLUMNS) + "---|---|",
    ]
    for result in results:
        rows = result["splits"]
        hgb = mean([r["hgb_seconds"] for r in rows])
        fit = mean([r["fit_seconds"] for r in rows])
        steps = {c: mean([r["steps"][c] for r in rows]) for c in COLUMNS}
        training = steps["first training"] + steps["second training"]
        kept = " ".join(
            "yn"[not r["interactions_kept"]] + "yn"[not r["crosses_kept"]] for r in rows
        )
        lines.append(
            f"| {result['dataset']} | {rows[0]['n_train']:,} | {hgb:.2f} | "
            f"{fit:.2f} | {fit / hgb:.1f}x | "
            + " | ".join(f"{steps[c]:.2f}" for c in COLUMNS)
            + f" | {training / hgb:.1f}x | {kept} |"
        )
    lines += [
        "",
        "Training alone / HGB: the two trainings' seconds over HGB's whole "
        "fit; where it is above 3, no change to the linear solves can meet "
        "the target. Kept: per split, whether the interactions (first "
        "letter) and the crosses' mix (second) were kept (y / n).",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--splits", type=int, default=3, help="splits (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--data-dir", type=Path, default=_data.DEFAULT_DATA_DIR)
    parser.add_argument(
        "--out", type=Path, default=BENCH_DIR / "results" / "fit_breakdown.json"
    )
    args = parser.parse_args(argv)
    args.params = {}
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads, user_api="blas")
    meta = environment(args)
    warm_up({})
    results, skipped = [], {}
    for name in args.datasets:
        try:
            table = _tables.load_table(name, args.data_dir)
        except _data.DatasetUnavailable as error:
            skipped[name] = str(error)
            print(f"skipping {name}: {error}", flush=True)
            continue
        results.append(run_table(table, args.splits))
    meta["skipped"] = skipped
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results, meta))


if __name__ == "__main__":
    main()
