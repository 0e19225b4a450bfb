"""Out-of-the-box test AUC of DeepFMClassifier against a tuned LogisticRegression.

For every data set: LogisticRegression on the one-hot encoding, with ``C``
chosen on a stratified 10% validation split of the training rows (seed 0)
and refitted on all training rows; DeepFMClassifier with library defaults
(only ``random_state`` set) on the label-encoded form, for several seeds.
Both are scored on the data set's own test rows.

Run (the full table takes about half an hour on 2 cores)::

    python benchmarks/quality.py --out benchmarks/results/quality.json

Data sets come from ``benchmarks/_data.py`` (cached under
``benchmarks/results/tmp``); any whose source folder is absent is skipped.
"""

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "2")

import _data  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from run import cpu_model  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import OneHotEncoder  # noqa: E402

import sklearn_deepfm  # noqa: E402
from sklearn_deepfm import DeepFMClassifier  # noqa: E402
from sklearn_deepfm._base import _native_cpu_bfloat16  # noqa: E402

RESULTS = Path(__file__).parent / "results"
DATASETS = [
    "frappe_rebuilt",
    "frappe",
    "movielens",
    "adult",
    "criteo",
    "avazu",
    "medium",
]
FRAPPE_FIELDS = [
    "user",
    "item",
    "daytime",
    "weekday",
    "isweekend",
    "homework",
    "cost",
    "weather",
    "country",
    "city",
]
C_GRID = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
TOLERANCE = 0.002  # the target: DeepFM AUC >= LR AUC - TOLERANCE


def tuned_logistic_regression(X_train, y_train, X_test):
    """Test scores of a one-hot LR whose C is chosen on a validation split."""
    encoder = OneHotEncoder(handle_unknown="ignore").fit(X_train)
    A_train, A_test = encoder.transform(X_train), encoder.transform(X_test)
    fit_rows, valid_rows = train_test_split(
        np.arange(len(y_train)), test_size=0.1, stratify=y_train, random_state=0
    )
    scores = {}
    for C in C_GRID:
        model = LogisticRegression(C=C, max_iter=1000)
        model.fit(A_train[fit_rows], y_train[fit_rows])
        valid = model.decision_function(A_train[valid_rows])
        scores[C] = roc_auc_score(y_train[valid_rows], valid)
    best_C = max(scores, key=scores.get)
    tic = time.perf_counter()
    model = LogisticRegression(C=best_C, max_iter=1000).fit(A_train, y_train)
    seconds = time.perf_counter() - tic
    return model.predict_proba(A_test)[:, 1], {"C": best_C, "fit_seconds": seconds}


def deepfm_scores(X_train, y_train, X_test, seed, params):
    tic = time.perf_counter()
    model = DeepFMClassifier(random_state=seed, **params).fit(X_train, y_train)
    seconds = time.perf_counter() - tic
    epochs = len(model.history_)
    return model.predict_proba(X_test)[:, 1], {"fit_seconds": seconds, "epochs": epochs}


def summarise(values):
    values = np.asarray(values, dtype=float)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def frappe_rebuilt(data_dir=_data.DEFAULT_DATA_DIR, random_state=0):
    """Frappe from the raw log: 2 sampled negatives per positive, 7:2:1 split.

    Each logged (user, item, context) row is a positive; each gets two
    negatives with the same user and context and an item drawn uniformly
    from the other items.  The 70% train part is returned for fitting and
    the 10% test part for scoring (the 20% validation part is unused: the
    estimators hold out their own validation rows).
    """
    path = Path(data_dir) / "frappe" / "frappe.csv"
    if not path.exists():
        raise _data.DatasetUnavailable(f"{path} is absent")
    import pandas as pd

    log = pd.read_csv(path, sep="\t")[FRAPPE_FIELDS]
    codes = np.column_stack(
        [pd.factorize(log[name], sort=True)[0] for name in FRAPPE_FIELDS]
    )
    rng = np.random.default_rng(random_state)
    n_items = codes[:, 1].max() + 1
    negatives = np.repeat(codes, 2, axis=0)
    shift = rng.integers(1, n_items, size=len(negatives))
    negatives[:, 1] = (negatives[:, 1] + shift) % n_items  # never the logged item
    X = np.vstack([codes, negatives])
    y = np.r_[np.ones(len(codes), dtype=np.int64), np.zeros(len(negatives), np.int64)]
    order = rng.permutation(len(y))
    n_train, n_valid = int(0.7 * len(y)), int(0.2 * len(y))
    train, test = order[:n_train], order[n_train + n_valid :]
    info = {
        "note": f"{len(y):,} rows from frappe.csv (2 negatives per positive, items "
        "drawn uniformly among the others, seed 0); 7:2:1 split, the 20% "
        "validation part unused"
    }
    return X[train], y[train], X[test], y[test], info


