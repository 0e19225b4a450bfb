"""Data-parallel training on CPU: one process with two threads against two
processes with one thread each (``distributed=True``, gloo).

Every configuration runs in fresh processes on the first ``--rows`` training
rows of the cached "medium" synthetic set (see ``_data.py``), at the CPU
benchmark's setting (embedding dim 10, MLP 400-400-400, Adam lr 1e-3, batch
2048 rows per step over all processes, ``--epochs`` epochs, no early
stopping).  Measured per configuration:

* fit wall time and training rows/s (rows x epochs / the epochs' wall time,
  from ``history_``; the rest of the fit, encoding, gathering the
  vocabulary, solving the first-order part, is reported as "outside epochs");
* for the two-process run, the extra time per step the gradient all-reduce
  costs: ``--steps`` training steps of the fitted module in
  DistributedDataParallel, timed with the all-reduce and without it
  (``no_sync()``), alternating, medians of five rounds;
* the CPU seconds other processes used meanwhile (the machine may be shared).

Usage::

    python benchmarks/distributed.py --rows 200000 \\
        --out benchmarks/results/distributed.json
"""

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
MARKER = "@@DISTRIBUTED_RESULT@@ "
TIMEOUT = 1200

CONFIGS = [  # (label, processes, threads per process)
    ("1 process x 2 threads", 1, 2),
    ("2 processes x 1 thread (gloo)", 2, 1),
    ("1 process x 1 thread", 1, 1),
]


def settings(epochs):
    return {
        "embedding_dim": 10,
        "hidden_units": (400, 400, 400),
        "lr": 1e-3,
        "batch_size": 2048,
        "max_epochs": epochs,
        "early_stopping": False,
        "random_state": 0,
    }


# one process of one configuration ---------------------------------------------
def run_process(args):
    import torch

    torch.set_num_threads(args.threads)
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(1, str(REPO_ROOT))
    from _worker import busy_cpu_s
    from sklearn.metrics import roc_auc_score

    from sklearn_deepfm import DeepFMClassifier

    data = np.load(args.data)
    rows = np.array_split(np.arange(args.rows), args.world)[args.rank]
    X, y = data["X_train"][rows], data["y_train"][rows]
    X_test, y_test = data["X_test"][: args.test_rows], data["y_test"][: args.test_rows]
    shared = args.world > 1
    if shared:
        import torch.distributed as dist

        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{args.port}",
            rank=args.rank,
            world_size=args.world,
        )
        dist.barrier()
    model = DeepFMClassifier(
        **settings(args.epochs), n_jobs=args.threads, distributed=shared
    )
    start, busy = time.perf_counter(), busy_cpu_s()
    cpu = time.process_time()
    model.fit(X, y)
    fit_s = time.perf_counter() - start
    other_cpus = max(0.0, busy_cpu_s() - busy - (time.process_time() - cpu)) / fit_s
    epochs_s = float(sum(model.history_[:, "dur"]))
    result = {
        "rank": args.rank,
        "rows": int(rows.size),
        "fit_s": fit_s,
        "epochs_s": epochs_s,
        "steps": int(sum(model.history_[:, "train_batch_count"])),
        "other_cpus_during_fit": other_cpus,
        "n_embeddings": int(model.input_layout_.n_embeddings),
    }
    if args.rank == 0:
        proba = model.predict_proba(X_test)[:, 1]
        result["auc"] = float(roc_auc_score(y_test, proba))
    if shared:
        result["all_reduce"] = all_reduce_cost(model, X, y, args)
        dist.destroy_process_group()
    print(MARKER + json.dumps(result), flush=True)


