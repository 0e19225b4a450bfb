"""Out-of-the-box quality of DeepFMClassifier against one-hot LogisticRegression.

Every data set is a pandas DataFrame as a user would hold it (``category``
columns, float64 numeric columns; see ``benchmarks/_tables.py``).  It is
split ``--splits`` times (default 5) into 80% training and 20% test rows:
``StratifiedShuffleSplit(n_splits, test_size=0.2, random_state=0)``, or
``GroupShuffleSplit`` by patient for diabetes.  On split ``k`` three models
are fitted on the same training rows and scored on the same test rows:

1. ``DeepFMClassifier(random_state=k, **params)`` on the DataFrame itself
   (library defaults; ``--params`` overrides them);
2. ``make_pipeline(ColumnTransformer([("num", StandardScaler(), numeric),
   ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)]),
   LogisticRegression(max_iter=1000))``, i.e. ``C=1``: what users run;
3. the same pipeline with ``C`` chosen from ``C_GRID`` by the validation log
   loss on a stratified 10% split of the training rows (seed ``k``), then
   refitted on all training rows.  The training rows are encoded once (by
   pipeline 2's fitted ColumnTransformer) and the matrix reused;
4. LR + crosses and 5. HGB, the two five-line alternatives of
   ``_alternatives.py`` (every pairwise cross of the categorical columns
   one-hot, C tuned as in 3; HistGradientBoostingClassifier with native
   categorical support).

"Best alternative" is, per data set, the highest mean AUC of models 2-5.
``--reuse FILE...`` takes the alternatives named by ``--reuse-models``
(default: all four) of every (data set, split) from earlier results files
instead of refitting them.

Run the full table (roughly 10-15 minutes on 2 cores; see
benchmarks/README.md)::

    python benchmarks/quality.py --out benchmarks/results/quality.json

which writes the JSON and a Markdown report next to it (``quality.md``).
A data set whose folder is absent is skipped with a message.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "2")

import _alternatives  # noqa: E402
import _data  # noqa: E402
import _tables  # noqa: E402
import torch  # noqa: E402
from run import cpu_flags, cpu_model, git_state, package_versions  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GroupShuffleSplit,
    StratifiedShuffleSplit,
    train_test_split,
)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_deepfm import DeepFMClassifier  # noqa: E402

RESULTS = Path(__file__).parent / "results"
DATASETS = [
    "frappe_rebuilt",
    "frappe",
    "movielens",
    "adult",
    "criteo",
    "avazu",
    "coupon",
    "diabetes",
    "hr",
    "telco",
    "synthetic_interactions",
]
ALIASES = {
    "uci_in_vehicle_coupon": "coupon",
    "uci_diabetes_130us": "diabetes",
    "hr_job_change_ds": "hr",
    "telco_customer_churn": "telco",
    "criteo_10k": "criteo",
    "avazu_9k": "avazu",
    "movielens_100k": "movielens",
    "synthetic": "synthetic_interactions",
}
# Sets where pairwise interactions clearly matter: DeepFM should beat the
# tuned LR by INTERACTION_GAIN there.
INTERACTION_SETS = {"coupon", "frappe", "frappe_rebuilt", "movielens"} | {
    "synthetic_interactions"
}
# Mixed categorical/numeric tables, where DeepFM's fit time should stay
# within MAX_FIT_RATIO times that of LR(C=1).
MIXED_SETS = {"adult", "diabetes", "hr", "telco", "coupon"}

C_GRID = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
TEST_SIZE = 0.2
VALIDATION_SIZE = 0.1
TOLERANCE = 0.002  # DeepFM mean AUC >= each LR's mean AUC - TOLERANCE
INTERACTION_GAIN = 0.01  # on interaction sets: >= tuned LR + INTERACTION_GAIN
MAX_FIT_RATIO = 20.0  # on mixed tables: DeepFM fit s <= 20 x LR(C=1) fit s
MAX_HGB_RATIO = 3.0  # every table: DeepFM fit s <= 3 x HGB fit s
EPS = 1e-7  # probabilities are clipped to [EPS, 1 - EPS] for the log loss
ALTERNATIVES = ("lr", "tuned_lr", "lr_crosses", "hgb")
MODELS = (*ALTERNATIVES, "deepfm")
MODEL_NAMES = {
    "lr": "LR (C=1)",
    "tuned_lr": "tuned LR",
    "lr_crosses": "LR + crosses",
    "hgb": "HGB",
    "deepfm": "DeepFM",
}


# --------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------


def environment(args):
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # older torch
        capability = None
    return {
        "command": "python " + shlex.join(sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "torch_cpu_capability": capability,
        "machine": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "versions": package_versions(),
        "git": git_state(),
        "splits": args.splits,
        "params": args.params,
        "protocol": {
            "test_size": TEST_SIZE,
            "C_grid": C_GRID,
            "C_selection": "validation log loss on a stratified "
            f"{VALIDATION_SIZE:.0%} split of the training rows (seed k)",
            "tolerance": TOLERANCE,
            "interaction_gain": INTERACTION_GAIN,
            "max_fit_ratio": MAX_FIT_RATIO,
            "max_hgb_ratio": MAX_HGB_RATIO,
            "interaction_sets": sorted(INTERACTION_SETS),
            "mixed_sets": sorted(MIXED_SETS),
        },
    }


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def scores(y, proba):
    proba = np.asarray(proba, dtype=np.float64)
    return {
        "auc": float(roc_auc_score(y, proba)),
        "logloss": float(log_loss(y, np.clip(proba, EPS, 1 - EPS))),
    }


def plain(value):
    """A JSON-friendly copy of a number or string, else None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else str(value)
    return None


