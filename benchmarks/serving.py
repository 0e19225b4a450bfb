"""Serving speed: in-process ``predict_proba`` against onnxruntime.

On label-encoded click logs of 26 fields (``make_ctr_classification``, the
cardinality spread of the ``medium`` set at a tenth of its categories),
fits ``DeepFMClassifier`` (library defaults, but one epoch and no early
stopping, so that the FM and deep parts are in the model) and the pipeline
users compare it with, ``OneHotEncoder(handle_unknown="ignore")`` +
``LogisticRegression``, on the same training rows; converts the DeepFM
estimator to ONNX (``sklearn_deepfm.onnx``) and measures:

- latency of one row: the median of ``--calls`` calls of ``predict_proba``
  (DeepFM and the pipeline) and of ``InferenceSession.run`` (DeepFM);
- throughput on ``--rows`` test rows: the best of three calls, onnxruntime
  both on all rows in one call and in calls of ``--onnx-batch`` rows (a
  server's batches; ``predict_proba`` batches internally, by 4096 rows);
- the largest ``|p_onnx - p|`` over those rows;
- one row of a DataFrame (UCI Adult, 8 string and 6 integer columns, which
  ship with the package): ``predict_proba`` of DeepFM fitted on the
  DataFrame itself, and onnxruntime.

Targets (from the serving issue): in-process one row <= 1 ms (label-encoded
array); onnxruntime one row <= 0.2 ms and >= 2x the in-process throughput;
max diff <= 1e-5.
Run (a minute or two on one thread) on an otherwise idle machine::

    python benchmarks/serving.py --wait-idle 300 --out benchmarks/results/serving.json

The report records how many CPUs other processes used meanwhile (above
0.1, the result is marked DISTURBED).

which writes the JSON and a Markdown report next to it (``serving.md``).
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

THREADS_DEFAULT = 1
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, str(THREADS_DEFAULT))

import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from _worker import busy_cpu_s  # noqa: E402
from run import (  # noqa: E402
    BUSY_THRESHOLD,
    cpu_flags,
    cpu_model,
    git_state,
    wait_until_idle,
)
from skl2onnx import to_onnx  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import sklearn_deepfm.onnx  # noqa: E402, F401  (registers the converters)
from sklearn_deepfm import DeepFMClassifier  # noqa: E402
from sklearn_deepfm.datasets import (  # noqa: E402
    ctr_cardinalities,
    load_adult,
    make_ctr_classification,
)

N_FIELDS = 26
TOTAL_CATEGORIES = 38_500  # the medium set's 385,000 planted, divided by 10
TARGETS = {
    "inprocess_one_row_ms": 1.0,
    "onnx_one_row_ms": 0.2,
    "onnx_throughput_ratio": 2.0,
    "max_abs_diff": 1e-5,
}
PACKAGES = (
    "torch",
    "numpy",
    "scikit-learn",
    "skorch",
    "onnx",
    "onnxruntime",
    "skl2onnx",
    "sklearn-deepfm",
)


def versions():
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def median_ms(call, n_calls, warmup=50):
    """Median wall time of ``call()`` in milliseconds."""
    for _ in range(warmup):
        call()
    times = np.empty(n_calls)
    for i in range(n_calls):
        start = time.perf_counter()
        call()
        times[i] = time.perf_counter() - start
    return float(np.median(times) * 1e3)


def best_rows_per_s(call, n_rows, repeats=3):
    """Rows per second of the fastest of ``repeats`` calls of ``call()``."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return float(n_rows / best)


