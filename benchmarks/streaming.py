"""Streaming a click log longer than memory into ``partial_fit``.

A synthetic click log (``stream_ctr_classification``: 26 label-encoded
fields, the cardinalities of the ``medium`` set) is written to a Parquet
dataset chunk by chunk, never whole in memory: first a held-out file, then
the training rows in files of ``--file-rows`` rows.  Then, each in a fresh
process (so that peak RSS is its own):

* ``stream``: one epoch of ``partial_fit`` over ``pyarrow.dataset`` record
  batches of the first ``--rows`` training rows (run for ``--small-rows``
  and for ``--rows``): time reading (Arrow to NumPy) and time training
  apart, peak RSS, held-out AUC;
* ``memory``: the first ``--small-rows`` rows read into memory and fitted
  with ``fit(early_stopping=False)`` at the same batch size, for one epoch
  (throughput) and for as many epochs as the long stream has steps (AUC at
  the same number of steps).

Run::

    python benchmarks/streaming.py --out benchmarks/results/streaming.json

Targets: peak RSS of the long stream <= 1.2x that of the short one; stream
throughput >= 0.8x in-memory ``fit`` rows/s; held-out AUC of the long stream
within 0.005 of the in-memory fit with the same number of steps.
"""

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
N_FIELDS = 26
CARDINALITY_TOTAL = 385_000  # the medium set's generator total (see _data.py)


def _log_columns(X):
    import pyarrow as pa

    return {f"C{j}": pa.array(X[:, j].astype(np.int32)) for j in range(X.shape[1])}


def write_log(folder, n_rows, n_holdout, file_rows):
    """Write the held-out file and the training files; returns their bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sklearn_deepfm.datasets import ctr_cardinalities, stream_ctr_classification

    (folder / "train").mkdir(parents=True, exist_ok=True)
    cards = ctr_cardinalities(N_FIELDS, CARDINALITY_TOTAL, random_state=0).tolist()
    batches = stream_ctr_classification(
        n_samples=n_holdout + n_rows,
        n_fields=N_FIELDS,
        cardinalities=cards,
        batch_size=file_rows,
        random_state=0,
    )
    start = time.perf_counter()
    holdout_left, part = n_holdout, 0
    for X, y in batches:
        if holdout_left:
            take = min(holdout_left, len(y))
            table = pa.table({**_log_columns(X[:take]), "click": y[:take]})
            pq.write_table(table, folder / "holdout.parquet")
            holdout_left -= take
            X, y = X[take:], y[take:]
            if not len(y):
                continue
        table = pa.table({**_log_columns(X), "click": y.astype(np.int8)})
        pq.write_table(table, folder / "train" / f"part-{part:05d}.parquet")
        part += 1
    seconds = time.perf_counter() - start
    sizes = {
        "holdout": (folder / "holdout.parquet").stat().st_size,
        "train": sum(p.stat().st_size for p in (folder / "train").glob("*.parquet")),
    }
    return {"bytes": sizes, "files": part, "write_seconds": seconds}


def _holdout(folder):
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "holdout.parquet")
    X = np.column_stack([table[f"C{j}"].to_numpy() for j in range(N_FIELDS)])
    return X, table["click"].to_numpy()


def _peak_rss_mib():
    """Peak RSS of this process (VmHWM: unlike ``ru_maxrss``, which Linux
    carries over from the parent through fork and exec, it starts afresh)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _model(args, **params):
    from sklearn_deepfm import DeepFMClassifier

    return DeepFMClassifier(batch_size=args.batch_size, random_state=0, **params)


