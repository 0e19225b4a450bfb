"""What ``explain`` costs, and how far its sampled deep part is from exact.

For a 39-field table (Criteo 10k) and an 8-field one (MovieLens 100k), both
label-encoded by ``_data.py``, a ``DeepFMClassifier`` at the default network
(embedding 10, MLP 256-128, float32) is trained for ``--epochs`` epochs
without early stopping (so that the FM and deep parts are kept), then:

* cost: ``explain(X)`` (the default number of permutations, and more) and
  ``predict_proba(X)`` on the same ``--rows`` rows, in interleaved rounds;
  the ratio of the medians is the issue's target (at most 50);
* error: on ``--error-rows`` rows, the permutation estimate against the
  exact Shapley values (all ``2**F`` coalitions), where that is feasible
  (the 8-field table); on the 39-field table, against an estimate from
  ``--reference-permutations`` permutations (itself sampled: a bound on the
  error's size, not the error).  Only the deep part's share differs between
  methods, so the errors are those of the deep part's attribution.

Run::

    python benchmarks/explain.py --out benchmarks/results/explain.json
"""

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _data  # noqa: E402
import torch  # noqa: E402
from run import cpu_flags, cpu_model, git_state  # noqa: E402

from sklearn_deepfm import DeepFMClassifier  # noqa: E402
from sklearn_deepfm._batching import EncodedDataset  # noqa: E402

TABLES = ["criteo", "movielens"]


def timed(function):
    tic = time.perf_counter()
    function()
    return time.perf_counter() - tic


def deep_scale(model, X, explanation):
    """Mean absolute share of the deep part in ``explanation``: its diagonal
    less the first-order terms."""
    terms = model.net_.field_terms(EncodedDataset(model._encode(X)))
    other = terms["first_order"].double().numpy()[..., 0]
    diagonal = np.diagonal(explanation.interaction_values, axis1=1, axis2=2)
    return float(np.abs(diagonal - other).mean())


def errors(estimate, reference, deep):
    """Absolute errors of the per-field values, and relative to the mean
    absolute value of the reference and to its deep part's."""
    difference = np.abs(estimate.values - reference.values)
    scale = np.abs(reference.values).mean()
    return {
        "mean_abs_error": float(difference.mean()),
        "max_abs_error": float(difference.max()),
        "relative_to_values": float(difference.mean() / scale),
        "relative_to_deep": float(difference.mean() / deep),
    }


def measure(name, args):
    path, info = _data.prepare(name)
    data = _data.load(path)
    X_train, y_train = data["X_train"], data["y_train"]
    rows = np.concatenate([data["X_test"], X_train])[: args.rows]
    model = DeepFMClassifier(
        early_stopping=False,
        max_epochs=args.epochs,
        categorical_features=np.ones(X_train.shape[1], dtype=bool),
        random_state=0,
    )
    fit_seconds = timed(lambda: model.fit(X_train, y_train))
    settings = ["auto", *args.permutations]
    model.predict_proba(rows)  # warm-up
    model.explain(rows[:64], random_state=0)
    times = {"predict_proba": [], **{f"explain_{p}": [] for p in settings}}
    for _ in range(args.rounds):
        times["predict_proba"].append(timed(lambda: model.predict_proba(rows)))
        for p in settings:
            times[f"explain_{p}"].append(
                timed(lambda p=p: model.explain(rows, n_permutations=p, random_state=0))
            )
    medians = {key: float(np.median(value)) for key, value in times.items()}
    ratios = {
        str(p): medians[f"explain_{p}"] / medians["predict_proba"] for p in settings
    }
    auto = model.explain(rows[:64], random_state=0)

    sample = rows[: args.error_rows]
    if model.n_fields_ <= args.max_exact_fields:
        reference = model.explain(sample, n_permutations="exact")
        reference_kind = "exact"
    else:
        reference = model.explain(
            sample, n_permutations=args.reference_permutations, random_state=1
        )
        reference_kind = f"{args.reference_permutations} permutations"
    deep = deep_scale(model, sample, reference)
    accuracy = {}
    for p in ["auto", *sorted({*args.permutations, *args.error_permutations})]:
        estimate = model.explain(sample, n_permutations=p, random_state=0)
        accuracy[str(p)] = {
            "method": estimate.method,
            "n_permutations": estimate.n_permutations,
            **errors(estimate, reference, deep),
        }
    return {
        "table": name,
        "n_fields": int(model.n_fields_),
        "n_train": int(X_train.shape[0]),
        "fit_seconds": fit_seconds,
        "interactions_kept": bool(model.interactions_kept_),
        "auto": {"method": auto.method, "n_permutations": auto.n_permutations},
        "rows": int(len(rows)),
        "seconds": times,
        "median_seconds": medians,
        "ratio_explain_to_predict_proba": ratios,
        "error_rows": int(len(sample)),
        "error_reference": reference_kind,
        "mean_abs_value": float(np.abs(reference.values).mean()),
        "mean_abs_deep_share": deep,
        "errors": accuracy,
    }


