"""Speed and memory benchmark of DeepFM implementations (CPU).

Runs every (data set, contestant) pair in its own Python process limited to
``--threads`` threads, collects one JSON result per run, and writes all of
them to ``--out`` (JSON) plus a Markdown table next to it (same name, ``.md``).

    python benchmarks/run.py --out benchmarks/results/cpu.json
    python benchmarks/run.py --quick                      # tiny smoke run
    python benchmarks/run.py --datasets medium --contestants logreg torchfm

See ``benchmarks/README.md`` for what is measured.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import _data
from _worker import MARKER
from contestants import BARS_CONFIG, CONTESTANTS, PEERS

# The peers that train a DeepFM, against which speed and memory are compared.
DEEPFM_PEERS = [name for name in PEERS if CONTESTANTS[name].uses_torch]

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORKER = BENCH_DIR / "_worker.py"
RESULTS_DIR = BENCH_DIR / "results"

# Average number of CPUs used by other processes during a fit above which a
# result is flagged as disturbed.
BUSY_THRESHOLD = 0.1

DATASET_ALIASES = {
    "criteo_10k": "criteo",
    "avazu_9k": "avazu",
    "movielens_100k": "movielens",
    "adult": "adult",
    "frappe": "frappe",
}
SPEED_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)

PACKAGES = [
    "torch",
    "numpy",
    "scipy",
    "scikit-learn",
    "skorch",
    "pandas",
    "deepctr-torch",
    "torchfm",
    "sklearn-deepfm",
]


# --------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    """The speed-relevant ISA flags of the CPU (Linux), or None if unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return [flag for flag in SPEED_FLAGS if flag in present]
    except OSError:
        pass
    return None


def package_versions():
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state():
    def git(*args):
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True
        )
        return out.stdout.strip() if out.returncode == 0 else None

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain")),
    }


def collect_meta(args, device):
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "device": device,
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "logical_cpus": os.cpu_count(),
        "threads": args.threads,
        "platform": platform.platform(),
        "versions": package_versions(),
        "git": git_state(),
        "config": dict(BARS_CONFIG, early_stopping=False, validation=None),
        "quick": args.quick,
        "torch_warmup": not args.no_warmup,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    if device == "cuda":
        info = cuda_info() or {}
        meta["gpu"] = info.get("name")
        meta["cuda"] = info.get("cuda")
    return meta


def cuda_info():
    """``{"available", "name", "cuda"}`` from a child process; None without torch.

    Asked in a child so that this process never imports torch (its memory
    high-water mark would show up in the contestants' ``ru_maxrss``).
    """
    code = (
        "import json, torch\n"
        "ok = torch.cuda.is_available()\n"
        "print(json.dumps({'available': ok, 'cuda': torch.version.cuda,\n"
        "                  'name': torch.cuda.get_device_name(0) if ok else None}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_env(threads):
    env = os.environ.copy()
    for var in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    ):
        env[var] = str(threads)
    env["PYTHONHASHSEED"] = "0"
    # Keep deepctr-torch's progress bars and tqdm monitor threads quiet.
    env.setdefault("TQDM_DISABLE", "1")
    return env


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


def prepare_data(name, args):
    """Build or reuse the cached data set in a separate process.

    Keeps this process small: on Linux a child inherits its parent's memory
    high-water mark in ``ru_maxrss``.
    """
    cmd = [sys.executable, str(BENCH_DIR / "_data.py"), name]
    cmd += ["--data-dir", str(args.data_dir)]
    if args.quick:
        cmd.append("--quick")
    if args.force_data:
        cmd.append("--force")
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, env=child_env(args.threads), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"preparing {name} failed:\n{proc.stderr[-3000:]}")
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    if "unavailable" in answer:
        raise _data.DatasetUnavailable(answer["unavailable"])
    return Path(answer["path"]), answer["info"]


def other_cpus(window=3.0):
    """Average number of CPUs busy (with anything) over ``window`` seconds."""
    from _worker import busy_cpu_s

    b0, t0 = busy_cpu_s(), time.perf_counter()
    time.sleep(window)
    return (busy_cpu_s() - b0) / (time.perf_counter() - t0)