def onnx_session(onx, threads):
    """An onnxruntime CPU session of the ONNX model ``onx``, with ``threads``
    intra-op threads and one inter-op thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        onx.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def data(n_train, n_test):
    X, y = make_ctr_classification(
        n_samples=n_train + n_test,
        n_fields=N_FIELDS,
        cardinalities=ctr_cardinalities(N_FIELDS, TOTAL_CATEGORIES, random_state=0),
        random_state=0,
    )
    return X[:n_train], y[:n_train], X[n_train:]


def measure(args):
    torch.set_num_threads(args.threads)
    X_train, y_train, X_test = data(args.train_rows, args.rows)
    model = DeepFMClassifier(max_epochs=1, early_stopping=False, random_state=0)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a convergence warning at max_iter
        baseline = make_pipeline(
            OneHotEncoder(handle_unknown="ignore"),
            LogisticRegression(max_iter=200),
        ).fit(X_train, y_train)

    onx = to_onnx(model, X_train[:1], options={"zipmap": False})
    session = onnx_session(onx, args.threads)

    row = X_test[:1]
    results = {
        "fit_s": fit_s,
        "onnx_bytes": len(onx.SerializeToString()),
        "onnx_nodes": len(onx.graph.node),
        "interactions_kept": bool(model.interactions_kept_),
        "n_embeddings": int(model.input_layout_.n_embeddings),
        "inprocess_one_row_ms": median_ms(lambda: model.predict_proba(row), args.calls),
        "baseline_one_row_ms": median_ms(
            lambda: baseline.predict_proba(row), args.calls
        ),
        "onnx_one_row_ms": median_ms(
            lambda: session.run(None, {"X": row}), args.calls * 5
        ),
        "inprocess_rows_per_s": best_rows_per_s(
            lambda: model.predict_proba(X_test), len(X_test)
        ),
        "baseline_rows_per_s": best_rows_per_s(
            lambda: baseline.predict_proba(X_test), len(X_test)
        ),
        "onnx_rows_per_s": best_rows_per_s(
            lambda: session.run(None, {"X": X_test}), len(X_test)
        ),
    }
    batch = args.onnx_batch
    results["onnx_batched_rows_per_s"] = best_rows_per_s(
        lambda: [
            session.run(None, {"X": X_test[start : start + batch]})
            for start in range(0, len(X_test), batch)
        ],
        len(X_test),
    )
    _, p_onnx = session.run(None, {"X": X_test})
    results["max_abs_diff"] = float(np.abs(p_onnx - model.predict_proba(X_test)).max())
    for suffix in ("", "_batched"):
        results[f"onnx{suffix}_throughput_ratio"] = (
            results[f"onnx{suffix}_rows_per_s"] / results["inprocess_rows_per_s"]
        )
    results.update(measure_dataframe(args))
    return results


def measure_dataframe(args):
    """One row of the Adult DataFrame: in process and in onnxruntime."""
    X, y = load_adult(return_X_y=True)
    model = DeepFMClassifier(max_epochs=1, early_stopping=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the guess about 'fnlwgt' (categorical)
        model.fit(X[:5000], y[:5000])
    onx = to_onnx(model, X[:1], options={"zipmap": False})
    session = onnx_session(onx, args.threads)
    row = X[5000:5001]
    feeds = {
        graph_input.name: row[[name]].to_numpy(
            dtype=object if str(row[name].dtype) == "category" else None
        )
        for graph_input, name in zip(session.get_inputs(), row.columns, strict=True)
    }
    expected = model.predict_proba(row)
    assert np.abs(session.run(None, feeds)[1] - expected).max() <= 1e-5
    return {
        "dataframe_inprocess_one_row_ms": median_ms(
            lambda: model.predict_proba(row), args.calls
        ),
        "dataframe_onnx_one_row_ms": median_ms(
            lambda: session.run(None, feeds), args.calls * 5
        ),
    }


def verdicts(results):
    return {
        "inprocess_one_row_ms": results["inprocess_one_row_ms"]
        <= TARGETS["inprocess_one_row_ms"],
        "onnx_one_row_ms": results["onnx_one_row_ms"] <= TARGETS["onnx_one_row_ms"],
        "onnx_throughput_ratio": results["onnx_throughput_ratio"]
        >= TARGETS["onnx_throughput_ratio"],
        "onnx_batched_throughput_ratio": results["onnx_batched_throughput_ratio"]
        >= TARGETS["onnx_throughput_ratio"],
        "max_abs_diff": results["max_abs_diff"] <= TARGETS["max_abs_diff"],
    }


def render(report):
    meta, results, met = report["meta"], report["results"], report["targets_met"]
    flags = meta["cpu_flags"]

    def verdict(key):
        return "met" if met[key] else "**MISSED**"

    lines = [
        "# Serving speed",
        "",
        f"- Date: {meta['date']}",
        f"- CPU: {meta['cpu']} ({meta['logical_cpus']} logical CPUs); ISA flags: "
        f"{', '.join(flags) if flags else 'unknown'}",
        f"- Threads: torch {meta['torch_threads']}, onnxruntime intra-op "
        f"{meta['threads']}",
        "- Versions: "
        + ", ".join(f"{name} {version}" for name, version in meta["versions"].items()),
        f"- Git: {meta['git']['commit']}"
        + (" (uncommitted changes)" if meta["git"]["dirty"] else ""),
        f"- Command: `{meta['command']}`",
        f"- Other processes used {results['other_processes_cpus']:.2f} CPUs on "
        "average meanwhile"
        + (
            " (DISTURBED: the timings are not reliable)"
            if results["other_processes_cpus"] > BUSY_THRESHOLD
            else ""
        ),
        "",
        f"Data: make_ctr_classification, {N_FIELDS} label-encoded fields, "
        f"cardinalities ctr_cardinalities({N_FIELDS}, {TOTAL_CATEGORIES}); "
        f"{meta['train_rows']:,} training rows, {meta['rows']:,} test rows. "
        f"DeepFMClassifier(max_epochs=1, early_stopping=False, random_state=0), "
        f"otherwise library defaults ({results['n_embeddings']:,} embedding rows, "
        f"fit {results['fit_s']:.1f} s); baseline: OneHotEncoder(handle_unknown="
        f"'ignore') + LogisticRegression(max_iter=200). ONNX graph: "
        f"{results['onnx_nodes']} nodes, {results['onnx_bytes'] / 2**20:.1f} MiB. "
        f"One row: median of {meta['calls']:,} calls ({5 * meta['calls']:,} for "
        "onnxruntime) after 50 warm-up calls; throughput: best of 3 calls on all "
        "test rows.",
        "",
        "| measurement | DeepFM in-process | DeepFM onnxruntime | one-hot LR "
        "in-process |",
        "|---|---|---|---|",
        f"| one row, ms | {results['inprocess_one_row_ms']:.3f} | "
        f"{results['onnx_one_row_ms']:.3f} | {results['baseline_one_row_ms']:.3f} |",
        f"| {meta['rows']:,} rows in one call, rows/s | "
        f"{results['inprocess_rows_per_s']:,.0f} | "
        f"{results['onnx_rows_per_s']:,.0f} | {results['baseline_rows_per_s']:,.0f} |",
        f"| {meta['rows']:,} rows in calls of {meta['onnx_batch']:,}, rows/s |  | "
        f"{results['onnx_batched_rows_per_s']:,.0f} |  |",
        f"| one row of the Adult DataFrame, ms | "
        f"{results['dataframe_inprocess_one_row_ms']:.3f} | "
        f"{results['dataframe_onnx_one_row_ms']:.3f} |  |",
        "",
        "| target | value | verdict |",
        "|---|---|---|",
        f"| in-process one row <= {TARGETS['inprocess_one_row_ms']} ms | "
        f"{results['inprocess_one_row_ms']:.3f} ms | "
        f"{verdict('inprocess_one_row_ms')} |",
        f"| onnxruntime one row <= {TARGETS['onnx_one_row_ms']} ms | "
        f"{results['onnx_one_row_ms']:.3f} ms | {verdict('onnx_one_row_ms')} |",
        f"| onnxruntime throughput >= {TARGETS['onnx_throughput_ratio']:g}x "
        f"in-process, all rows in one call | "
        f"{results['onnx_throughput_ratio']:.2f}x | "
        f"{verdict('onnx_throughput_ratio')} |",
        f"| the same, calls of {meta['onnx_batch']:,} rows | "
        f"{results['onnx_batched_throughput_ratio']:.2f}x | "
        f"{verdict('onnx_batched_throughput_ratio')} |",
        f"| max abs(p_onnx - p) <= {TARGETS['max_abs_diff']:g} | "
        f"{results['max_abs_diff']:.2e} | {verdict('max_abs_diff')} |",
        "",
        "The in-process one-row target is for the label-encoded array; a "
        "DataFrame row (last line of the first table) goes through pandas "
        "column by column in the encoder.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=THREADS_DEFAULT)
    parser.add_argument("--train-rows", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--onnx-batch", type=int, default=1024)
    parser.add_argument("--wait-idle", type=float, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    if args.wait_idle:
        wait_until_idle(args.wait_idle)
    busy, cpu, start = busy_cpu_s(), time.process_time(), time.perf_counter()
    with threadpool_limits(args.threads):
        results = measure(args)
    other = busy_cpu_s() - busy - (time.process_time() - cpu)
    results["other_processes_cpus"] = max(0.0, other) / (time.perf_counter() - start)
    report = {
        "meta": {
            "command": "python " + shlex.join(sys.argv),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "cpu": cpu_model(),
            "cpu_flags": cpu_flags(),
            "logical_cpus": os.cpu_count(),
            "threads": args.threads,
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "versions": versions(),
            "git": git_state(),
            "train_rows": args.train_rows,
            "rows": args.rows,
            "calls": args.calls,
            "onnx_batch": args.onnx_batch,
        },
        "targets": TARGETS,
        "results": results,
    }
    report["targets_met"] = verdicts(results)
    text = render(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