def _round_ratios(table):
    """Per setting, explain's time over predict_proba's in each round."""
    seconds = table["seconds"]
    predict = np.asarray(seconds["predict_proba"])
    return {
        key.removeprefix("explain_"): np.asarray(value) / predict
        for key, value in seconds.items()
        if key.startswith("explain_")
    }


def _scatter(result):
    """The largest ratio of a measurement's slowest round to its fastest."""
    return max(
        max(value) / min(value)
        for table in result["tables"]
        for value in table["seconds"].values()
    )


def _method(resolved):
    if resolved["method"] == "exact":
        return "exact"
    return f"{resolved['n_permutations']} permutations"


def render(result):
    lines = [
        "# What `explain` costs, and its error",
        "",
        f"Command: `{result['command']}`; {result['cpu_model']} (flags: "
        f"{', '.join(result['cpu_flags'] or [])}); {result['threads']} torch "
        f"thread(s); `DeepFMClassifier(early_stopping=False, max_epochs="
        f"{result['epochs']})` at the default network (embedding 10, MLP "
        "256-128, float32); medians of "
        f"{result['rounds']} interleaved rounds; {result['date']}.",
        "",
        "A measurement's slowest round took up to "
        f"{_scatter(result):.1f} times its fastest.  The ratios are the "
        "medians [ranges] of the ratios within each round.",
        "",
        "`n_permutations='auto'` (the default): "
        + "; ".join(
            f"{table['table']} ({table['n_fields']} fields): " + _method(table["auto"])
            for table in result["tables"]
        )
        + ".",
        "",
        "## Cost: `explain(X)` / `predict_proba(X)`",
        "",
        "| table | fields | rows | predict_proba s | n_permutations | explain s "
        "| explain / predict_proba |",
        "|---|---|---|---|---|---|---|",
    ]
    for table in result["tables"]:
        medians = table["median_seconds"]
        for p, ratios in _round_ratios(table).items():
            low, middle, high = np.percentile(ratios, [0, 50, 100])
            lines.append(
                f"| {table['table']} | {table['n_fields']} | {table['rows']:,} | "
                f"{medians['predict_proba']:.3f} | {p} | "
                f"{medians['explain_' + p]:.3f} | {middle:.1f} "
                f"[{low:.1f}, {high:.1f}] |"
            )
    lines += [
        "",
        "## Error of the sampled deep part",
        "",
        "Per-field values of the permutation estimate against the reference, "
        "on the first rows explained: mean and largest absolute error (logit "
        "units), and the mean absolute error over the mean absolute value of "
        "the reference's per-field values and of its deep part's share (the "
        "only part that sampling changes).",
        "",
        "| table | fields | rows | reference | n_permutations | method | mean abs "
        "error | max abs error | / mean abs value | / mean abs deep share |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for table in result["tables"]:
        for p, error in table["errors"].items():
            lines.append(
                f"| {table['table']} | {table['n_fields']} | {table['error_rows']} | "
                f"{table['error_reference']} | {p} | {_method(error)} | "
                f"{error['mean_abs_error']:.2e} | {error['max_abs_error']:.2e} | "
                f"{error['relative_to_values']:.3f} | "
                f"{error['relative_to_deep']:.3f} |"
            )
    skipped = result.get("skipped") or {}
    for name, why in skipped.items():
        lines += ["", f"{name}: skipped ({why})."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", choices=TABLES, default=TABLES)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--permutations", type=int, nargs="+", default=[4])
    parser.add_argument("--error-rows", type=int, default=500)
    parser.add_argument(
        "--error-permutations", type=int, nargs="+", default=[2, 4, 8, 16]
    )
    parser.add_argument("--max-exact-fields", type=int, default=12)
    parser.add_argument("--reference-permutations", type=int, default=256)
    parser.add_argument(
        "--out", default=str(BENCH_DIR / "results" / "explain.json"), type=Path
    )
    parser.add_argument(
        "--render", type=Path, help="only re-render the Markdown of this JSON"
    )
    args = parser.parse_args(argv)
    if args.render:
        args.render.with_suffix(".md").write_text(
            render(json.loads(args.render.read_text()))
        )
        return
    torch.set_num_threads(args.threads)
    result = {
        "command": "python benchmarks/explain.py " + " ".join(argv or sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "threads": args.threads,
        "torch": torch.__version__,
        "git": git_state(),
        "epochs": args.epochs,
        "rounds": args.rounds,
        "tables": [],
        "skipped": {},
    }
    for name in args.tables:
        try:
            result["tables"].append(measure(name, args))
        except _data.DatasetUnavailable as exc:
            result["skipped"][name] = str(exc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(render(result))
    print(render(result))


if __name__ == "__main__":
    main()
