"""Research probe for whole-number columns (recipe_research.md, fourth
session, 10): on each quality.py split, the default DeepFMClassifier on the
table as it is, and on the table with every non-negative whole-number
column (which ``categorical_features='auto'`` reads as categories) also
given as a number: a copy shifted by 0.5, which 'auto' reads as numeric.
fnlwgt (Adult; a value per row or nearly) is left out.  With ``--codes``
the categorical columns are first replaced by their integer codes, as a
table of integer IDs arrives: then every column gets a companion number.

    python numbers_probe.py --datasets adult hr telco diabetes --splits 3 \\
        --data-dir ../../shared/data --out results/numbers_probe.json
"""

import dataclasses
import json

import _tables
import crosses_choice
import numpy as np
import quality
from sklearn.metrics import roc_auc_score

from sklearn_deepfm import DeepFMClassifier


def whole_numbers(X):
    """The columns 'auto' reads as categories from numbers."""
    return [
        column
        for column in X.columns
        if X[column].dtype.kind in "fiu"
        and column != "fnlwgt"
        and (X[column].dropna() >= 0).all()
        and (X[column].dropna() % 1 == 0).all()
    ]


def run(name, data_dir, n_splits, codes=False):
    table = _tables.load_table(name, data_dir)
    if codes:
        X = table.X.apply(
            lambda column: (
                column.cat.codes.astype("int64")
                if column.dtype == "category"
                else column
            )
        )
        table = dataclasses.replace(table, X=X)
    columns = whole_numbers(table.X)

    def with_numbers(X):
        return X.assign(**{f"{column} value": X[column] + 0.5 for column in columns})

    splits, _ = quality.split_indices(table, 5)
    for k, (train, test) in enumerate(splits):
        if k >= n_splits:
            break
        entry = {"table": name, "split": k, "columns": columns}
        for label, form in (("as is", lambda X: X), ("with numbers", with_numbers)):
            model = DeepFMClassifier(random_state=k)
            model.fit(form(table.X.iloc[train]), table.y[train])
            proba = model.predict_proba(form(table.X.iloc[test]))[:, 1]
            entry[label] = roc_auc_score(table.y[test], proba)
        print(json.dumps(entry), flush=True)
        yield entry


def markdown(entries):
    lines = [
        "| table | splits | whole-number columns | AUC as is | AUC with numbers "
        "| difference, by split |",
        "|---|---|---|---|---|---|",
    ]
    for name, rows in crosses_choice.by_table(entries):
        plain = np.mean([row["as is"] for row in rows])
        numbers = np.mean([row["with numbers"] for row in rows])
        by_split = ", ".join(f"{r['with numbers'] - r['as is']:+.4f}" for r in rows)
        lines.append(
            f"| {name} | {len(rows)} | {', '.join(rows[0]['columns'])} | "
            f"{plain:.4f} | {numbers:.4f} | {by_split} |"
        )
    return "\n".join(lines) + "\n"


def main():
    args = crosses_choice.arguments(
        __doc__, 3, "results/numbers_probe.json", flags=("--codes",)
    )
    entries = [
        entry
        for name in args.datasets
        for entry in run(name, args.data_dir, args.splits, args.codes)
    ]
    crosses_choice.write(args, entries, markdown)


if __name__ == "__main__":
    main()
