"""Recipe research: DeepFM variants on the splits of ``quality.py``.

Fits ``DeepFMClassifier(random_state=k, **params)`` on the first
``--splits`` splits of each table (``quality.py``'s protocol), with optional
changes of the recipe that are not parameters (applied by patching the
private defaults, for research only), and prints the mean test AUC and log
loss next to the best alternative and the library default of a
``quality.py`` results file (``--ref``) on the same splits.  The record of
what was tried lives in ``results/recipe_research.md``.

    python benchmarks/recipe_search.py --datasets coupon adult --splits 3 \\
        --ref benchmarks/results/quality.json --params '{"lr": 0.005}'
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "2")

import _data  # noqa: E402
import _tables  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from _alternatives import PairCrosses  # noqa: E402
from quality import ALTERNATIVES, split_indices  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402

import sklearn_deepfm._base as base  # noqa: E402
import sklearn_deepfm._model as model_module  # noqa: E402
import sklearn_deepfm._net as net_module  # noqa: E402
import sklearn_deepfm._schedule as schedule  # noqa: E402
from sklearn_deepfm import DeepFMClassifier  # noqa: E402


def patch(args):
    """The recipe changes that are not parameters."""
    if args.factor is not None:
        init = schedule.TrainingSchedule.__init__

        def with_factor(self, patience=2, factor=0.1, monitor="valid_loss", tol=1e-4):
            init(self, patience, args.factor, monitor, tol)

        schedule.TrainingSchedule.__init__ = with_factor
    if args.init_std is not None:
        build = model_module.DeepFM.__init__

        def with_std(self, *positional, **named):
            named["embedding_init_std"] = args.init_std
            build(self, *positional, **named)

        model_module.DeepFM.__init__ = with_std
    if args.unfreeze:
        set_linear = net_module.DeepFMNet.set_linear

        def trainable(self, weight, bias):
            set_linear(self, weight, bias)
            self.module_.linear.requires_grad_(True)

        net_module.DeepFMNet.set_linear = trainable
    if args.batch_steps:
        base.AUTO_BATCH_STEPS = args.batch_steps


def binned(X_train, X_test, numeric, n_bins, replace):
    """Quantile bins (edges from the training rows) of every numeric column
    as an extra categorical column, or instead of it."""
    X_train, X_test = X_train.copy(), X_test.copy()
    for column in numeric:
        quantiles = np.linspace(0, 1, n_bins + 1)[1:-1]
        edges = np.unique(np.quantile(X_train[column], quantiles))
        for X in (X_train, X_test):
            bins = np.searchsorted(edges, X[column], side="right")
            X[column + "#bin"] = pd.Categorical(bins, categories=range(edges.size + 1))
    if replace:
        X_train, X_test = X_train.drop(columns=numeric), X_test.drop(columns=numeric)
    return X_train, X_test


def with_cross_fields(X_train, X_test, categorical):
    """Every pair of the categorical columns crossed (the codes of
    ``_alternatives.PairCrosses``, as LR + crosses sees them) as one more
    categorical column each."""
    crosses = PairCrosses(categorical)
    frames = []
    for X in (X_train, X_test):
        codes = crosses(X)
        extra = pd.DataFrame(
            {f"cross{i}": codes[:, i] for i in range(codes.shape[1])}, index=X.index
        ).astype("category")
        frames.append(pd.concat([X, extra], axis=1))
    return frames


def choose_cross_fields(X_train, y_train, X_test, categorical, k, params):
    """Fit the defaults with and without the cross fields on the same 90% of
    the training rows, keep the one with the lower log loss on the other 10%
    (stratified, seed ``k``); its test probabilities, whether it has the
    crosses, and both variants' test probabilities."""
    from sklearn.model_selection import train_test_split

    fit, held = train_test_split(
        np.arange(len(y_train)), test_size=0.1, stratify=y_train, random_state=k
    )
    crossed = with_cross_fields(X_train, X_test, categorical)
    found = []
    for X, X_new in ((X_train, X_test), crossed):
        model = DeepFMClassifier(random_state=k, **params)
        model.fit(X.iloc[fit], y_train[fit])
        held_loss = log_loss(y_train[held], model.predict_proba(X.iloc[held])[:, 1])
        found.append((held_loss, model.predict_proba(X_new)[:, 1]))
    with_crosses = found[1][0] < found[0][0]
    return found[int(with_crosses)][1], with_crosses, found[0][1], found[1][1]


