"""Run ONE contestant on ONE cached data set and print its measurements.

Started by ``benchmarks/run.py`` (or ``gpu.py``) in a fresh process, so that
imports, allocations and the peak resident set size belong to this contestant
alone.  The thread count is fixed through the environment (set by the parent
before this interpreter starts) and ``torch.set_num_threads``.

The result is one JSON object on a stdout line starting with ``MARKER``;
everything else on stdout/stderr is library chatter.
"""

import argparse
import importlib
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path

MARKER = "@@BENCHMARK_RESULT@@ "
REPO_ROOT = Path(__file__).resolve().parent.parent


def rss_now_mib():
    """Current resident set size of this process, in MiB."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_peak_mib():
    """Peak resident set size of this process so far (ru_maxrss, KiB on Linux).

    On Linux a child's ``ru_maxrss`` starts from the parent's high-water mark
    at the time of the fork/exec, so the orchestrator keeps itself small (the
    data sets are prepared in a separate process); :func:`vm_hwm_mib` is
    recorded alongside as a cross-check.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_hwm_mib():
    """High-water mark of this process image's RSS (VmHWM, since exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def busy_cpu_s():
    """CPU seconds spent by ALL processes on the machine so far (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    ticks = user + nice + system + irq + softirq + steal
    return ticks / os.sysconf("SC_CLK_TCK")


def minor_faults():
    """Minor page faults of this process so far (first touches of memory)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


# Rows of the reference workload timed around each CPU prediction.
REFERENCE_ROWS = 65_536


def reference_rows_per_s(torch, config, n_fields):
    """Rows/s of a fixed workload: the BARS MLP's float32 forward (random
    weights from a fixed seed, 4096-row batches, ``F.linear`` + ReLU) under
    this process's thread settings.

    It is the same for every contestant and holds most of a prediction's
    arithmetic, so its spread over runs is the machine's, not a library's:
    read a contestant's predict rows/s against it.
    """
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(0)
    widths = [n_fields * config["embedding_dim"], *config["hidden_units"], 1]
    layers = [
        (
            torch.randn(n_out, n_in, generator=generator) / n_in**0.5,
            torch.zeros(n_out),
        )
        for n_in, n_out in zip(widths[:-1], widths[1:], strict=True)
    ]
    x = torch.randn(4096, widths[0], generator=generator)
    with torch.inference_mode():
        t0 = time.perf_counter()
        for _ in range(REFERENCE_ROWS // x.shape[0]):
            h = x
            for k, (weight, bias) in enumerate(layers):
                h = F.linear(h, weight, bias)
                if k < len(layers) - 1:
                    h = h.relu_()
        return REFERENCE_ROWS / (time.perf_counter() - t0)


# Set (by run.py --no-warmup) to skip the optimizer warm-up below.
NO_WARMUP = "DEEPFM_BENCH_NO_WARMUP"


def emit(result):
    sys.stdout.write(MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


def run(args, result):
    threads = args.threads
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    # Make the repository importable without installing it.
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(1, str(REPO_ROOT))

    import _data
    import numpy as np
    from contestants import BARS_CONFIG, CONTESTANTS

    spec = CONTESTANTS[args.contestant]
    config = dict(BARS_CONFIG)
    result.update(input=spec.input, description=spec.description, config=config)

    torch = None
    if spec.uses_torch:
        import torch

        torch.set_num_threads(threads)
        torch.manual_seed(config["seed"])
        result["torch_threads"] = torch.get_num_threads()
        # The first optimizer built in a process pays a one-off ~1.5 s of lazy
        # imports inside torch (torch._dynamo, sympy: ~65 MiB); pay it here,
        # outside the timed region, as the other imports are -- unless the
        # run measures what a fresh process holds (run.py --no-warmup).
        result["torch_warmup_s"] = None
        if not os.environ.get(NO_WARMUP):
            t0 = time.perf_counter()
            torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
            result["torch_warmup_s"] = time.perf_counter() - t0
        if args.device == "cuda" and not torch.cuda.is_available():
            result.update(status="skipped", reason="CUDA is not available")
            return
    elif args.device != "cpu":
        result.update(status="skipped", reason="not a torch-based contestant")
        return

    module = importlib.import_module(f"contestants.{spec.module}")
    reason = module.unavailable(spec.options)
    if reason:
        result.update(status="skipped", reason=reason)
        return

    data = _data.load(args.data)
    X_train, y_train = data["X_train"], data["y_train"]
    X_test, y_test = data["X_test"], data["y_test"]
    cardinalities = data["cardinalities"]

    if spec.input == "onehot":
        from sklearn.preprocessing import OneHotEncoder

        t0 = time.perf_counter()
        encoder = OneHotEncoder(handle_unknown="ignore")
        X_train = encoder.fit_transform(X_train)
        X_test = encoder.transform(X_test)
        result["onehot_s"] = time.perf_counter() - t0
        result["onehot_columns"] = int(X_train.shape[1])
        del encoder

    # "Before training" = data loaded (and one-hot encoded), model not built.
    result["rss_before_fit_mib"] = rss_now_mib()
    # 1-minute load average: well above the thread count means something else
    # was competing for the CPUs, and the timings are not trustworthy.
    result["loadavg_before"] = os.getloadavg()[0]
    result["peak_rss_before_fit_mib"] = rss_peak_mib()
    cuda = torch is not None and args.device == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()

    # The fit time includes building the model (the estimators build theirs
    # inside fit; the peers' constructors allocate their tables up front).
    t0, c0, b0 = time.perf_counter(), time.process_time(), busy_cpu_s()
    runner = module.Runner(cardinalities, config, args.device, **spec.options)
    result["build_s"] = time.perf_counter() - t0
    runner.fit(X_train, y_train)
    if cuda:
        torch.cuda.synchronize()
    fit_s = time.perf_counter() - t0
    fit_cpu_s = time.process_time() - c0
    # CPU time that OTHER processes used while this one was fitting, as an
    # average number of busy cores: anything well above 0 means the timing
    # was disturbed (on 2 cores, a competing process slows a 2-thread torch
    # run down far more than its share).
    other_cpus = max(0.0, busy_cpu_s() - b0 - fit_cpu_s) / fit_s
    result["other_processes_cpus_during_fit"] = other_cpus
    result["peak_rss_after_fit_mib"] = rss_peak_mib()

    # The machine's speed just before and after the prediction (CPU, fields
    # as columns).
    reference = torch is not None and args.device == "cpu" and spec.input == "int"
    if reference:
        before = reference_rows_per_s(torch, config, X_test.shape[1])
    t0, c0, b0 = time.perf_counter(), time.process_time(), busy_cpu_s()
    faults = minor_faults()
    proba = np.asarray(runner.predict_proba(X_test), dtype=np.float64).reshape(-1)
    if cuda:
        torch.cuda.synchronize()
    predict_s = time.perf_counter() - t0
    result["predict_minor_faults"] = minor_faults() - faults
    other_cpus = busy_cpu_s() - b0 - (time.process_time() - c0)
    result["other_processes_cpus_during_predict"] = max(0.0, other_cpus) / predict_s
    if reference:
        after = reference_rows_per_s(torch, config, X_test.shape[1])
        result["reference_rows_per_s"] = (before + after) / 2
        result["reference_spread"] = max(before, after) / min(before, after)

    from sklearn.metrics import log_loss, roc_auc_score

    if proba.shape[0] != y_test.shape[0]:
        raise RuntimeError(
            f"predict_proba returned {proba.shape[0]} rows for {y_test.shape[0]}"
        )
    n_nonfinite = int(np.sum(~np.isfinite(proba)))
    proba = np.clip(np.nan_to_num(proba, nan=0.5), 1e-7, 1 - 1e-7)
    result.update(
        status="ok",
        n_train=int(y_train.shape[0]),
        n_test=int(y_test.shape[0]),
        fit_s=fit_s,
        fit_cpu_s=fit_cpu_s,
        train_rows_per_s=y_train.shape[0] / fit_s,
        predict_s=predict_s,
        predict_rows_per_s=y_test.shape[0] / predict_s,
        peak_rss_mib=rss_peak_mib(),
        vm_hwm_mib=vm_hwm_mib(),
        loadavg_after=os.getloadavg()[0],
        auc=float(roc_auc_score(y_test, proba)),
        logloss=float(log_loss(y_test, proba)),
    )
    if n_nonfinite:
        result["nonfinite_predictions"] = n_nonfinite
    result["rss_increase_mib"] = result["peak_rss_mib"] - result["rss_before_fit_mib"]
    if cuda:
        result["cuda_peak_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    extra = getattr(runner, "extra", None)
    if extra:
        result["extra"] = extra


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contestant", required=True)
    parser.add_argument(
        "--dataset", required=True, help="data set name (for the record)"
    )
    parser.add_argument("--data", required=True, help="path of the cached .npz")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    result = dict(
        contestant=args.contestant,
        dataset=args.dataset,
        device=args.device,
        threads=args.threads,
    )
    try:
        run(args, result)
    except Exception as exc:
        result.update(
            status="error",
            reason=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc()[-4000:],
        )
        result.setdefault("peak_rss_mib", rss_peak_mib())
        emit(result)
        return 1
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
