"""Research harness of the mix of the trained model with the crossed linear
model (recipe_research.md, "A mix of the trained and the crossed model"):
on each quality.py split, the test AUC and log loss of the model trained so
far (share 0), of the crossed linear model alone (share 1), of their even
mix (0.5), of the mix at the share of lowest validation loss, and of the
recipe's mix (the even mix unless another share's validation loss is lower
by a standard error).

One fit per split: the crossed model is forced in whole (as in
crosses_choice.py) and the model before it kept aside; the crossed model's
validation outputs are those of its fit on the training rows, as the recipe
reads them, and the shares are chosen over the recipe's CROSSES_SHARES by
the validation log loss (the keep margins, which can leave the trained
model alone, are not applied).

    python crosses_mix.py --datasets hr coupon avazu telco \\
        synthetic_interactions --splits 3 --data-dir ../../shared/data \\
        --out results/crosses_mix.json
"""

import json

import _tables
import crosses_choice
import numpy as np
import quality
from scipy.special import expit
from sklearn.metrics import log_loss, roc_auc_score

import sklearn_deepfm._base as base
from sklearn_deepfm import DeepFMClassifier


def _keep_validation_outputs(store):
    """Record the current and crossed models' validation outputs of every
    fit in ``store``."""
    real = base.BaseDeepFM._crosses_share

    def recorded(self, task, current, crossed, valid, shared):
        store["valid"] = (current.reshape(crossed.shape)[:, 0], crossed[:, 0], valid.y)
        return real(self, task, current, crossed, valid, shared)

    base.BaseDeepFM._crosses_share = recorded


def run(name, data_dir, n_splits, store):
    table = _tables.load_table(name, data_dir)
    splits, _ = quality.split_indices(table, 5)
    for k, (train, test) in enumerate(splits):
        if k >= n_splits:
            break
        store.clear()
        model = DeepFMClassifier(random_state=k)
        model.fit(table.X.iloc[train], table.y[train])
        if "before" not in store:  # no pair to cross
            continue
        current, crossed, y_valid = store["valid"]
        shares = base.CROSSES_SHARES
        rows = [_row_log_loss(y_valid, (1 - s) * current + s * crossed) for s in shares]
        best = int(np.argmin([row.mean() for row in rows]))
        lowest = float(shares[best])
        # the recipe: the even mix unless another share is better by a
        # standard error (BaseDeepFM._crosses_share)
        difference = rows[best] - rows[shares.index(0.5)]
        error = difference.std(ddof=1) / np.sqrt(difference.size)
        recipe = lowest if difference.mean() < -error else 0.5
        X_test, y_test = table.X.iloc[test], table.y[test]
        trained = store["before"].decision_function(X_test)
        whole = model.decision_function(X_test)
        entry = {"table": name, "split": k, "lowest_share": lowest}
        entry["recipe_share"] = recipe
        for label, share in (
            ("trained", 0.0),
            ("crossed", 1.0),
            ("even", 0.5),
            ("lowest", lowest),
            ("recipe", recipe),
        ):
            entry[label] = _scores(y_test, (1 - share) * trained + share * whole)
        print(json.dumps(entry), flush=True)
        yield entry


def _row_log_loss(y, logits):
    return np.logaddexp(0.0, logits) - y * logits


def _scores(y, logits):
    proba = expit(logits)
    return {"auc": roc_auc_score(y, proba), "log_loss": log_loss(y, proba)}


def markdown(entries):
    lines = [
        "| table | splits | shares: lowest loss / recipe | trained | crossed | "
        "even mix | lowest-loss mix | recipe's mix | recipe's mix - better of "
        "the two, by split | log loss, recipe's mix - trained |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rows in crosses_choice.by_table(entries):

        def mean(key, metric="auc", rows=rows):
            return np.mean([row[key][metric] for row in rows])

        better = ", ".join(
            f"{r['recipe']['auc'] - max(r['trained']['auc'], r['crossed']['auc']):+.4f}"
            for r in rows
        )
        shares = " ".join(
            f"{row['lowest_share']:.1f}/{row['recipe_share']:.1f}" for row in rows
        )
        aucs = " | ".join(
            f"{mean(key):.4f}" for key in ("trained", "crossed", "even", "lowest")
        )
        lines.append(
            f"| {name} | {len(rows)} | {shares} | {aucs} | {mean('recipe'):.4f} | "
            f"{better} | "
            f"{mean('recipe', 'log_loss') - mean('trained', 'log_loss'):+.4f} |"
        )
    return (
        "Mean test AUC over the splits; shares by split.\n\n" + "\n".join(lines) + "\n"
    )


def main():
    args = crosses_choice.arguments(__doc__, 3, "results/crosses_mix.json")
    store = {}
    crosses_choice._forced_crosses(store)
    _keep_validation_outputs(store)
    entries = [
        entry
        for name in args.datasets
        for entry in run(name, args.data_dir, args.splits, store)
    ]
    crosses_choice.write(args, entries, markdown)


if __name__ == "__main__":
    main()
