"""Where prediction time goes: ``decision_function`` against the bare forward.

A model (26 label-encoded fields of the ``medium`` or ``wide`` cardinalities
of ``run.py``, embedding 10, MLP 400-400-400, float32, one epoch) predicts
``--rows`` rows three ways, in interleaved rounds:

* ``decision_function(X)``: validation, encoding, batching, the forward and
  the float64 result;
* encoding alone (``sklearn_deepfm.export.encode``);
* the bare forward: the exported network (``export.inference_module``) on
  the encoded rows in 4096-row batches under ``torch.inference_mode``, the
  floor to approach.

Run::

    python benchmarks/predict_breakdown.py --cardinalities wide
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import torch  # noqa: E402
from run import cpu_flags, cpu_model, git_state  # noqa: E402

from sklearn_deepfm import DeepFMClassifier  # noqa: E402
from sklearn_deepfm.datasets import (  # noqa: E402
    ctr_cardinalities,
    make_ctr_classification,
)
from sklearn_deepfm.export import encode, inference_module  # noqa: E402

BATCH = 4096
# total categories of run.py's synthetic sets
CARDINALITIES = {"medium": 385_000, "wide": 14_000_000}


def bare_forward(network, inputs):
    n_rows = next(iter(inputs.values())).shape[0]
    with torch.inference_mode():
        for start in range(0, n_rows, BATCH):
            network(**{k: v[start : start + BATCH] for k, v in inputs.items()})


def timed(function):
    tic = time.perf_counter()
    function()
    return time.perf_counter() - tic


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--train-rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--cardinalities", choices=sorted(CARDINALITIES), default="medium"
    )
    parser.add_argument(
        "--out", default=str(BENCH_DIR / "results" / "predict_breakdown.json")
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    total = CARDINALITIES[args.cardinalities]
    cards = ctr_cardinalities(26, total, random_state=0).tolist()
    X, y = make_ctr_classification(
        args.train_rows + max(args.rows), 26, cards, random_state=0
    )
    model = DeepFMClassifier(
        hidden_units=(400, 400, 400),
        batch_size=2048,
        max_epochs=1,
        early_stopping=False,
        random_state=0,
    ).fit(X[: args.train_rows], y[: args.train_rows])
    network = inference_module(model)
    results = {}
    for n_rows in args.rows:
        X_test = X[args.train_rows : args.train_rows + n_rows]
        inputs = encode(model, X_test)
        times = {"decision_function": [], "encode": [], "bare_forward": []}
        for _ in range(args.rounds):
            times["decision_function"].append(
                timed(lambda X_test=X_test: model.decision_function(X_test))
            )
            times["encode"].append(timed(lambda X_test=X_test: encode(model, X_test)))
            times["bare_forward"].append(
                timed(lambda inputs=inputs: bare_forward(network, inputs))
            )
        results[n_rows] = {key: float(np.median(v)) for key, v in times.items()}
        print(n_rows, results[n_rows], flush=True)
    meta = {
        "command": "python " + " ".join(sys.argv),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "threads": args.threads,
        "cardinalities": args.cardinalities,
        "git": git_state(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    lines = [
        "# Where prediction time goes",
        "",
        f"Command: `{meta['command']}`; {meta['cpu']} (flags: "
        f"{', '.join(meta['cpu_flags'] or [])}); {args.threads} torch threads; "
        f"{args.cardinalities} cardinalities, MLP 400-400-400, float32; medians of "
        f"{args.rounds} interleaved rounds.",
        "",
        "| rows | decision_function s | encode s | bare forward s "
        "| decision_function / bare forward | rows/s |",
        "|---|---|---|---|---|---|",
    ]
    for n_rows, r in results.items():
        lines.append(
            f"| {n_rows:,} | {r['decision_function']:.3f} | {r['encode']:.3f} "
            f"| {r['bare_forward']:.3f} "
            f"| {r['decision_function'] / r['bare_forward']:.2f} "
            f"| {n_rows / r['decision_function']:,.0f} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
