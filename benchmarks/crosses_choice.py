"""Research harness of the pairwise crosses (recipe_research.md, "Pairwise
crosses in the linear solve"): on each quality.py split, the default model
without crosses and the linear model over the fields and their crosses,
both finished as the recipe finishes them, with their test AUC and log loss
and the validation gain (with its standard error) that the recipe's choice
reads.

The crossed model is forced in whole (share 1, both margins -inf) and the
model as it was before it is kept aside, so one fit gives both; the gains
are the crossed model's alone (``crosses_mix.py`` scores the mix).

    python crosses_choice.py --datasets hr frappe avazu coupon movielens \\
        criteo adult telco --data-dir ../../shared/data \\
        --out results/crosses_choice.json
"""

import argparse
import copy
import json
import time
from pathlib import Path

import _tables
import numpy as np
import quality
from sklearn.metrics import log_loss, roc_auc_score

import sklearn_deepfm._base as base
from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm._linear import output_losses


def _forced_crosses(store):
    """Make every fit keep the crosses and leave the model it had before
    them in ``store['before']``."""
    real = base.BaseDeepFM._try_crosses

    def wrapped(self, task, train, valid, dataset, seed):
        before = copy.deepcopy(self)
        start = time.perf_counter()
        real(self, task, train, valid, dataset, seed)
        store["cross_seconds"] = time.perf_counter() - start
        if not before.interactions_kept_:
            before._solve_linear(task, dataset, None, C=before.linear_C_)
        store["before"] = before

    base.CROSSES_MARGIN = base.LINEAR_MARGIN = -np.inf
    base.BaseDeepFM._try_crosses = wrapped

    # the crossed model alone, not mixed in (crosses_mix.py scores the mix)
    def whole_share(self, task, current, crossed, valid, shared):
        y, weight = valid.y, valid.sample_weight
        alone = output_losses(task, current.reshape(crossed.shape), y, weight)
        gain = alone - output_losses(task, crossed, y, weight)
        return 1.0, float(gain.mean()), float(gain.std(ddof=1) / np.sqrt(gain.size))

    base.BaseDeepFM._crosses_share = whole_share


def run(name, data_dir, n_splits, store):
    table = _tables.load_table(name, data_dir)
    splits, _ = quality.split_indices(table, n_splits)
    for k, (train, test) in enumerate(splits):
        store.clear()
        model = DeepFMClassifier(random_state=k)
        start = time.perf_counter()
        model.fit(table.X.iloc[train], table.y[train])
        entry = {
            "table": name,
            "split": k,
            "fit_seconds": time.perf_counter() - start,
            "cross_seconds": store.get("cross_seconds"),
            "gain": getattr(model, "_crosses_gain", None),
        }
        for key, fitted in (("crosses", model), ("default", store.get("before"))):
            if fitted is None:  # no pair to cross
                continue
            proba = fitted.predict_proba(table.X.iloc[test])[:, 1]
            entry[key] = {
                "auc": roc_auc_score(table.y[test], proba),
                "log_loss": log_loss(table.y[test], proba),
                "interactions_kept": bool(fitted.interactions_kept_),
            }
        print(json.dumps(entry), flush=True)
        yield entry


def markdown(entries):
    lines = [
        "| table | default AUC | LR + crosses AUC | crosses better on test "
        "(AUC / log loss) | validation gain / standard error, by split | "
        "crossed solve s |",
        "|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(entry["table"] for entry in entries):
        rows = [e for e in entries if e["table"] == name and "crosses" in e]
        if not rows:
            continue
        mean = {
            key: np.mean([row[key]["auc"] for row in rows])
            for key in ("default", "crosses")
        }
        auc = sum(row["crosses"]["auc"] > row["default"]["auc"] for row in rows)
        loss = sum(
            row["crosses"]["log_loss"] < row["default"]["log_loss"] for row in rows
        )
        ratios = ", ".join(f"{row['gain'][0] / row['gain'][1]:+.1f}" for row in rows)
        seconds = [row["cross_seconds"] for row in rows]
        lines.append(
            f"| {name} | {mean['default']:.4f} | {mean['crosses']:.4f} | "
            f"{auc} / {loss} of {len(rows)} | {ratios} | "
            f"{min(seconds):.0f}-{max(seconds):.0f} |"
        )
    return "\n".join(lines) + "\n"


def arguments(doc, splits, out, flags=()):
    """The command line of a research harness (this one, crosses_mix.py,
    numbers_probe.py, quantities.py), with the boolean ``flags`` and an
    optional ``--reference`` file."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for flag in flags:
        parser.add_argument(flag, action="store_true")
    parser.add_argument("--reference")
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--splits", type=int, default=splits)
    parser.add_argument("--data-dir", default=str(_tables.DEFAULT_DATA_DIR))
    parser.add_argument("--out", default=out)
    return parser.parse_args()


def by_table(entries):
    """``(table, its entries)`` in the order the tables first appear."""
    for name in dict.fromkeys(entry["table"] for entry in entries):
        yield name, [entry for entry in entries if entry["table"] == name]


def write(args, entries, markdown):
    """The entries as JSON (with the environment) at ``args.out`` and their
    ``markdown`` table beside it."""
    out = Path(args.out)
    meta = quality.environment(
        argparse.Namespace(threads=None, splits=args.splits, params=None)
    )
    out.write_text(json.dumps({"meta": meta, "entries": entries}, indent=1))
    out.with_suffix(".md").write_text(markdown(entries))


def main():
    args = arguments(__doc__, 5, "results/crosses_choice.json")
    store = {}
    _forced_crosses(store)
    entries = [
        entry
        for name in args.datasets
        for entry in run(name, args.data_dir, args.splits, store)
    ]
    write(args, entries, markdown)


if __name__ == "__main__":
    main()
