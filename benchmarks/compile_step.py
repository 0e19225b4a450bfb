"""Would ``torch.compile`` speed up the deep part's training step?

One training step of the benchmark MLP (26 fields x embedding 10 = 260
inputs, 400-400-400, batch 2048, float32, binary log-loss, Adam) three ways,
in interleaved rounds:

* ``eager_onednn``: eager PyTorch with the package's linear layers on
  oneDNN (``sklearn_deepfm._cpu_linear``), what the estimator runs on
  non-Intel x86;
* ``eager_mkl``: eager PyTorch with ``F.linear`` (MKL), what it runs on
  Intel processors;
* ``compiled``: forward and loss under ``torch.compile`` (inductor, which
  fuses the elementwise work and calls MKL for the products), with the
  seconds its first steps take to compile.

Run::

    python benchmarks/compile_step.py --out benchmarks/results/compile_step.json
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
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from sklearn_deepfm import _cpu_linear  # noqa: E402
from sklearn_deepfm._model import MultiLayerPerceptron  # noqa: E402

MODES = ("eager_onednn", "eager_mkl", "compiled")


def measure(mode, steps):
    """(ms per step after warm-up, seconds of the first 3 steps)."""
    torch.manual_seed(0)
    mlp = MultiLayerPerceptron(260, (400, 400, 400), 1, 0.0, False)
    nn.init.normal_(mlp.layers[-1].weight, std=0.01)
    optimizer = torch.optim.Adam(mlp.parameters(), lr=1e-3, foreach=True)
    x = torch.randn(2048, 260, requires_grad=True)
    y = torch.rand(2048)

    def loss():
        return F.binary_cross_entropy_with_logits(mlp(x).squeeze(1), y)

    if mode == "compiled":
        torch._dynamo.reset()
        loss = torch.compile(loss)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss().backward()
        optimizer.step()

    decided = _cpu_linear.onednn_float32
    _cpu_linear.onednn_float32 = lambda: mode == "eager_onednn"
    try:
        tic = time.perf_counter()
        for _ in range(3):
            step()
        warm_up = time.perf_counter() - tic
        tic = time.perf_counter()
        for _ in range(steps):
            step()
        per_step = (time.perf_counter() - tic) / steps * 1e3
    finally:
        _cpu_linear.onednn_float32 = decided
    return per_step, warm_up


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=BENCH_DIR / "results" / "compile_step.json"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rounds = [
        {mode: measure(mode, args.steps) for mode in MODES} for _ in range(args.rounds)
    ]
    summary = {
        mode: {
            "ms_per_step": statistics.median(r[mode][0] for r in rounds),
            "ms_range": [
                min(r[mode][0] for r in rounds),
                max(r[mode][0] for r in rounds),
            ],
            "first_3_steps_s": statistics.median(r[mode][1] for r in rounds),
        }
        for mode in MODES
    }
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "onednn_float32": _cpu_linear.onednn_float32(),
        "threads": args.threads,
        "versions": package_versions(),
        "git": git_state(),
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta, "rounds": rounds, "summary": summary}
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# torch.compile of the deep part's training step",
        "",
        f"Command: `{meta['command']}`; {meta['date']}; {meta['cpu']} (flags: "
        f"{', '.join(meta['cpu_flags'] or [])}); {args.threads} threads; "
        f"commit {meta['git']['commit'][:7]}; MLP 260-400-400-400-1, batch 2048, "
        f"float32, Adam; medians of {args.rounds} interleaved rounds of "
        f"{args.steps} steps.",
        "",
        "| mode | ms per step | range | first 3 steps s |",
        "|---|---|---|---|",
    ]
    for mode, s in summary.items():
        lines.append(
            f"| {mode} | {s['ms_per_step']:.2f} | {s['ms_range'][0]:.2f}-"
            f"{s['ms_range'][1]:.2f} | {s['first_3_steps_s']:.1f} |"
        )
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
