"""Training steps on small tables' batches: which products go to oneDNN, and
which Adam update runs.

A default fit of a small table (HR: 15,000 training rows, 12 fields) takes
about 200 steps an epoch on batches of 64-100 rows, and each step costs
more in fixed per-call overheads than in arithmetic.  This measures, at the
default network (embedding 10, MLP 256-128):

* each product of the training pass (forward ``x @ W.T``, input gradient
  ``g @ W``, weight gradient ``g.T @ x``, summed) by MKL (``F.linear``) and
  by oneDNN, for the default network's layers and a 400-wide output layer,
  at several batch sizes: where ``_cpu_linear.ONEDNN_MIN_PRODUCT`` should sit;
* one training step of the whole network (forward, backward, optimizer) in
  four variants: every product by oneDNN with the ``foreach`` Adam update
  (before), small products by MKL, the fused Adam update, and both (now).

Rounds are interleaved; the report gives medians and ranges and the CPU.
The oneDNN products apply on x86 processors other than Intel's; elsewhere
the products' rows compare MKL with itself.  Run::

    python benchmarks/small_steps.py --out benchmarks/results/small_steps.json
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

from sklearn_deepfm import _cpu, _cpu_linear, _optim  # noqa: E402
from sklearn_deepfm._model import DeepFM  # noqa: E402
from sklearn_deepfm._optim import DenseSparseAdam  # noqa: E402

N_FIELDS, EMBEDDING_DIM, N_EMBEDDINGS, HIDDEN = 12, 10, 1_500, (256, 128)
BATCHES = (76, 320, 1024)
PRODUCT_ROWS = BATCHES + (2048,)
LAYERS = ((120, 256), (256, 128), (128, 1), (400, 1))
VARIANTS = {
    # name: (every product by oneDNN, fused Adam)
    "before": (True, False),
    "small_products_mkl": (False, False),
    "fused_adam": (True, True),
    "both (now)": (False, True),
}


def _time(function, repeat):
    function()  # warm-up: oneDNN builds its kernel on the first call
    tic = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - tic) / repeat


def product_us(rows, n_in, n_out, backend, repeat):
    """Microseconds for the three products of one layer's training pass."""
    torch.manual_seed(0)
    x, grad = torch.randn(rows, n_in), torch.randn(rows, n_out)
    weight, bias = torch.randn(n_out, n_in), torch.randn(n_out)
    if backend == "mkl":

        def products():
            F.linear(x, weight, bias)
            grad @ weight
            grad.t() @ x

    else:
        product = _cpu_linear._product

        def products():
            product(x, weight, bias)
            product(grad, weight.t())
            product(grad.t(), x.t())

    return _time(products, repeat) * 1e6


class _Variant:
    """One network and optimizer trained under one variant's settings."""

    def __init__(self, name, batch):
        self.all_onednn, self.fused = VARIANTS[name]
        torch.manual_seed(0)
        self.module = DeepFM(N_EMBEDDINGS, N_FIELDS, EMBEDDING_DIM, HIDDEN, sparse=True)
        self.optimizer = DenseSparseAdam(self.module.parameters(), lr=2e-3)
        generator = torch.Generator().manual_seed(1)
        shape = (batch * 8, N_FIELDS)
        self.indices = torch.randint(0, N_EMBEDDINGS, shape, generator=generator)
        self.target = torch.randint(0, 2, (batch * 8,), generator=generator).float()
        self.batch, self.k = batch, 0

    def step(self):
        rows = slice(self.k % 8 * self.batch, (self.k % 8 + 1) * self.batch)
        self.k += 1
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.module(self.indices[rows]).squeeze(-1)
        F.binary_cross_entropy_with_logits(logits, self.target[rows]).backward()
        self.optimizer.step()

    def time_steps(self, repeat):
        """Milliseconds per step over ``repeat`` steps, under this variant."""
        threshold, agrees = _cpu_linear.ONEDNN_MIN_PRODUCT, _optim._fused_agrees
        _cpu_linear.ONEDNN_MIN_PRODUCT = 0 if self.all_onednn else threshold
        _optim._fused_agrees = agrees if self.fused else (lambda: False)
        try:
            tic = time.perf_counter()
            for _ in range(repeat):
                self.step()
            return (time.perf_counter() - tic) / repeat * 1e3
        finally:
            _cpu_linear.ONEDNN_MIN_PRODUCT, _optim._fused_agrees = threshold, agrees