def history_summary(history):
    """Epochs, the plain entries of the last epoch and the phase of each epoch.

    Only public, generic parts of skorch's History are read, and no key is
    assumed to exist.
    """
    summary = {"epochs": len(history)}
    if len(history):
        last = {}
        for key, value in history[-1].items():
            value = plain(value)
            if value is not None:
                last[key] = value
        summary["last_epoch"] = last
        phases = [epoch.get("phase") for epoch in history]
        if any(phase is not None for phase in phases):
            summary["phases"] = [plain(phase) for phase in phases]
            counts = {}
            for phase in summary["phases"]:
                counts[str(phase)] = counts.get(str(phase), 0) + 1
            summary["epochs_by_phase"] = counts
    return summary


def fit_deepfm(X_train, y_train, X_test, y_test, seed, params):
    model = DeepFMClassifier(random_state=seed, **params)
    tic = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - tic
    tic = time.perf_counter()
    proba = model.predict_proba(X_test)[:, 1]
    predict_seconds = time.perf_counter() - tic
    return {
        **scores(y_test, proba),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        **history_summary(model.history_),
    }


def one_hot_pipeline(numeric, categorical, C=1.0):
    return make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), numeric),
                ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
            ]
        ),
        LogisticRegression(C=C, max_iter=1000),
    )