def wait_until_idle(max_wait):
    """Wait (at most ``max_wait`` s) until the machine is idle; say if it is not."""
    deadline = time.perf_counter() + max_wait
    busy = other_cpus()
    announced = False
    while busy > BUSY_THRESHOLD and time.perf_counter() < deadline:
        if not announced:
            print(f"  waiting for an idle machine ({busy:.2f} CPUs busy)", flush=True)
            announced = True
        busy = other_cpus(10.0)
    if busy > BUSY_THRESHOLD:
        print(f"  machine still busy ({busy:.2f} CPUs), running anyway", flush=True)


def run_one(contestant, dataset, data_path, *, device, threads, timeout, log_dir):
    cmd = [
        sys.executable,
        str(WORKER),
        "--contestant",
        contestant,
        "--dataset",
        dataset,
        "--data",
        str(data_path),
        "--device",
        device,
        "--threads",
        str(threads),
    ]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO_ROOT,
            env=child_env(threads),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        stdout, stderr, returncode = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout or ""
        stderr = exc.stderr or ""
        if isinstance(stdout, bytes):
            stdout = stdout.decode(errors="replace")
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        returncode = None
    wall = time.perf_counter() - t0

    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / f"{dataset}__{contestant}.log").write_text(
        f"$ {' '.join(cmd)}\n# returncode {returncode}, {wall:.1f} s\n"
        f"--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n"
    )

    result = None
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER) :])
    if result is None:
        reason = (
            f"timed out after {timeout} s"
            if returncode is None
            else f"child exited with code {returncode} without a result"
        )
        result = {
            "contestant": contestant,
            "dataset": dataset,
            "device": device,
            "threads": threads,
            "status": "error",
            "reason": reason,
            "stderr_tail": stderr[-2000:],
        }
    result["process_wall_s"] = wall
    return result


def disturbance(result):
    """CPUs used by other processes during the timed parts (0 when not run)."""
    if result["status"] != "ok":
        return 0.0
    return max(
        result.get("other_processes_cpus_during_fit", 0.0),
        result.get("other_processes_cpus_during_predict", 0.0),
    )


def describe(result):
    status = result["status"]
    head = f"  {result['contestant']:<22}"
    if status != "ok":
        return f"{head}{status}: {result.get('reason', '')}"
    other = disturbance(result)
    return (
        f"{head}train {result['train_rows_per_s']:>10,.0f} rows/s  "
        f"predict {result['predict_rows_per_s']:>10,.0f} rows/s  "
        f"peak RSS {result['peak_rss_mib']:>7,.0f} MiB  "
        f"AUC {result['auc']:.4f}  logloss {result['logloss']:.4f}"
        + (f"  DISTURBED ({other:.2f} other CPUs)" if other > BUSY_THRESHOLD else "")
    )


def run_pair(contestant, dataset, data_path, device, args, log_dir):
    """One result for a pair: the least disturbed of up to
    ``1 + args.retry_disturbed`` runs."""
    result = None
    for attempt in range(1 + args.retry_disturbed):
        if args.wait_idle:
            wait_until_idle(args.wait_idle)
        new = run_one(
            contestant,
            dataset,
            data_path,
            device=device,
            threads=args.threads,
            timeout=args.timeout,
            log_dir=log_dir,
        )
        new["attempt"] = attempt + 1
        print(describe(new), flush=True)
        if result is None or disturbance(new) < disturbance(result):
            result = new
        if disturbance(result) <= BUSY_THRESHOLD:
            break
    return result


# Measurements that vary from run to run; a repeated pair reports their medians.
VARYING = ("train_rows_per_s", "fit_s", "predict_rows_per_s", "predict_s")
KEPT_PER_RUN = (
    *VARYING,
    "peak_rss_mib",
    "auc",
    "other_processes_cpus_during_fit",
    "other_processes_cpus_during_predict",
    "reference_rows_per_s",
    "reference_spread",
    "predict_minor_faults",
)


def _median(values):
    values = sorted(values)
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