def run_stream(args):
    """One epoch of partial_fit over the first ``args.n`` training rows."""
    import pyarrow.dataset as ds
    from sklearn.metrics import roc_auc_score

    folder = Path(args.dir)
    dataset = ds.dataset(folder / "train", format="parquet")
    model = _model(args)
    rss_start = _peak_rss_mib()
    read_seconds = train_seconds = 0.0
    seen = 0
    batches = iter(dataset.to_batches(batch_size=args.read_rows))
    while seen < args.n:
        tic = time.perf_counter()
        batch = next(batches)
        take = min(args.n - seen, batch.num_rows)
        X = np.column_stack(
            [batch.column(j).to_numpy()[:take] for j in range(N_FIELDS)]
        )
        y = batch.column(N_FIELDS).to_numpy()[:take]
        toc = time.perf_counter()
        model.partial_fit(X, y, classes=[0, 1])
        read_seconds += toc - tic
        train_seconds += time.perf_counter() - toc
        seen += take
    X_holdout, y_holdout = _holdout(folder)
    auc = roc_auc_score(y_holdout, model.decision_function(X_holdout))
    return {
        "rows": seen,
        "steps": int(sum(model.history_[:, "train_batch_count"])),
        "read_seconds": read_seconds,
        "train_seconds": train_seconds,
        "rows_per_second": seen / (read_seconds + train_seconds),
        "train_rows_per_second": seen / train_seconds,
        "embedding_rows": model.input_layout_.n_embeddings,
        "peak_rss_mib": _peak_rss_mib(),
        "peak_rss_before_mib": rss_start,
        "holdout_auc": auc,
    }


def run_memory(args):
    """fit on the first ``args.n`` rows held in memory, ``args.epochs`` epochs."""
    import pyarrow.dataset as ds
    from sklearn.metrics import roc_auc_score

    folder = Path(args.dir)
    table = ds.dataset(folder / "train", format="parquet").head(args.n)
    X = np.column_stack([table.column(j).to_numpy() for j in range(N_FIELDS)])
    y = table.column(N_FIELDS).to_numpy()
    del table
    model = _model(args, early_stopping=False, max_epochs=args.epochs)
    tic = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - tic
    X_holdout, y_holdout = _holdout(folder)
    return {
        "rows": len(y),
        "epochs": args.epochs,
        "steps": int(sum(model.history_[:, "train_batch_count"])),
        "fit_seconds": seconds,
        "rows_per_second": len(y) * args.epochs / seconds,
        "peak_rss_mib": _peak_rss_mib(),
        "holdout_auc": roc_auc_score(y_holdout, model.decision_function(X_holdout)),
    }


def _child(args, mode, n, epochs=1):
    """Run one measurement in a fresh process; with ``--reuse-log``, reuse a
    result cached in ``--dir`` unless ``--rerun`` names its mode."""
    cache = Path(args.dir) / f"result-{mode}-{n}-{epochs}.json"
    if args.reuse_log and cache.exists() and mode not in args.rerun:
        result = json.loads(cache.read_text())
        print(mode, n, epochs, "(cached)", result, flush=True)
        return result
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--n",
        str(n),
        "--epochs",
        str(epochs),
        "--dir",
        str(args.dir),
        "--batch-size",
        str(args.batch_size),
        "--read-rows",
        str(args.read_rows),
        "--threads",
        str(args.threads),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["commit"] = _commit()
    cache.write_text(json.dumps(result))
    print(mode, n, epochs, result, flush=True)
    return result


def _commit():
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return out.stdout.strip() or None


