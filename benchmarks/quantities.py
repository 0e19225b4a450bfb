"""Whole-number columns read as categories and, where the test of
``sklearn_deepfm._quantities`` finds the order of their values informative,
also as numbers (recipe_research.md, fifth session): on each quality.py
split, the default DeepFMClassifier with that test ("default") against the
same fit with the test switched off ("categories alone").  With ``--codes``
the categorical columns are first replaced by their integer codes, as a
table of integer IDs arrives.  ``--reference FILE`` takes the "categories
alone" AUCs from FILE (numbers_probe.json's "as is" entries: the default
before the test, same splits and seeds) instead of refitting them.

    python quantities.py --datasets adult telco hr diabetes --splits 5 \\
        --data-dir ../../shared/data --reference results/numbers_probe.json \\
        --out results/quantities.json
"""

import dataclasses
import json

import _tables
import crosses_choice
import numpy as np
import quality
from sklearn.metrics import roc_auc_score

from sklearn_deepfm import DeepFMClassifier, _quantities


def as_codes(X):
    return X.apply(
        lambda column: (
            column.cat.codes.astype("int64") if column.dtype == "category" else column
        )
    )


def fit_auc(X, y, train, test, seed, test_on=True):
    saved = _quantities.MIN_CATEGORIES
    if not test_on:
        _quantities.MIN_CATEGORIES = np.inf  # no column is a candidate
    try:
        model = DeepFMClassifier(random_state=seed).fit(X.iloc[train], y[train])
    finally:
        _quantities.MIN_CATEGORIES = saved
    auc = roc_auc_score(y[test], model.predict_proba(X.iloc[test])[:, 1])
    numbers = [
        model.input_layout_.fields[field.number_of].names[0]
        for field in model.input_layout_.fields
        if field.number_of is not None
    ]
    return auc, numbers


def run(name, data_dir, n_splits, codes, reference):
    table = _tables.load_table(name, data_dir)
    if codes:
        table = dataclasses.replace(table, X=as_codes(table.X))
    splits, _ = quality.split_indices(table, 5)
    for k, (train, test) in enumerate(splits):
        if k >= n_splits:
            break
        entry = {"table": name, "split": k, "codes": codes}
        entry["default"], entry["numbers"] = fit_auc(table.X, table.y, train, test, k)
        if (name, k) in reference:
            entry["categories alone"] = reference[name, k]
            entry["categories alone from"] = "reference"
        else:
            entry["categories alone"], _ = fit_auc(
                table.X, table.y, train, test, k, test_on=False
            )
        print(json.dumps(entry), flush=True)
        yield entry


def markdown(entries):
    lines = [
        "| table | splits | AUC, categories alone | AUC, default | difference, "
        "by split | columns also read as numbers (splits) |",
        "|---|---|---|---|---|---|",
    ]
    for name, rows in crosses_choice.by_table(entries):
        alone = np.mean([row["categories alone"] for row in rows])
        default = np.mean([row["default"] for row in rows])
        by_split = ", ".join(
            f"{r['default'] - r['categories alone']:+.4f}" for r in rows
        )
        counts = {}
        for row in rows:
            for column in row["numbers"]:
                counts[column] = counts.get(column, 0) + 1
        chosen = ", ".join(f"{c} ({n})" for c, n in counts.items()) or "none"
        label = f"{name} (codes)" if rows[0]["codes"] else name
        lines.append(
            f"| {label} | {len(rows)} | {alone:.4f} | {default:.4f} "
            f"({default - alone:+.4f}) | {by_split} | {chosen} |"
        )
    return "\n".join(lines) + "\n"


def main():
    args = crosses_choice.arguments(
        __doc__, 5, "results/quantities.json", flags=("--codes",)
    )
    reference = {}
    if args.reference:
        for entry in json.load(open(args.reference))["entries"]:
            reference[entry["table"], entry["split"]] = entry["as is"]
    entries = [
        entry
        for name in args.datasets
        for entry in run(name, args.data_dir, args.splits, args.codes, reference)
    ]
    crosses_choice.write(args, entries, markdown)


if __name__ == "__main__":
    main()