def fit_logistic(model, A, y):
    """Fit; also return whether lbfgs converged and its iterations."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(A, y)
    n_iter = int(np.max(model.n_iter_))
    return model, {"n_iter": n_iter, "converged": n_iter < model.max_iter}


def fit_logistic_pipelines(X_train, y_train, X_test, y_test, numeric, categorical, k):
    """LR(C=1) as users run it, and the same pipeline with C tuned."""
    pipeline = one_hot_pipeline(numeric, categorical)
    tic = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - tic
    tic = time.perf_counter()
    proba = pipeline.predict_proba(X_test)[:, 1]
    predict_seconds = time.perf_counter() - tic
    encoder, logistic = pipeline[0], pipeline[-1]
    n_iter = int(np.max(logistic.n_iter_))
    lr = {
        **scores(y_test, proba),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "n_iter": n_iter,
        "converged": n_iter < logistic.max_iter,
    }

    # Tuned C: encode once with the fitted ColumnTransformer (the same one a
    # C-tuned pipeline fitted on these rows would learn) and reuse it.
    tic = time.perf_counter()
    A_train = encoder.transform(X_train)
    encode_seconds = time.perf_counter() - tic
    fit_rows, valid_rows = train_test_split(
        np.arange(len(y_train)),
        test_size=VALIDATION_SIZE,
        stratify=y_train,
        random_state=k,
    )
    A_fit, A_valid = A_train[fit_rows], A_train[valid_rows]
    y_fit, y_valid = y_train[fit_rows], y_train[valid_rows]
    sweep = []
    tic = time.perf_counter()
    for C in C_GRID:
        model, info = fit_logistic(LogisticRegression(C=C, max_iter=1000), A_fit, y_fit)
        valid = scores(y_valid, model.predict_proba(A_valid)[:, 1])
        sweep.append(
            {
                "C": C,
                "valid_logloss": valid["logloss"],
                "valid_auc": valid["auc"],
                **info,
            }
        )
    sweep_seconds = time.perf_counter() - tic
    best = min(sweep, key=lambda entry: entry["valid_logloss"])
    tic = time.perf_counter()
    model, info = fit_logistic(
        LogisticRegression(C=best["C"], max_iter=1000), A_train, y_train
    )
    refit_seconds = time.perf_counter() - tic
    proba = model.predict_proba(encoder.transform(X_test))[:, 1]
    tuned = {
        **scores(y_test, proba),
        "C": best["C"],
        # what a user pays: encoding, the C sweep and the final fit
        "fit_seconds": encode_seconds + sweep_seconds + refit_seconds,
        "encode_seconds": encode_seconds,
        "sweep_seconds": sweep_seconds,
        "refit_seconds": refit_seconds,
        **info,
        "sweep": sweep,
    }
    return lr, tuned


# --------------------------------------------------------------------------
# One data set
# --------------------------------------------------------------------------


def warm_up(params):
    """Fit each kind of model once on a small frame, untimed, so that one-off
    costs (lazy imports, torch's first kernels) are not charged to the first
    data set."""
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "a": pd.Categorical(rng.integers(0, 20, 2000).astype(str)),
            "b": pd.Categorical(rng.integers(0, 5, 2000).astype(str)),
            "x": rng.normal(size=2000),
        }
    )
    y = (rng.random(2000) < 0.3).astype(np.int64)
    fit_logistic_pipelines(X, y, X, y, ["x"], ["a", "b"], 0)
    fit_deepfm(X, y, X, y, 0, {**params, "max_epochs": 1})


def split_indices(table, n_splits):
    if table.groups is not None:
        splitter = GroupShuffleSplit(
            n_splits=n_splits, test_size=TEST_SIZE, random_state=0
        )
        n_groups = len(np.unique(table.groups))
        return (
            splitter.split(table.X, table.y, table.groups),
            f"GroupShuffleSplit, {n_groups:,} groups",
        )
    splitter = StratifiedShuffleSplit(
        n_splits=n_splits, test_size=TEST_SIZE, random_state=0
    )
    return splitter.split(np.zeros(len(table.y)), table.y), "StratifiedShuffleSplit"


def fit_alternatives(
    X_train, y_train, X_test, y_test, numeric, categorical, k, earlier=None
):
    """LR (C=1), tuned LR, LR + crosses and HGB on one split; those in
    ``earlier`` (a dict of entries) are taken from there."""
    earlier = earlier or {}
    out = dict(earlier)
    if "lr" not in out or "tuned_lr" not in out:
        out["lr"], out["tuned_lr"] = fit_logistic_pipelines(
            X_train, y_train, X_test, y_test, numeric, categorical, k
        )
    for name, fit in (
        ("lr_crosses", _alternatives.fit_lr_crosses),
        ("hgb", _alternatives.fit_hgb),
    ):
        if name not in out:
            proba, info = fit(X_train, y_train, X_test, numeric, categorical, k)
            out[name] = {**scores(y_test, proba), **info}
    return out


def run_dataset(table, n_splits, params, reuse=None):
    numeric, categorical = table.numeric_columns, table.categorical_columns
    splits, splitter = split_indices(table, n_splits)
    result = {
        "dataset": table.name,
        "n_rows": int(len(table.y)),
        "n_categorical": len(categorical),
        "n_numeric": len(numeric),
        "n_categories": int(sum(table.X[c].cat.categories.size for c in categorical)),
        "positive_rate": float(table.y.mean()),
        "splitter": splitter,
        "note": table.note,
        "interaction_set": table.name in INTERACTION_SETS,
        "mixed_set": table.name in MIXED_SETS,
        "splits": [],
    }
    for k, (train, test) in enumerate(splits):
        X_train, X_test = table.X.iloc[train], table.X.iloc[test]
        y_train, y_test = table.y[train], table.y[test]
        entry = {
            "split": k,
            "n_train": int(len(train)),
            "n_test": int(len(test)),
            "positive_rate_test": float(y_test.mean()),
        }
        if table.proba is not None:
            entry["bayes"] = scores(y_test, table.proba[test])
        earlier = (reuse or {}).get((table.name, k), {})
        if earlier:
            entry["reused"] = sorted(earlier)
        entry.update(
            fit_alternatives(
                X_train, y_train, X_test, y_test, numeric, categorical, k, earlier
            )
        )
        entry["deepfm"] = fit_deepfm(X_train, y_train, X_test, y_test, k, params)
        result["splits"].append(entry)
        aucs = ", ".join(
            f"{MODEL_NAMES[name]} {entry[name]['auc']:.4f}" for name in MODELS
        )
        times = ", ".join(
            f"{MODEL_NAMES[name]} {entry[name]['fit_seconds']:.1f}" for name in MODELS
        )
        print(
            f"{table.name} split {k}: AUC {aucs} ({entry['deepfm']['epochs']} "
            f"epochs); fit s {times}",
            flush=True,
        )
    result["summary"] = summarise(result)
    return result


def load_reuse(paths, models):
    """``{(data set, split): {model: entry}}`` of earlier results files, for
    the alternatives ``models``."""
    reuse = {}
    for path in paths:
        for r in json.loads(Path(path).read_text())["results"]:
            for e in r.get("splits", []):
                found = {name: e[name] for name in models if name in e}
                reuse.setdefault((r["dataset"], e["split"]), {}).update(found)
    return reuse


def stats(values):
    values = np.asarray(values, dtype=float)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def summarise(result):
    splits = result["splits"]

    def per_split(model, key):
        return np.array([entry[model][key] for entry in splits], dtype=float)

    summary = {}
    for model in MODELS:
        summary[model] = {
            key: stats(per_split(model, key))
            for key in ("auc", "logloss", "fit_seconds")
        }
    if "bayes" in splits[0]:
        summary["bayes"] = {
            key: stats([entry["bayes"][key] for entry in splits])
            for key in ("auc", "logloss")
        }
    summary["tuned_C"] = [entry["tuned_lr"]["C"] for entry in splits]
    summary["deepfm_epochs"] = [entry["deepfm"]["epochs"] for entry in splits]
    best = max(ALTERNATIVES, key=lambda name: summary[name]["auc"]["mean"])
    summary["best_alternative"] = best
    for baseline in (*ALTERNATIVES, "best"):
        other = best if baseline == "best" else baseline
        auc = per_split("deepfm", "auc") - per_split(other, "auc")
        logloss = per_split("deepfm", "logloss") - per_split(other, "logloss")
        summary[f"deepfm_minus_{baseline}"] = {
            "auc": {"mean": float(auc.mean()), "worst": float(auc.min())},
            "logloss": {"mean": float(logloss.mean()), "worst": float(logloss.max())},
        }
    for baseline in ("lr", "hgb"):
        ratio = per_split("deepfm", "fit_seconds") / per_split(baseline, "fit_seconds")
        summary[f"fit_ratio_deepfm_to_{baseline}"] = {
            "of_means": summary["deepfm"]["fit_seconds"]["mean"]
            / summary[baseline]["fit_seconds"]["mean"],
            "worst_split": float(ratio.max()),
        }
    summary["targets"] = targets(result["dataset"], summary)
    return summary


def targets(name, summary):
    """Each target: True/False, or None where it does not apply."""
    vs_lr = summary["deepfm_minus_lr"]["auc"]["mean"]
    vs_tuned = summary["deepfm_minus_tuned_lr"]["auc"]["mean"]
    vs_best = summary["deepfm_minus_best"]["auc"]["mean"]
    best = summary[summary["best_alternative"]]
    out = {
        "auc_vs_lr": bool(vs_lr >= -TOLERANCE),
        "auc_vs_tuned_lr": bool(vs_tuned >= -TOLERANCE),
        "auc_vs_best": bool(vs_best >= -TOLERANCE),
        "interaction_gain": bool(vs_tuned >= INTERACTION_GAIN)
        if name in INTERACTION_SETS
        else None,
        # where the AUCs tie, the log loss must be no worse than the best
        # alternative's + TOLERANCE
        "logloss_on_tie": bool(
            summary["deepfm"]["logloss"]["mean"] <= best["logloss"]["mean"] + TOLERANCE
        )
        if abs(vs_best) < TOLERANCE
        else None,
        "fit_time_vs_hgb": bool(
            summary["fit_ratio_deepfm_to_hgb"]["of_means"] <= MAX_HGB_RATIO
        ),
    }
    out["all"] = all(value for value in out.values() if value is not None)
    return out


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def flag(value):
    return "-" if value is None else ("yes" if value else "**no**")


def diff(entry, key, fmt="+.4f"):
    return f"{entry[key]['mean']:{fmt}} [{entry[key]['worst']:{fmt}}]"


def markdown(results, meta):
    flags = meta["cpu_flags"]
    machine = (
        f"{meta['cpu']} ({meta['machine']}, {meta['logical_cpus']} logical CPUs; "
        f"flags: {', '.join(flags) if flags else 'unknown'}; torch CPU capability "
        f"{meta['torch_cpu_capability']}), {meta['torch_threads']} torch threads"
    )
    versions = ", ".join(
        f"{name} {version}" for name, version in meta["versions"].items() if version
    )
    commit = meta["git"].get("commit") or "unknown"
    reused = meta.get("reuse") or {}
    lines = [
        "# Out-of-the-box quality: DeepFMClassifier against LR, LR + crosses, HGB",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"Date {meta['date']}; commit {commit[:10]}"
        f"{' (dirty)' if meta['git'].get('dirty') else ''}; {machine}.",
        f"Versions: {versions}.",
        "",
        f"Protocol: {meta['splits']} random 80/20 splits per data set "
        "(StratifiedShuffleSplit, random_state=0; diabetes GroupShuffleSplit by "
        "patient). On split k, on the same rows: DeepFMClassifier(random_state=k"
        + (f", **{json.dumps(meta['params'])}" if meta["params"] else "")
        + ") on the DataFrame; LR (C=1) = make_pipeline(ColumnTransformer("
        "StandardScaler on numeric, OneHotEncoder(handle_unknown='ignore') on "
        "categorical columns), LogisticRegression(max_iter=1000)); tuned LR = the "
        f"same with C in {C_GRID} chosen by validation log loss on a stratified "
        "10% split of the training rows (seed k), refitted on all training rows; "
        "LR + crosses = the same plus every pairwise cross of the categorical "
        "columns one-hot, C tuned the same way; HGB = OrdinalEncoder("
        "max_categories=255) + HistGradientBoostingClassifier("
        "categorical_features=...) with defaults (benchmarks/_alternatives.py). "
        "Best alternative: the highest mean AUC of the four. Differences are "
        "DeepFM minus the other, paired by split: mean [worst split].",
        "",
        f"Targets: DeepFM mean AUC >= each alternative's - {TOLERANCE}; where "
        f"the AUCs tie with the best (|diff| < {TOLERANCE}) mean log loss <= "
        f"its + {TOLERANCE}; DeepFM fit time <= {MAX_HGB_RATIO:g}x HGB's; on "
        f"interaction sets ({', '.join(sorted(INTERACTION_SETS))}) >= tuned LR "
        f"+ {INTERACTION_GAIN} (older target, kept for the record).",
        "",
    ]
    if reused.get("files"):
        names = ", ".join(MODEL_NAMES[name] for name in reused["models"])
        files = ", ".join(f"`{path}`" for path in reused["files"])
        lines += [
            f"{names}: taken from {files} (same splits and protocol), not "
            "fitted by this command; their fit times are from those runs.",
            "",
        ]
    lines += [
        "## Test AUC (mean over splits)",
        "",
        "| data set | rows | cat + num | LR (C=1) | tuned LR | LR + crosses | HGB "
        "| DeepFM | DeepFM - best alternative | DeepFM - LR |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    done = [r for r in results if "summary" in r]
    for r in done:
        s = r["summary"]
        best = s["best_alternative"]
        cells = []
        for name in ALTERNATIVES:
            text = f"{s[name]['auc']['mean']:.4f}"
            cells.append(f"**{text}**" if name == best else text)
        lines.append(
            f"| {r['dataset']} | {r['n_rows']:,} | {r['n_categorical']} + "
            f"{r['n_numeric']} | {' | '.join(cells)} | "
            f"{s['deepfm']['auc']['mean']:.4f} ± {s['deepfm']['auc']['std']:.4f} | "
            f"{diff(s['deepfm_minus_best'], 'auc')} | "
            f"{diff(s['deepfm_minus_lr'], 'auc')} |"
        )
    lines += [
        "",
        "## Test log loss (mean over splits)",
        "",
        "| data set | LR (C=1) | tuned LR | LR + crosses | HGB | DeepFM | "
        "DeepFM - best alternative (by AUC) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in done:
        s = r["summary"]
        cells = " | ".join(f"{s[name]['logloss']['mean']:.4f}" for name in MODELS)
        lines.append(
            f"| {r['dataset']} | {cells} | {diff(s['deepfm_minus_best'], 'logloss')} |"
        )
    lines += [
        "",
        "## Fit time (mean seconds over splits) and DeepFM epochs",
        "",
        "Tuned LR's and LR + crosses' times include encoding and the C sweep. "
        "Ratios: mean DeepFM fit time / mean fit time of the other [worst split].",
        "",
        "| data set | LR (C=1) s | tuned LR s | LR + crosses s | HGB s | DeepFM s | "
        "DeepFM / HGB | DeepFM / LR | DeepFM epochs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in done:
        s = r["summary"]
        cells = " | ".join(f"{s[name]['fit_seconds']['mean']:.2f}" for name in MODELS)
        epochs = s["deepfm_epochs"]
        ratios = " | ".join(
            f"{s[key]['of_means']:.1f}x [{s[key]['worst_split']:.1f}x]"
            for key in ("fit_ratio_deepfm_to_hgb", "fit_ratio_deepfm_to_lr")
        )
        lines.append(
            f"| {r['dataset']} | {cells} | {ratios} | {min(epochs)}-{max(epochs)} |"
        )
    lines += [
        "",
        "## Targets",
        "",
        f"| data set | AUC >= LR - {TOLERANCE} | AUC >= tuned LR - {TOLERANCE} | "
        f"AUC >= best alternative - {TOLERANCE} | log loss <= best's + "
        f"{TOLERANCE} (AUC tie) | fit <= {MAX_HGB_RATIO:g}x HGB | AUC >= tuned LR "
        f"+ {INTERACTION_GAIN} (interaction sets) | all |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in done:
        t = r["summary"]["targets"]
        lines.append(
            f"| {r['dataset']} | {flag(t['auc_vs_lr'])} | "
            f"{flag(t['auc_vs_tuned_lr'])} | {flag(t['auc_vs_best'])} | "
            f"{flag(t['logloss_on_tie'])} | {flag(t['fit_time_vs_hgb'])} | "
            f"{flag(t['interaction_gain'])} | {flag(t['all'])} |"
        )
    lines += [
        "",
        "## Every split",
        "",
        "| data set | split | train / test rows | AUC LR / tuned (C) / crosses (C) "
        "/ HGB / DeepFM | log loss LR / tuned / crosses / HGB / DeepFM | fit s "
        "LR / tuned / crosses / HGB / DeepFM | epochs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in done:
        for e in r["splits"]:
            aucs = (
                f"{e['lr']['auc']:.4f} / {e['tuned_lr']['auc']:.4f} "
                f"({e['tuned_lr']['C']:g}) / {e['lr_crosses']['auc']:.4f} "
                f"({e['lr_crosses']['C']:g}) / {e['hgb']['auc']:.4f} / "
                f"{e['deepfm']['auc']:.4f}"
            )
            losses = " / ".join(f"{e[name]['logloss']:.4f}" for name in MODELS)
            times = " / ".join(f"{e[name]['fit_seconds']:.2f}" for name in MODELS)
            lines.append(
                f"| {r['dataset']} | {e['split']} | {e['n_train']:,} / "
                f"{e['n_test']:,} | {aucs} | {losses} | {times} | "
                f"{e['deepfm']['epochs']} |"
            )
    lines += ["", "## Data sets", ""]
    for r in results:
        if "summary" in r:
            lines.append(f"- **{r['dataset']}** ({r['splitter']}): {r['note']}.")
        else:
            lines.append(f"- **{r['dataset']}**: FAILED: {r['error']}")
    for name, reason in meta.get("skipped", {}).items():
        lines.append(f"- **{name}**: skipped ({reason}).")
    return "\n".join(lines) + "\n"


def write(out, results, meta):
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(results, meta))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=f"Data sets: {', '.join(_tables.ALL_TABLES)}.",
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=DATASETS,
        help="data sets to run (default: all but medium)",
    )
    parser.add_argument("--splits", type=int, default=5, help="splits (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--out", default=str(RESULTS / "quality.json"))
    parser.add_argument("--data-dir", type=Path, default=_data.DEFAULT_DATA_DIR)
    parser.add_argument(
        "--reuse",
        nargs="+",
        default=[],
        help="earlier results files whose entries of --reuse-models are taken "
        "for the same (data set, split) instead of refitting",
    )
    parser.add_argument(
        "--reuse-models",
        nargs="+",
        choices=ALTERNATIVES,
        default=list(ALTERNATIVES),
        help="the alternatives taken from --reuse (default: all four)",
    )
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        help="JSON object of DeepFMClassifier parameters to set instead of the "
        "defaults, e.g. '{\"max_epochs\": 2}'",
    )
    args = parser.parse_args(argv)
    names = [ALIASES.get(name, name) for name in args.datasets]
    unknown = [name for name in names if name not in _tables.ALL_TABLES]
    if unknown:
        parser.error(f"unknown data sets {unknown}; choose from {_tables.ALL_TABLES}")
    if args.splits < 1:
        parser.error("--splits must be at least 1")

    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads, user_api="blas")
    meta = environment(args)
    meta["skipped"] = {}
    meta["reuse"] = {"files": args.reuse, "models": args.reuse_models}
    reuse = load_reuse(args.reuse, args.reuse_models) if args.reuse else None
    warm_up(args.params)
    out = Path(args.out)
    results, failed = [], False
    for name in names:
        tic = time.perf_counter()
        try:
            table = _tables.load_table(name, args.data_dir)
        except _data.DatasetUnavailable as exc:
            print(f"skipping {name}: {exc}", flush=True)
            meta["skipped"][name] = str(exc)
            continue
        print(
            f"{name}: {table.X.shape[0]:,} rows, {table.X.shape[1]} columns, "
            f"loaded in {time.perf_counter() - tic:.1f} s",
            flush=True,
        )
        try:
            results.append(run_dataset(table, args.splits, args.params, reuse))
        except Exception as exc:  # keep the other data sets' results
            traceback.print_exc()
            results.append({"dataset": name, "error": repr(exc)})
            failed = True
        write(out, results, meta)  # after every data set: partial runs survive
    write(out, results, meta)
    print(markdown(results, meta))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