def markdown(report):
    meta, long, short = report["meta"], report["stream_long"], report["stream_short"]
    memory, same_steps = report["memory_one_epoch"], report["memory_same_steps"]
    mib = 2**20
    lines = [
        "# Streaming a Parquet click log into partial_fit",
        "",
        f"Command: `{meta['command']}`; {meta['date']}; {meta['cpu']} "
        f"(flags: {', '.join(meta['cpu_flags'] or [])}); {meta['threads']} torch "
        "thread(s); a shared 2-core machine.",
        f"Log: {N_FIELDS} label-encoded fields (medium-set cardinalities), "
        f"{report['log']['files']} training files; on disk "
        f"{report['log']['bytes']['train'] / mib:,.0f} MiB of training rows and "
        f"{report['log']['bytes']['holdout'] / mib:,.1f} MiB held out; written in "
        f"{report['log']['write_seconds']:.0f} s. Batch size {meta['batch_size']}; "
        f"record batches of {meta['read_rows']:,} rows.",
        "",
        "| run | rows | steps | read s | train s | rows/s | peak RSS MiB "
        "| embedding rows | held-out AUC |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (("stream, short", short), ("stream, long", long)):
        lines.append(
            f"| {name} | {r['rows']:,} | {r['steps']:,} | {r['read_seconds']:.1f} "
            f"| {r['train_seconds']:.1f} | {r['rows_per_second']:,.0f} "
            f"| {r['peak_rss_mib']:,.0f} | {r['embedding_rows']:,} "
            f"| {r['holdout_auc']:.4f} |"
        )
    for name, r in (
        ("in memory, 1 epoch", memory),
        (f"in memory, {same_steps['epochs']} epochs", same_steps),
    ):
        lines.append(
            f"| {name} | {r['rows']:,} | {r['steps']:,} | - | {r['fit_seconds']:.1f} "
            f"| {r['rows_per_second']:,.0f} | {r['peak_rss_mib']:,.0f} | - "
            f"| {r['holdout_auc']:.4f} |"
        )
    t = report["targets"]
    lines += [
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| peak RSS long / short <= 1.2 | {t['rss_ratio']:.2f} "
        f"| {'yes' if t['rss_ratio'] <= 1.2 else 'no'} |",
        f"| stream rows/s / in-memory fit rows/s >= 0.8 | {t['throughput_ratio']:.2f} "
        f"| {'yes' if t['throughput_ratio'] >= 0.8 else 'no'} |",
        f"| held-out AUC, long stream - in-memory same steps >= -0.005 "
        f"| {t['auc_difference']:+.4f} "
        f"| {'yes' if t['auc_difference'] >= -0.005 else 'no'} |",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--small-rows", type=int, default=2_000_000)
    parser.add_argument("--holdout-rows", type=int, default=200_000)
    parser.add_argument("--file-rows", type=int, default=1_000_000)
    parser.add_argument("--read-rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dir", default="/tmp/sklearn_deepfm_streaming")
    parser.add_argument("--out", default=str(BENCH_DIR / "results" / "streaming.json"))
    parser.add_argument(
        "--reuse-log",
        action="store_true",
        help="reuse the log already written in --dir by the same settings",
    )
    parser.add_argument(
        "--rerun",
        nargs="*",
        default=[],
        choices=["stream", "memory"],
        help="with --reuse-log, measure these modes again instead of reusing",
    )
    parser.add_argument("--child", choices=["stream", "memory"])
    parser.add_argument("--n", type=int)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)

    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        run = run_stream if args.child == "stream" else run_memory
        print(json.dumps(run(args)))
        return

    from run import cpu_flags, cpu_model, git_state, package_versions

    folder = Path(args.dir)
    done = folder / "log.json"
    if args.reuse_log and done.exists():
        log = json.loads(done.read_text())
    else:
        log = write_log(folder, args.rows, args.holdout_rows, args.file_rows)
        done.write_text(json.dumps(log))
    print("log", log, flush=True)
    short = _child(args, "stream", args.small_rows)
    long = _child(args, "stream", args.rows)
    memory = _child(args, "memory", args.small_rows)
    epochs = max(1, round(long["steps"] / memory["steps"]))
    same_steps = _child(args, "memory", args.small_rows, epochs)
    report = {
        "meta": {
            "command": "python " + " ".join(sys.argv),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "cpu": cpu_model(),
            "cpu_flags": cpu_flags(),
            "threads": args.threads,
            "batch_size": args.batch_size,
            "read_rows": args.read_rows,
            "versions": package_versions(),
            "git": git_state(),
        },
        "log": log,
        "stream_short": short,
        "stream_long": long,
        "memory_one_epoch": memory,
        "memory_same_steps": same_steps,
        "targets": {
            "rss_ratio": long["peak_rss_mib"] / short["peak_rss_mib"],
            "throughput_ratio": long["rows_per_second"] / memory["rows_per_second"],
            "auc_difference": long["holdout_auc"] - same_steps["holdout_auc"],
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR))
    main()