def summarize(results):
    """One result for a pair run several times.

    The run with the median training throughput gives every field, except
    that the varying measurements (``VARYING``) and the peak RSS are the
    medians over the successful runs; ``runs`` keeps each run's numbers.
    """
    ok = [r for r in results if r["status"] == "ok"]
    if len(results) == 1 or not ok:
        return results[-1]
    ok.sort(key=lambda r: r["train_rows_per_s"])
    summary = dict(ok[(len(ok) - 1) // 2])
    for key in (*VARYING, "peak_rss_mib"):
        summary[key] = _median([r[key] for r in ok])
    summary["rss_increase_mib"] = (
        summary["peak_rss_mib"] - summary["rss_before_fit_mib"]
    )
    summary["runs"] = [
        {"round": r.get("round"), "status": r["status"]}
        | {key: r[key] for key in KEPT_PER_RUN if key in r}
        for r in results
    ]
    summary.pop("round", None)
    return summary


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------


def _fmt(value, spec):
    return "" if value is None else format(value, spec)


def render_markdown(doc):
    meta = doc["meta"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    cfg = meta["config"]
    quick = ", quick smoke run" if meta.get("quick") else ""
    lines = [
        f"# DeepFM benchmark ({meta['device']}{quick})",
        "",
        f"- Date: {meta['date']}",
        f"- CPU: {meta['cpu']} ({meta['logical_cpus']} logical CPUs); "
        f"each contestant in its own process with {meta['threads']} threads",
    ]
    if meta.get("gpu"):
        lines.append(f"- GPU: {meta['gpu']} (CUDA {meta.get('cuda')})")
    lines += [
        f"- Versions: {versions}",
        f"- Git: {meta['git'].get('commit') or 'no commit'}"
        f"{' (uncommitted changes)' if meta['git'].get('dirty') else ''}",
        f"- Setting: embedding dim {cfg['embedding_dim']}, MLP "
        f"{'-'.join(str(u) for u in cfg['hidden_units'])} ReLU, Adam lr {cfg['lr']}, "
        f"batch {cfg['batch_size']}, {cfg['max_epochs']} epoch, no early stopping, "
        "no validation split (logreg: trained to convergence)",
        f"- Command: `{meta['command']}`",
        *([f"- Note: {meta['note']}"] if meta.get("note") else []),
        "",
        "Train rows/s = training rows / fit wall time (model construction included, "
        "data loading and one-hot encoding excluded; the one-hot time is its own "
        "column). Predict rows/s = test rows / `predict_proba` wall time. RSS before = "
        "resident memory after loading (and one-hot encoding) the data, before the "
        "model is built; peak RSS = the process's `ru_maxrss`; "
        "increase = peak - before.",
        "",
    ]
    cuda = meta["device"] == "cuda"
    for name, info in doc["datasets"].items():
        lines.append(f"## {name}")
        lines.append("")
        if info.get("unavailable"):
            lines += [f"Skipped: {info['unavailable']}", ""]
            continue
        lines.append(
            f"{info['n_train']:,} train / {info['n_test']:,} test rows, "
            f"{info['n_fields']} fields, {info['n_categories']:,} categories "
            f"(unknown codes included). {info['note']}."
        )
        if info["kind"] == "real":
            lines.append("")
            lines.append(
                "**AUC/logloss here are after ONE epoch on a small data set: a speed "
                "run, not a quality comparison.**"
            )
        lines.append("")
        header = [
            "contestant",
            "input",
            "train rows/s",
            "fit s",
            "predict rows/s",
            "one-hot s",
            "RSS before MiB",
            "peak RSS MiB",
            "increase MiB",
        ]
        if cuda:
            header.append("GPU peak MiB")
        header += ["AUC", "logloss", "notes"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        order = {c: i for i, c in enumerate(CONTESTANTS)}
        rows = [r for r in doc["results"] if r["dataset"] == name]
        rows.sort(key=lambda r: order.get(r["contestant"], len(order)))
        for r in rows:
            if r["status"] != "ok":
                cells = [r["contestant"], r.get("input", "")] + [""] * (len(header) - 4)
                cells += [f"{r['status']}: {r.get('reason', '')}"]
                lines.append("| " + " | ".join(cells) + " |")
                continue
            notes = []
            if r.get("extra"):
                notes += [f"{k}={v}" for k, v in r["extra"].items()]
            for phase in ("fit", "predict"):
                other = r.get(f"other_processes_cpus_during_{phase}", 0.0)
                if other > BUSY_THRESHOLD:
                    notes.append(
                        f"DISTURBED: other processes used {other:.2f} CPUs "
                        f"during {phase}"
                    )
            if len(r.get("runs", [])) > 1:
                notes.append(_runs_note(r["runs"]))
            hwm = r.get("vm_hwm_mib")
            if hwm and abs(r["peak_rss_mib"] - hwm) > 0.05 * hwm:
                notes.append(f"VmHWM {hwm:,.0f} MiB")
            if r.get("nonfinite_predictions"):
                notes.append(f"{r['nonfinite_predictions']} non-finite predictions")
            cells = [
                r["contestant"],
                r["input"],
                _fmt(r["train_rows_per_s"], ",.0f"),
                _fmt(r["fit_s"], ".1f"),
                _fmt(r["predict_rows_per_s"], ",.0f"),
                _fmt(r.get("onehot_s"), ".1f"),
                _fmt(r["rss_before_fit_mib"], ",.0f"),
                _fmt(r["peak_rss_mib"], ",.0f"),
                _fmt(r["rss_increase_mib"], ",.0f"),
            ]
            if cuda:
                cells.append(_fmt(r.get("cuda_peak_allocated_mib"), ",.0f"))
            cells += [
                _fmt(r["auc"], ".4f"),
                _fmt(r["logloss"], ".4f"),
                "; ".join(notes),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if "bayes_auc" in info:
            cells = ["Bayes-optimal (true p)", ""] + [""] * (len(header) - 5)
            cells += [f"{info['bayes_auc']:.4f}", f"{info['bayes_logloss']:.4f}", ""]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines += ratio_lines(rows)
        lines += prediction_run_lines(rows)
    return "\n".join(lines) + "\n"


def _runs_note(runs):
    ok = [run for run in runs if run["status"] == "ok"]
    parts = [f"median of {len(ok)} runs"]
    for key, label in (
        ("train_rows_per_s", "train"),
        ("predict_rows_per_s", "predict"),
    ):
        values = [run[key] for run in ok]
        parts.append(f"{label} {min(values):,.0f}-{max(values):,.0f}")
    disturbed = sum(
        max(
            run.get("other_processes_cpus_during_fit", 0.0),
            run.get("other_processes_cpus_during_predict", 0.0),
        )
        > BUSY_THRESHOLD
        for run in ok
    )
    if disturbed:
        parts.append(f"{disturbed} disturbed")
    if len(ok) < len(runs):
        parts.append(f"{len(runs) - len(ok)} failed")
    return ", ".join(parts)


def _round_values(result, key):
    """``{round: value}`` of a result's successful runs (one run: round 1)."""
    runs = result.get("runs") or [dict(result, round=1)]
    return {run["round"]: run[key] for run in runs if run["status"] == "ok"}


def ratio_lines(rows):
    """Markdown table: each of our contestants against the fastest DeepFM peer.

    A ratio is of the medians; with several rounds, the range is of the
    ratios within each round (ours in round k against the fastest peer in
    round k), which a slow spell of the host affects less.
    """
    ok = {r["contestant"]: r for r in rows if r["status"] == "ok"}
    peers = [name for name in DEEPFM_PEERS if name in ok]
    ours = [name for name in ok if name.startswith("ours")]
    if not peers or not ours:
        return []
    lines = [
        "Ours against the fastest DeepFM peer (higher is better; peak RSS: "
        "lower is better, and one-hot rows also hold the one-hot matrix):",
        "",
        "| contestant | train | predict | peak RSS |",
        "|---|---|---|---|",
    ]
    for name in ours:
        cells = [name]
        for key, better in (
            ("train_rows_per_s", max),
            ("predict_rows_per_s", max),
            ("peak_rss_mib", min),
        ):
            best = better(peers, key=lambda peer: ok[peer][key])
            cell = f"{ok[name][key] / ok[best][key]:.2f}x {best}"
            mine = _round_values(ok[name], key)
            theirs = [_round_values(ok[peer], key) for peer in peers]
            per_round = [
                mine[k] / better(values[k] for values in theirs)
                for k in sorted(mine)
                if all(k in values for values in theirs)
            ]
            if len(per_round) > 1:
                cell += f" (rounds {min(per_round):.2f}-{max(per_round):.2f})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _spread(values):
    return max(values) / min(values) if values else None


def prediction_run_lines(rows):
    """Markdown table of the prediction, round by round (repeated runs only):
    each contestant's predict rows/s, the reference workload's rows/s in the
    same process (see ``_worker.reference_rows_per_s``), and our ratio to the
    fastest DeepFM peer; the last row gives max/min over the rounds.

    A contestant that spreads no more than the reference has no variance of
    its own: what is left is the machine's.
    """
    ok = [r for r in rows if r["status"] == "ok" and len(r.get("runs") or []) > 1]
    if not ok:
        return []
    names = [r["contestant"] for r in ok]
    predict = {r["contestant"]: _round_values(r, "predict_rows_per_s") for r in ok}
    reference = {}
    for r in ok:
        runs = [run for run in r["runs"] if run["status"] == "ok"]
        if all(run.get("reference_rows_per_s") for run in runs):
            reference[r["contestant"]] = _round_values(r, "reference_rows_per_s")
    peers = [name for name in DEEPFM_PEERS if name in predict]
    ours = [name for name in names if name.startswith("ours")]
    header = [f"{name} predict" for name in names]
    header += [f"{name} reference" for name in reference]
    if peers:
        header += [f"{name} / fastest peer" for name in ours]
    lines = [
        "Prediction round by round (rows/s; reference: the same fixed float32 "
        "MLP forward timed in each process just before and after its "
        "prediction, the machine's speed at the time):",
        "",
        "| round | " + " | ".join(header) + " |",
        "|---" * (len(header) + 1) + "|",
    ]
    columns = [predict[name] for name in names] + list(reference.values())
    rounds = sorted(set().union(*(column.keys() for column in columns)))
    ratios = {name: {} for name in ours}
    for k in rounds:
        cells = [str(k)] + [_fmt(column.get(k), ",.0f") for column in columns]
        if peers:
            peer_values = [predict[peer][k] for peer in peers if k in predict[peer]]
            for name in ours:
                if k in predict[name] and peer_values:
                    ratios[name][k] = predict[name][k] / max(peer_values)
                cells.append(_fmt(ratios[name].get(k), ".2f"))
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["max / min"] + [
        _fmt(_spread(list(column.values())), ".2f") for column in columns
    ]
    if peers:
        cells += [_fmt(_spread(list(ratios[name].values())), ".2f") for name in ours]
    lines.append("| " + " | ".join(cells) + " |")
    if peers:
        medians = ", ".join(
            f"{name} {_median(list(ratios[name].values())):.2f}x"
            for name in ours
            if ratios[name]
        )
        lines += ["", f"Median per-round predict ratio to the fastest peer: {medians}."]
    return [*lines, ""]


def write_outputs(doc, out):
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(out)
    out.with_suffix(".md").write_text(render_markdown(doc))


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_args(argv, device):
    torch_contestants = [n for n, c in CONTESTANTS.items() if c.uses_torch]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results JSON (Markdown written next to it); default "
        f"benchmarks/results/{'gpu' if device == 'cuda' else 'cpu'}.json, "
        "or quick_cpu.json / quick_gpu.json with --quick",
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"data sets to run (default: all): {', '.join(_data.ALL_DATASETS)} "
        f"(folder names such as criteo_10k are accepted too)",
    )
    parser.add_argument(
        "--contestants",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"contestants (default: all{' torch-based' if device == 'cuda' else ''}): "
        f"{', '.join(torch_contestants if device == 'cuda' else CONTESTANTS)}; "
        "'peers' = every contestant but ours",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: synthetic sets at 20k train / 5k test rows, "
        "categories / 40; real sets as they are",
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="threads per contestant (2)"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds per contestant run (3600)"
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="S",
        help="before each run, wait up to S seconds for other processes to leave "
        "the CPUs idle (default 0: do not wait)",
    )
    parser.add_argument(
        "--retry-disturbed",
        type=int,
        default=0,
        metavar="N",
        help="rerun a result that other processes disturbed up to N more times, "
        "keeping the least disturbed one (default 0)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run every pair N times, in N rounds over the contestants (so that "
        "a slow spell of the host hits them alike); the tables show medians and "
        "ranges (default 1)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="merge into an existing --out file: the pairs run now replace their "
        "old results, the others are kept",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=_data.DEFAULT_DATA_DIR,
        help="folder holding the real data sets (default: <repo>/../shared/data)",
    )
    parser.add_argument(
        "--force-data", action="store_true", help="rebuild the cached data sets"
    )
    parser.add_argument(
        "--prepare-only", action="store_true", help="only build the cached data sets"
    )
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="do not build a throw-away torch optimizer before the timed fit, "
        "whose lazy imports (torch._dynamo, sympy: ~65 MiB, ~1.5 s) then count "
        "for each contestant that needs them, as in a fresh process",
    )
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="only re-render the Markdown of an existing results JSON",
    )
    args = parser.parse_args(argv)

    if args.out is None:
        stem = "gpu" if device == "cuda" else "cpu"
        args.out = RESULTS_DIR / f"{'quick_' + stem if args.quick else stem}.json"
    datasets = args.datasets or list(_data.ALL_DATASETS)
    args.datasets = []
    for name in datasets:
        name = DATASET_ALIASES.get(name, name)
        if name not in _data.ALL_DATASETS:
            parser.error(f"unknown data set {name!r}; choose from {_data.ALL_DATASETS}")
        if name not in args.datasets:
            args.datasets.append(name)
    default = torch_contestants if device == "cuda" else list(CONTESTANTS)
    contestants = []
    for name in args.contestants or default:
        names = [p for p in PEERS if p in default] if name == "peers" else [name]
        for n in names:
            if n not in CONTESTANTS:
                parser.error(
                    f"unknown contestant {n!r}; choose from {list(CONTESTANTS)}"
                )
            if n not in contestants:
                contestants.append(n)
    args.contestants = contestants
    return args


def main(argv=None, device="cpu"):
    args = parse_args(argv, device)
    if args.no_warmup:  # read by every worker (see _worker.NO_WARMUP)
        os.environ["DEEPFM_BENCH_NO_WARMUP"] = "1"
    if args.render is not None:
        doc = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(render_markdown(doc))
        print(f"wrote {args.render.with_suffix('.md')}")
        return 0

    doc = {"meta": collect_meta(args, device), "datasets": {}, "results": []}
    if args.update and args.out.exists():
        # Keep the other pairs' results; the ones run now replace theirs.
        old = json.loads(args.out.read_text())
        doc["datasets"] = old.get("datasets", {})
        doc["results"] = old.get("results", [])
        doc["meta"]["updates"] = [*old["meta"].get("updates", []), doc["meta"]["date"]]
        doc["meta"]["date"] = old["meta"]["date"]
    prepared = {}
    for name in args.datasets:
        t0 = time.perf_counter()
        try:
            path, info = prepare_data(name, args)
        except _data.DatasetUnavailable as exc:
            print(f"[{name}] skipped: {exc}", flush=True)
            doc["datasets"][name] = {"unavailable": str(exc)}
            continue
        print(
            f"[{name}] data ready in {time.perf_counter() - t0:.1f} s: "
            f"{info['n_train']:,} train / {info['n_test']:,} test rows, "
            f"{info['n_categories']:,} categories -> {path}",
            flush=True,
        )
        doc["datasets"][name] = info
        prepared[name] = path
    if args.prepare_only:
        return 0

    log_dir = _data.CACHE_DIR / "logs" / args.out.stem
    failures = 0
    for name, path in prepared.items():
        info = doc["datasets"][name]
        bayes = (
            f" (Bayes-optimal AUC {info['bayes_auc']:.4f}, logloss "
            f"{info['bayes_logloss']:.4f})"
            if "bayes_auc" in info
            else ""
        )
        print(f"[{name}]{bayes}", flush=True)
        runs = {contestant: [] for contestant in args.contestants}
        for round_ in range(args.repeat):
            if args.repeat > 1:
                print(f"  round {round_ + 1} of {args.repeat}", flush=True)
            for contestant in args.contestants:
                result = run_pair(contestant, name, path, device, args, log_dir)
                result["round"] = round_ + 1
                runs[contestant].append(result)
                doc["results"] = [
                    r
                    for r in doc["results"]
                    if (r["dataset"], r["contestant"]) != (name, contestant)
                ]
                doc["results"].append(summarize(runs[contestant]))
                write_outputs(doc, args.out)
        failures += sum(
            summarize(results)["status"] == "error" for results in runs.values()
        )
    write_outputs(doc, args.out)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