def all_reduce_cost(model, X, y, args):
    """Seconds per training step with and without DDP's gradient all-reduce."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from sklearn_deepfm._optim import DenseSparseAdam

    module = model.net_.module_  # a benchmark may look inside
    module.train()
    replicas = DistributedDataParallel(module)
    trainable = [p for p in module.parameters() if p.requires_grad]
    optimizer = DenseSparseAdam(trainable, lr=1e-3)
    indices = model._encoder.transform(X).indices
    target = torch.as_tensor(y, dtype=torch.float32)
    rows = 2048 // args.world
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def steps(sync):
        dist.barrier()
        start = time.perf_counter()
        for k in range(args.steps):
            batch = slice(k * rows, (k + 1) * rows)
            with contextlib.nullcontext() if sync else replicas.no_sync():
                output = replicas(torch.from_numpy(indices[batch]))
                optimizer.zero_grad()
                loss_fn(output, target[batch]).backward()
            optimizer.step()
        dist.barrier()
        return (time.perf_counter() - start) / args.steps

    steps(True)  # warm-up
    timed = {"with": [], "without": []}
    for _ in range(5):
        timed["with"].append(steps(True))
        timed["without"].append(steps(False))
    return {
        "step_s_with": float(np.median(timed["with"])),
        "step_s_without": float(np.median(timed["without"])),
        "rounds": timed,
        "rows_per_process_per_step": rows,
    }


# orchestration ------------------------------------------------------------------
def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_config(label, world, threads, args, data):
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env["MKL_NUM_THREADS"] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    port = str(free_port())
    command = [sys.executable, str(Path(__file__).resolve()), "--run"]
    common = ["--data", str(data), "--rows", str(args.rows), "--epochs"]
    common += [str(args.epochs), "--steps", str(args.steps)]
    common += ["--test-rows", str(args.test_rows), "--threads", str(threads)]
    processes = [
        subprocess.Popen(
            [*command, *common, "--rank", str(rank), "--world", str(world)]
            + ["--port", port],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(world)
    ]
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=TIMEOUT)
        lines = [line for line in out.splitlines() if line.startswith(MARKER)]
        if process.returncode != 0 or not lines:
            raise RuntimeError(f"{label} failed:\n{out}")
        results.append(json.loads(lines[-1][len(MARKER) :]))
    epochs_s = max(r["epochs_s"] for r in results)
    fit_s = max(r["fit_s"] for r in results)
    summary = {
        "config": label,
        "processes": world,
        "threads_per_process": threads,
        "rows": args.rows,
        "fit_s": fit_s,
        "epochs_s": epochs_s,
        "outside_epochs_s": fit_s - epochs_s,
        "train_rows_per_s": args.rows * args.epochs / epochs_s,
        "fit_rows_per_s": args.rows * args.epochs / fit_s,
        "steps": results[0]["steps"],
        "auc": results[0]["auc"],
        "other_cpus_during_fit": max(r["other_cpus_during_fit"] for r in results),
        "ranks": results,
    }
    if world > 1:
        costs = [r["all_reduce"] for r in results]
        summary["step_s_with_all_reduce"] = max(c["step_s_with"] for c in costs)
        summary["step_s_without_all_reduce"] = max(c["step_s_without"] for c in costs)
    return summary


def cpu_description():
    from quality import cpu_flags
    from run import cpu_model

    return cpu_model(), cpu_flags()


def markdown(report):
    lines = [
        "# Data-parallel training on CPU (distributed=True, gloo)",
        "",
        f"- Date: {report['date']}",
        f"- CPU: {report['cpu']} ({report['logical_cpus']} logical CPUs); "
        f"ISA flags: {', '.join(report['cpu_flags'] or ['unknown'])}",
        f"- Load average before / after: {report['load_before']} / "
        f"{report['load_after']}. The machine's 2 cores were shared with other "
        "work: the 'other CPUs' column is the CPU time other processes used "
        "during the fit, per second of fit; anything above ~0.1 slowed it.",
        f"- Versions: {report['versions']}",
        f"- Git: {report['git']}",
        f"- Data: {report['data']}",
        f"- Setting: {report['setting']}",
        f"- Command: `{report['command']}`",
        "",
        "Train rows/s = rows x epochs / wall time of the epochs (the slowest "
        "process); fit rows/s uses the whole fit (encoding, gathering the "
        "vocabulary, the first-order solve, the epochs). AUC on the first "
        f"{report['test_rows']:,} test rows.",
        "",
        "| configuration | train rows/s | fit rows/s | fit s | epochs s | "
        "outside epochs s | steps | AUC | other CPUs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['config']} | {r['train_rows_per_s']:,.0f} | "
            f"{r['fit_rows_per_s']:,.0f} | {r['fit_s']:.1f} | {r['epochs_s']:.1f} | "
            f"{r['outside_epochs_s']:.1f} | {r['steps']} | {r['auc']:.4f} | "
            f"{r['other_cpus_during_fit']:.2f} |"
        )
    by = {r["processes"] * 10 + r["threads_per_process"]: r for r in report["results"]}
    two, one = by.get(21), by.get(12)
    if two and one:
        ratio = two["train_rows_per_s"] / one["train_rows_per_s"]
        with_s = two["step_s_with_all_reduce"]
        without_s = two["step_s_without_all_reduce"]
        lines += [
            "",
            f"2 processes x 1 thread / 1 process x 2 threads, train rows/s: "
            f"**{ratio:.2f}**; fit rows/s: "
            f"{two['fit_rows_per_s'] / one['fit_rows_per_s']:.2f}.",
            "",
            f"All-reduce per step (2 processes, {report['steps']} steps of "
            f"{2048 // 2} rows per process, median of 5 alternating rounds, the "
            f"slower process): {with_s * 1e3:.1f} ms with it, "
            f"{without_s * 1e3:.1f} ms without (`no_sync()`): "
            f"**{(with_s - without_s) * 1e3:.1f} ms** extra per step "
            f"({(with_s - without_s) / with_s:.0%} of a step), sparse embedding "
            "gradients and dense MLP gradients together.",
        ]
    return "\n".join(lines) + "\n"


def orchestrate(args):
    import datetime

    sys.path.insert(0, str(HERE))
    from _data import prepare
    from run import git_state, package_versions

    path, info = prepare("medium", quick=args.quick)
    model, flags = cpu_description()
    report = {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "cpu": model,
        "cpu_flags": flags,
        "logical_cpus": os.cpu_count(),
        "versions": package_versions(),
        "git": git_state(),
        "data": f"first {args.rows:,} of the {info.get('n_train', '?'):,} training "
        f"rows of 'medium' ({info.get('n_fields', 26)} fields): "
        f"{info.get('note', info.get('description', ''))}",
        "setting": f"{settings(args.epochs)}, batch = rows per step over all "
        "processes (1,024 per process with two)",
        "steps": args.steps,
        "test_rows": args.test_rows,
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "results": [],
    }
    for label, world, threads in CONFIGS:
        if args.wait_idle:
            from run import wait_until_idle

            wait_until_idle(args.wait_idle)
        report["results"].append(run_config(label, world, threads, args, path))
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--test-rows", type=int, default=50_000)
    parser.add_argument("--out", default=str(HERE / "results" / "distributed.json"))
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="S",
        help="before each configuration, wait up to S seconds for an idle machine",
    )
    parser.add_argument(
        "--quick", action="store_true", help="the 20,000-row 'medium' (a smoke test)"
    )
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--world", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--port", default="0", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_process(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
