"""The deep part's float32 matrix products on this CPU: MKL or oneDNN?

PyTorch multiplies float32 matrices on x86 with Intel MKL (``F.linear``);
``sklearn_deepfm._cpu_linear`` routes the MLP's products through oneDNN
instead on x86 processors other than Intel's.  This measures both, in
interleaved rounds, at the benchmark setting (batch 2048, MLP 400-400-400
on 26 fields of embedding 10):

* each product of one layer: forward ``x @ W.T``, the input gradient
  ``g @ W`` and the weight gradient ``g.T @ x``;
* one training step of the whole network (forward, backward, optimizer),
  26 label-encoded fields over 285,757 embedding rows;
* the network's forward pass over 100,000 rows in batches of 8,192, as
  ``predict`` runs it.

The report gives medians and ranges, the CPU's model, vendor and ISA flags,
and what ``onednn_float32()`` decides here.  Run::

    python benchmarks/cpu_matmul.py --out benchmarks/results/cpu_matmul.json
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import torch  # noqa: E402
from run import cpu_flags, cpu_model, git_state, package_versions  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from sklearn_deepfm import _cpu, _cpu_linear  # noqa: E402
from sklearn_deepfm._model import DeepFM  # noqa: E402
from sklearn_deepfm._optim import DenseSparseAdam  # noqa: E402

BATCH = 2048
HIDDEN = (400, 400, 400)
N_FIELDS, EMBEDDING_DIM, N_EMBEDDINGS = 26, 10, 285_757
PREDICT_ROWS, PREDICT_BATCH = 100_000, 8192


def _time(function, repeat):
    function()  # warm-up: oneDNN builds its kernel on the first call
    tic = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - tic) / repeat


def products(backend, repeat):
    """Seconds per product of one 400 -> 400 layer, by backend."""
    torch.manual_seed(0)
    x, grad = torch.randn(BATCH, 400), torch.randn(BATCH, 400)
    weight, bias = torch.randn(400, 400), torch.randn(400)
    if backend == "mkl":
        cases = {
            "forward": lambda: F.linear(x, weight, bias),
            "input_gradient": lambda: grad @ weight,
            "weight_gradient": lambda: grad.t() @ x,
        }
    else:
        product = _cpu_linear._product
        cases = {
            "forward": lambda: product(x, weight, bias),
            "input_gradient": lambda: product(grad, weight.t()),
            "weight_gradient": lambda: product(grad.t(), x.t()),
        }
    return {name: _time(case, repeat) for name, case in cases.items()}


def _network(seed=0):
    torch.manual_seed(seed)
    return DeepFM(N_EMBEDDINGS, N_FIELDS, EMBEDDING_DIM, HIDDEN, sparse=True)


def _rows(n_rows, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, N_EMBEDDINGS, (n_rows, N_FIELDS), generator=generator)


def training_step(repeat):
    """Seconds per training step (batch 2048) of the whole network."""
    module = _network()
    optimizer = DenseSparseAdam(module.parameters(), lr=1e-3)
    indices = _rows(BATCH * 4, seed=1)
    target = torch.randint(0, 2, (BATCH * 4,), generator=torch.Generator()).float()
    state = {"k": 0}

    def step():
        k = state["k"] % 4
        state["k"] += 1
        rows = slice(k * BATCH, (k + 1) * BATCH)
        optimizer.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(module(indices[rows]), target[rows])
        loss.backward()
        optimizer.step()

    return _time(step, repeat)


def prediction(repeat):
    """Seconds to score 100,000 rows in batches of 8,192 (eval, no grad)."""
    module = _network().eval()
    indices = _rows(PREDICT_ROWS, seed=2)

    def predict():
        with torch.no_grad():
            for start in range(0, PREDICT_ROWS, PREDICT_BATCH):
                module(indices[start : start + PREDICT_BATCH])

    return _time(predict, repeat)


def measure(backend, repeat):
    """Every measurement with the MLP on ``backend`` ('mkl' or 'onednn')."""
    use_onednn = backend == "onednn"
    decided = _cpu_linear.onednn_float32
    _cpu_linear.onednn_float32 = lambda: use_onednn
    try:
        result = {
            f"{name}_ms": s * 1e3 for name, s in products(backend, repeat).items()
        }
        result["training_step_ms"] = training_step(repeat) * 1e3
        result["predict_100k_s"] = prediction(max(1, repeat // 10))
    finally:
        _cpu_linear.onednn_float32 = decided
    return result


def summarize(rounds):
    summary = {}
    for backend in ("mkl", "onednn"):
        runs = [r[backend] for r in rounds]
        summary[backend] = {
            key: {
                "median": statistics.median(run[key] for run in runs),
                "min": min(run[key] for run in runs),
                "max": max(run[key] for run in runs),
            }
            for key in runs[0]
        }
    flops = 2 * BATCH * 400 * 400
    for backend in summary:
        for name in ("forward", "input_gradient", "weight_gradient"):
            ms = summary[backend][f"{name}_ms"]["median"]
            summary[backend][f"{name}_gflops"] = flops / ms / 1e6
    summary["speedup"] = {
        key: summary["mkl"][key]["median"] / summary["onednn"][key]["median"]
        for key in rounds[0]["mkl"]
    }
    summary["training_rows_per_second"] = {
        backend: BATCH / (summary[backend]["training_step_ms"]["median"] / 1e3)
        for backend in ("mkl", "onednn")
    }
    summary["predict_rows_per_second"] = {
        backend: PREDICT_ROWS / summary[backend]["predict_100k_s"]["median"]
        for backend in ("mkl", "onednn")
    }
    return summary


def render(doc):
    meta, summary = doc["meta"], doc["summary"]
    lines = [
        "# float32 matrix products of the deep part: MKL or oneDNN",
        "",
        f"- Date: {meta['date']}",
        f"- CPU: {meta['cpu']} (vendor {meta['vendor']}), "
        f"{meta['threads']} threads; ISA flags: {', '.join(meta['cpu_flags'])}",
        f"- `onednn_float32()` here: **{meta['onednn_float32']}**",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- Git: {meta['git']['commit']}"
        + (" (uncommitted changes)" if meta["git"]["dirty"] else ""),
        f"- Command: `{meta['command']}`",
        f"- {meta['rounds']} interleaved rounds; medians (ranges)",
        "",
        "| measurement | MKL (`F.linear`) | oneDNN | MKL / oneDNN |",
        "|---|---|---|---|",
    ]
    labels = {
        "forward_ms": "forward x @ W.T, (2048, 400) x (400, 400), ms",
        "input_gradient_ms": "input gradient g @ W, ms",
        "weight_gradient_ms": "weight gradient g.T @ x, ms",
        "training_step_ms": "training step of the network, batch 2048, ms",
        "predict_100k_s": "forward over 100,000 rows (eval), s",
    }
    for key, label in labels.items():
        cells = []
        for backend in ("mkl", "onednn"):
            s = summary[backend][key]
            cells.append(f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})")
        lines.append(
            f"| {label} | {cells[0]} | {cells[1]} | {summary['speedup'][key]:.2f}x |"
        )
    train, predict = (
        summary["training_rows_per_second"],
        summary["predict_rows_per_second"],
    )
    lines += [
        "",
        f"Training: {train['mkl']:,.0f} rows/s with MKL, {train['onednn']:,.0f} with "
        f"oneDNN. Prediction (network only): {predict['mkl']:,.0f} rows/s with MKL, "
        f"{predict['onednn']:,.0f} with oneDNN.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=BENCH_DIR / "results" / "cpu_matmul.json"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=30, help="calls per timing")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rounds = []
    for _ in range(args.rounds):
        rounds.append({b: measure(b, args.repeat) for b in ("mkl", "onednn")})
    doc = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "cpu": cpu_model(),
            "vendor": _cpu.x86_vendor(),
            "cpu_flags": cpu_flags(),
            "onednn_float32": _cpu_linear.onednn_float32(),
            "threads": args.threads,
            "versions": package_versions(),
            "git": git_state(),
            "command": "python "
            + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "rounds": args.rounds,
        },
        "rounds": rounds,
        "summary": summarize(rounds),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    args.out.with_suffix(".md").write_text(render(doc))
    print(render(doc))


if __name__ == "__main__":
    main()
