"""How the test AUC moves with each hyper-parameter, one at a time.

On each data set and split of ``quality.py`` (same tables, same
``StratifiedShuffleSplit`` / ``GroupShuffleSplit``), DeepFMClassifier is
fitted with the library defaults and with one parameter changed at a time
(``GRID``); the report gives, per parameter value, the mean test AUC
difference to the defaults (paired by split) on every data set, and the fit
time.  It is the evidence behind the user guide's "Choosing
hyper-parameters" page.

Run::

    python benchmarks/hyperparameters.py --out benchmarks/results/hyperparameters.json
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _data  # noqa: E402
import _tables  # noqa: E402
import torch  # noqa: E402
from quality import environment, fit_deepfm, split_indices  # noqa: E402

DATASETS = ["adult", "coupon", "criteo", "movielens", "hr"]
GRID = {
    "embedding_dim": [4, 16, 32],
    "hidden_units": [[64], [400, 400, 400]],
    "dropout": [0.1, 0.3],
    "alpha": [1e-5, 1e-4, 1e-3],
    "lr": [5e-4, 5e-3],
    "batch_size": [256, 2048],
}


def run(name, n_splits, data_dir):
    table = _tables.load_table(name, data_dir)
    splits, _ = split_indices(table, n_splits)
    rows = []
    for k, (train, test) in enumerate(splits):
        X_train, X_test = table.X.iloc[train], table.X.iloc[test]
        y_train, y_test = table.y[train], table.y[test]
        settings = [("default", None)] + [
            (param, value) for param, values in GRID.items() for value in values
        ]
        for param, value in settings:
            params = {} if value is None else {param: value}
            result = fit_deepfm(X_train, y_train, X_test, y_test, k, params)
            rows.append({"split": k, "param": param, "value": value, **result})
            print(name, k, param, value, round(result["auc"], 4), flush=True)
    return rows


def summarise(rows):
    """Mean AUC difference to the default, paired by split, per setting."""
    default = {r["split"]: r for r in rows if r["param"] == "default"}
    out = {}
    for r in rows:
        key = (r["param"], json.dumps(r["value"]))
        base = default[r["split"]]
        entry = out.setdefault(key, {"auc_diff": [], "fit_seconds": []})
        entry["auc_diff"].append(r["auc"] - base["auc"])
        entry["fit_seconds"].append(r["fit_seconds"])
    return {
        key: {
            "auc_diff": float(np.mean(v["auc_diff"])),
            "fit_seconds": float(np.mean(v["fit_seconds"])),
        }
        for key, v in out.items()
    }


def markdown(results, meta):
    names = list(results)
    summaries = {name: summarise(rows) for name, rows in results.items()}
    keys = list(summaries[names[0]])
    lines = [
        "# Test AUC against each hyper-parameter, one at a time",
        "",
        f"Command: `{meta['command']}`; {meta['date']}; {meta['cpu']} "
        f"(flags: {', '.join(meta['cpu_flags'] or [])}); "
        f"{meta['torch_threads']} torch threads.",
        f"Splits per data set: {meta['splits']} (the quality.py splits). Cells: mean "
        "test AUC difference to the defaults, paired by split; the default row "
        "gives the AUC itself. Fit seconds are the mean over data sets and splits.",
        "",
        "| setting | " + " | ".join(names) + " | fit s |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for key in keys:
        param, value = key
        cells = []
        for name in names:
            entry = summaries[name][key]
            if param == "default":
                aucs = [r["auc"] for r in results[name] if r["param"] == "default"]
                cells.append(f"{np.mean(aucs):.4f}")
            else:
                cells.append(f"{entry['auc_diff']:+.4f}")
        seconds = np.mean([summaries[name][key]["fit_seconds"] for name in names])
        label = "defaults" if param == "default" else f"{param}={json.loads(value)}"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {seconds:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--splits", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=_tables.DEFAULT_DATA_DIR)
    parser.add_argument(
        "--out", default=str(BENCH_DIR / "results" / "hyperparameters.json")
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.params = {}
    meta = environment(args)
    results = {}
    for name in args.datasets:
        tic = time.perf_counter()
        try:
            results[name] = run(name, args.splits, args.data_dir)
        except _data.DatasetUnavailable as exc:
            print(f"skipping {name}: {exc}", flush=True)
            continue
        print(f"{name}: {time.perf_counter() - tic:.0f} s", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(results, meta))
    print(markdown(results, meta))


if __name__ == "__main__":
    main()
