"""DeepFM in two ``quality.py`` results files, paired by data set and split.

For the data sets both files hold, the mean test AUC and log loss of the
DeepFM entries in each, the mean paired difference (second minus first) and
the worst split's AUC difference. Used to compare settings, e.g. the defaults
against ``--params '{"mixed_precision": "auto"}'``.

Run::

    cd benchmarks/results
    python ../compare_quality.py quality.json quality_bf16.json \\
        --out quality_bf16_vs_float32.md
"""

import argparse
import json
from pathlib import Path

import numpy as np


def deepfm_splits(path):
    doc = json.loads(Path(path).read_text())
    return doc["meta"], {
        result["dataset"]: {
            split["split"]: split["deepfm"] for split in result["splits"]
        }
        for result in doc["results"]
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    (meta_a, a), (meta_b, b) = deepfm_splits(args.first), deepfm_splits(args.second)
    lines = [
        "# DeepFM in two quality runs, paired by split",
        "",
        f"- first: `{args.first}`: `{meta_a.get('command')}` ({meta_a.get('cpu')})",
        f"- second: `{args.second}`: `{meta_b.get('command')}` ({meta_b.get('cpu')})",
        "",
        "| data set | splits | AUC first | AUC second | second - first (worst split) "
        "| log loss first | log loss second | second - first |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for dataset in a:
        if dataset not in b:
            continue
        splits = sorted(set(a[dataset]) & set(b[dataset]))
        auc = np.array([[a[dataset][k]["auc"], b[dataset][k]["auc"]] for k in splits])
        loss = np.array(
            [[a[dataset][k]["logloss"], b[dataset][k]["logloss"]] for k in splits]
        )
        difference = auc[:, 1] - auc[:, 0]
        lines.append(
            f"| {dataset} | {len(splits)} | {auc[:, 0].mean():.4f} | "
            f"{auc[:, 1].mean():.4f} | {difference.mean():+.4f} "
            f"({difference.min():+.4f}) | {loss[:, 0].mean():.4f} | "
            f"{loss[:, 1].mean():.4f} | {(loss[:, 1] - loss[:, 0]).mean():+.4f} |"
        )
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