def run_dataset(name, seeds, params):
    if name == "frappe_rebuilt":
        X_train, y_train, X_test, y_test, info = frappe_rebuilt()
    else:
        path, info = _data.prepare(name)
        data = _data.load(path)
        X_train, y_train = data["X_train"], data["y_train"]
        X_test, y_test = data["X_test"], data["y_test"]
    lr_proba, lr_info = tuned_logistic_regression(X_train, y_train, X_test)
    result = {
        "dataset": name,
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "n_fields": int(X_train.shape[1]),
        "note": info.get("note", ""),
        "logistic_regression": {
            "auc": float(roc_auc_score(y_test, lr_proba)),
            "logloss": float(log_loss(y_test, lr_proba)),
            **lr_info,
        },
        "deepfm": [],
    }
    if "bayes_auc" in info:
        result["bayes_auc"] = info["bayes_auc"]
        result["bayes_logloss"] = info["bayes_logloss"]
    for seed in seeds:
        proba, fit_info = deepfm_scores(X_train, y_train, X_test, seed, params)
        result["deepfm"].append(
            {
                "seed": seed,
                "auc": float(roc_auc_score(y_test, proba)),
                "logloss": float(log_loss(y_test, np.clip(proba, 1e-7, 1 - 1e-7))),
                **fit_info,
            }
        )
        print(name, result["deepfm"][-1], flush=True)
    aucs = [run["auc"] for run in result["deepfm"]]
    result["deepfm_auc"] = summarise(aucs)
    result["deepfm_logloss"] = summarise([run["logloss"] for run in result["deepfm"]])
    gaps = np.array(aucs) - result["logistic_regression"]["auc"]
    result["auc_minus_lr"] = summarise(gaps)
    result["meets_lr_floor"] = bool(gaps.mean() >= -TOLERANCE)
    return result


def markdown(results, meta):
    lines = [
        "# Out-of-the-box quality: DeepFMClassifier defaults vs tuned LR",
        "",
        f"Command: `{meta['command']}`; {meta['date']}; {meta['machine']}.",
        f"Seeds {meta['seeds']}; LR on one-hot input with C chosen on a 10% "
        "validation split of the training rows; test AUC on each data set's test "
        f"rows. Target: DeepFM AUC >= LR AUC - {TOLERANCE}.",
        "",
        "| data set | train rows | LR AUC (C) | DeepFM AUC mean ± std [min, max] "
        "| DeepFM - LR | Bayes AUC | DeepFM logloss | epochs | fit s | meets |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        auc, gap, lr = r["deepfm_auc"], r["auc_minus_lr"], r["logistic_regression"]
        epochs = [run["epochs"] for run in r["deepfm"]]
        seconds = np.mean([run["fit_seconds"] for run in r["deepfm"]])
        bayes = f"{r['bayes_auc']:.4f}" if "bayes_auc" in r else "-"
        lines.append(
            f"| {r['dataset']} | {r['n_train']:,} | {lr['auc']:.4f} ({lr['C']:g}) "
            f"| {auc['mean']:.4f} ± {auc['std']:.4f} [{auc['min']:.4f}, "
            f"{auc['max']:.4f}] | {gap['mean']:+.4f} | {bayes} "
            f"| {r['deepfm_logloss']['mean']:.4f} | {min(epochs)}-{max(epochs)} "
            f"| {seconds:.0f} | {'yes' if r['meets_lr_floor'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", default=str(RESULTS / "quality.json"))
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        help="JSON object of DeepFMClassifier parameters to set instead of the "
        "defaults, e.g. '{\"mixed_precision\": false}'",
    )
    args = parser.parse_args(argv)

    results = []
    for name in args.datasets:
        try:
            results.append(run_dataset(name, args.seeds, args.params))
        except _data.DatasetUnavailable as exc:
            print(f"skipping {name}: {exc}", flush=True)
    meta = {
        "command": "python benchmarks/quality.py "
        + " ".join(["--datasets", *args.datasets, "--seeds", *map(str, args.seeds)])
        + (f" --params '{json.dumps(args.params)}'" if args.params else ""),
        "params": args.params,
        "date": datetime.date.today().isoformat(),
        "machine": f"{cpu_model()}, {platform.machine()}, {os.cpu_count()} "
        f"cores, {torch.get_num_threads()} torch threads, AMX "
        f"{'yes' if _native_cpu_bfloat16() else 'no'}",
        "seeds": args.seeds,
        "versions": {
            "sklearn_deepfm": sklearn_deepfm.__version__,
            "torch": torch.__version__,
            "sklearn": sklearn.__version__,
            "python": platform.python_version(),
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(results, meta))
    print(markdown(results, meta))


if __name__ == "__main__":
    main()