def reference(path):
    if not path or not os.path.exists(path):
        return {}
    results = json.loads(open(path).read())["results"]
    return {
        (r["dataset"], e["split"]): e
        for r in results
        if "splits" in r
        for e in r["splits"]
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--params", type=json.loads, default={})
    parser.add_argument("--factor", type=float, help="learning-rate cut per miss")
    parser.add_argument("--init-std", type=float, help="embedding init std")
    parser.add_argument("--unfreeze", action="store_true", help="train the solved LR")
    parser.add_argument("--batch-steps", type=int, help="'auto' batch: n // this")
    parser.add_argument("--bins", type=int, default=0, help="quantile bins")
    parser.add_argument("--bins-only", action="store_true", help="bins replace")
    parser.add_argument(
        "--cross-fields", action="store_true", help="pairwise crosses as fields"
    )
    parser.add_argument(
        "--choose-cross-fields",
        action="store_true",
        help="fit with and without the cross fields, keep one by held-out rows",
    )
    parser.add_argument("--ref", help="a quality.py results file")
    parser.add_argument("--label", default="")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=_data.DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    patch(args)
    ref = reference(args.ref)
    for name in args.datasets:
        table = _tables.load_table(name, args.data_dir)
        splits, _ = split_indices(table, 5)
        rows = []
        for k, (train, test) in enumerate(splits):
            if k >= args.splits:
                break
            X_train, X_test = table.X.iloc[train], table.X.iloc[test]
            if args.bins:
                X_train, X_test = binned(
                    X_train, X_test, table.numeric_columns, args.bins, args.bins_only
                )
            if args.cross_fields:
                X_train, X_test = with_cross_fields(
                    X_train, X_test, table.categorical_columns
                )
            tic = time.perf_counter()
            if args.choose_cross_fields:
                proba, kept, plain, crossed = choose_cross_fields(
                    X_train,
                    table.y[train],
                    X_test,
                    table.categorical_columns,
                    k,
                    args.params,
                )
                seconds = time.perf_counter() - tic
                print(
                    f"  split {k}: crosses chosen {kept}; test AUC without "
                    f"{roc_auc_score(table.y[test], plain):.4f}, with "
                    f"{roc_auc_score(table.y[test], crossed):.4f}",
                    flush=True,
                )
                model = None
            else:
                model = DeepFMClassifier(random_state=k, **args.params)
                model.fit(X_train, table.y[train])
                seconds = time.perf_counter() - tic
                proba = model.predict_proba(X_test)[:, 1]
                kept = model.interactions_kept_
            earlier = ref.get((name, k), {})
            best = max(
                (earlier[m]["auc"] for m in ALTERNATIVES if m in earlier),
                default=np.nan,
            )
            rows.append(
                (
                    roc_auc_score(table.y[test], proba),
                    log_loss(table.y[test], np.clip(proba, 1e-7, 1 - 1e-7)),
                    best,
                    earlier.get("deepfm", {}).get("auc", np.nan),
                    seconds,
                    len(model.history_) if model is not None else 0,
                    kept,
                )
            )
        r = np.array(rows, dtype=float)
        print(
            f"{name:12s} {args.label:24s} AUC {r[:, 0].mean():.4f} log loss "
            f"{r[:, 1].mean():.4f} | best alternative {r[:, 2].mean():.4f} "
            f"({r[:, 0].mean() - r[:, 2].mean():+.4f}) | vs --ref default "
            f"{r[:, 0].mean() - r[:, 3].mean():+.4f} | fit {r[:, 4].mean():.1f} s, "
            f"epochs {r[:, 5].astype(int).tolist()}, kept "
            f"{r[:, 6].astype(int).tolist()}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
