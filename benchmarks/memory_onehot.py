"""Peak memory of one epoch on a very wide one-hot CSR matrix.

26 fields of 100,000 categories each (2.6M columns), 40,000 rows, one-hot
CSR built directly (never dense), DeepFMClassifier defaults with
``max_epochs=1`` and no early stopping.  Reports the process's peak RSS
(``ru_maxrss``) before and after fitting, and the fit and predict times.

Run: ``python benchmarks/memory_onehot.py`` (writes
``benchmarks/results/memory_onehot.json`` and ``.md``).
"""

import argparse
import datetime
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import sklearn
import torch

import sklearn_deepfm
from sklearn_deepfm import DeepFMClassifier

RESULTS = Path(__file__).parent / "results"


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def wide_onehot(n_rows, n_fields, n_categories, random_state):
    rng = np.random.default_rng(random_state)
    codes = rng.zipf(1.3, size=(n_rows, n_fields)) % n_categories
    columns = codes + np.arange(n_fields) * n_categories
    indptr = np.arange(0, n_rows * n_fields + 1, n_fields)
    X = sp.csr_matrix(
        (np.ones(n_rows * n_fields, dtype=np.float32), columns.ravel(), indptr),
        shape=(n_rows, n_fields * n_categories),
    )
    logit = (codes[:, 0] % 7 == codes[:, 1] % 7) * 1.5 + (codes[:, 2] % 3) * 0.5 - 1.5
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--fields", type=int, default=26)
    parser.add_argument("--categories", type=int, default=100_000)
    parser.add_argument("--out", default=str(RESULTS / "memory_onehot.json"))
    args = parser.parse_args(argv)

    torch.set_num_threads(2)
    start_rss = peak_rss_mib()
    X, y = wide_onehot(args.rows, args.fields, args.categories, random_state=0)
    data_rss = peak_rss_mib()
    model = DeepFMClassifier(max_epochs=1, early_stopping=False, random_state=0)
    tic = time.perf_counter()
    model.fit(X, y)
    fit_seconds = time.perf_counter() - tic
    fit_rss = peak_rss_mib()
    tic = time.perf_counter()
    model.predict_proba(X)
    predict_seconds = time.perf_counter() - tic
    result = {
        "what": "one epoch of DeepFMClassifier defaults on a one-hot CSR matrix",
        "command": "python benchmarks/memory_onehot.py",
        "rows": args.rows,
        "fields": args.fields,
        "columns": X.shape[1],
        "nnz": int(X.nnz),
        "n_fields_inferred": int(model.n_fields_),
        "peak_rss_mib_start": round(start_rss, 1),
        "peak_rss_mib_after_data": round(data_rss, 1),
        "peak_rss_mib_after_fit": round(fit_rss, 1),
        "peak_rss_mib_after_predict": round(peak_rss_mib(), 1),
        "target_peak_rss_mib": 3072,
        "fit_seconds": round(fit_seconds, 2),
        "predict_seconds": round(predict_seconds, 2),
        "versions": {
            "sklearn_deepfm": sklearn_deepfm.__version__,
            "torch": torch.__version__,
            "sklearn": sklearn.__version__,
            "python": platform.python_version(),
        },
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "date": datetime.date.today().isoformat(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    table = [
        "| columns | rows | fields inferred | peak RSS after fit (MiB) | target (MiB) "
        "| fit (s) | predict (s) |",
        "|---|---|---|---|---|---|---|",
        f"| {result['columns']:,} | {args.rows:,} | {result['n_fields_inferred']} "
        f"| {result['peak_rss_mib_after_fit']:,} | 3,072 | {fit_seconds:.1f} "
        f"| {predict_seconds:.1f} |",
    ]
    out.with_suffix(".md").write_text(
        "# Memory: one epoch on a 2.6M-column one-hot CSR\n\n"
        f"Command: `{result['command']}` ({result['date']}, {result['machine']}).\n\n"
        + "\n".join(table)
        + "\n"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