def step_ms(batch, repeat, chunks=10):
    """Milliseconds per training step of the whole network, by variant: the
    median over ``chunks`` chunks of ``repeat // chunks`` steps, the variants
    taking turns chunk by chunk so that a slow spell of the machine falls on
    all of them."""
    variants = {name: _Variant(name, batch) for name in VARIANTS}
    for variant in variants.values():
        variant.time_steps(20)  # warm-up
    times = {name: [] for name in variants}
    for _ in range(chunks):
        for name, variant in variants.items():
            times[name].append(variant.time_steps(max(1, repeat // chunks)))
    return {name: statistics.median(values) for name, values in times.items()}


def one_round(repeat):
    products = {
        f"{rows} x {n_in} -> {n_out}": {
            backend: product_us(rows, n_in, n_out, backend, repeat)
            for backend in ("mkl", "onednn")
        }
        for rows in PRODUCT_ROWS
        for n_in, n_out in LAYERS
    }
    steps = {str(batch): step_ms(batch, repeat) for batch in BATCHES}
    return {"products_us": products, "step_ms": steps}


def _summary(values):
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def summarize(rounds):
    first = rounds[0]
    return {
        section: {
            case: {
                key: _summary([r[section][case][key] for r in rounds])
                for key in first[section][case]
            }
            for case in first[section]
        }
        for section in first
    }


def _cell(stat, digits):
    median, low, high = (f"{stat[key]:.{digits}f}" for key in ("median", "min", "max"))
    return f"{median} ({low}-{high})"


def render(doc):
    summary = doc["summary"]
    lines = [
        "# Training steps on small tables' batches",
        "",
        f"- Date: {doc['date']}",
        f"- CPU: {doc['cpu']} (vendor {doc['vendor']}), {doc['threads']} threads; "
        f"ISA flags: {', '.join(doc['cpu_flags'])}",
        f"- `onednn_float32()` here: **{doc['onednn_float32']}**; "
        f"`ONEDNN_MIN_PRODUCT` = {doc['onednn_min_product']:,} multiply-adds",
        f"- Versions: {', '.join(f'{k} {v}' for k, v in doc['versions'].items())}",
        f"- Git: {doc['git']}",
        f"- Command: `{doc['command']}`",
        f"- {doc['rounds']} interleaved rounds of {doc['repeat']} calls; "
        "medians (ranges)",
        f"- Network: {N_FIELDS} fields, embedding {EMBEDDING_DIM}, "
        f"{N_EMBEDDINGS:,} embedding rows, MLP {'-'.join(map(str, HIDDEN))}",
        "",
        "## The three products of one layer's training pass, microseconds",
        "",
        "| rows x inputs -> outputs | multiply-adds | MKL (`F.linear`) | oneDNN |",
        "|---|---|---|---|",
    ]
    for case, stats in summary["products_us"].items():
        rows, rest = case.split(" x ")
        n_in, n_out = rest.split(" -> ")
        macs = int(rows) * int(n_in) * int(n_out)
        lines.append(
            f"| {case} | {macs:,} | {_cell(stats['mkl'], 1)} | "
            f"{_cell(stats['onednn'], 1)} |"
        )
    lines += [
        "",
        "## One training step of the network, milliseconds",
        "",
        "| batch | " + " | ".join(VARIANTS) + " |",
        "|---|" + "---|" * len(VARIANTS),
    ]
    for batch, stats in summary["step_ms"].items():
        cells = " | ".join(_cell(stats[variant], 3) for variant in VARIANTS)
        lines.append(f"| {batch} | {cells} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, default=BENCH_DIR / "results" / "small_steps.json"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rounds = [one_round(args.repeat) for _ in range(args.rounds)]
    doc = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpu": cpu_model(),
        "vendor": _cpu.x86_vendor(),
        "cpu_flags": cpu_flags(),
        "threads": args.threads,
        "onednn_float32": _cpu_linear.onednn_float32(),
        "onednn_min_product": _cpu_linear.ONEDNN_MIN_PRODUCT,
        "versions": package_versions(),
        "git": git_state(),
        "command": "python benchmarks/small_steps.py " + " ".join(argv or sys.argv[1:]),
        "rounds": args.rounds,
        "repeat": args.repeat,
        "raw": rounds,
        "summary": summarize(rounds),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    args.out.with_suffix(".md").write_text(render(doc))


if __name__ == "__main__":
    main()
