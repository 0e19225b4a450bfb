"""How far predictions move with the processor and the export, in float32
and in bfloat16 (``mixed_precision=True``).

On each real table (``benchmarks/_tables.py``; split 0 of ``quality.py``:
80/20, stratified, seed 0) two ``DeepFMClassifier`` are fitted with the
library's defaults on the DataFrame, one per precision. Their test
probabilities are then computed:

* in this process (the reference);
* in fresh processes whose kernels are held to a smaller instruction set,
  standing in for other processor families: oneDNN (the bfloat16 products)
  by ``ONEDNN_MAX_CPU_ISA`` and MKL (the float32 products on Intel) by
  ``MKL_ENABLE_INSTRUCTIONS``: AVX512_CORE_BF16 is a processor with
  AVX512_BF16 and no AMX (AMD Zen 4 and 5), AVX512_CORE one without
  bfloat16 instructions, AVX2 an older or smaller x86 processor;
* by the TorchScript export and, when skl2onnx and onnxruntime are
  installed, by the ONNX graph in onnxruntime (both float32 by design).

The report gives, for each, the largest and the mean ``|p - p_reference|``
and the share of rows whose predicted class differs.

Run::

    python benchmarks/precision_agreement.py \\
        --out benchmarks/results/precision_agreement.json
"""

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

# Instruction sets other processors stand for, as environment settings.
KERNEL_LIMITS = {
    "AVX512_CORE_BF16 (no AMX)": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"},
    "AVX512_CORE (no bfloat16 instructions)": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}
PRECISIONS = {"float32": False, "bfloat16": True}


def predict_saved(folder):
    """Probabilities of the saved models on the saved rows, into ``folder``
    (run in a fresh process: the kernel limits apply from the start)."""
    folder = Path(folder)
    with open(folder / "X_test.pkl", "rb") as f:
        X_test = pickle.load(f)
    probabilities = {}
    for name in PRECISIONS:
        with open(folder / f"{name}.pkl", "rb") as f:
            model = pickle.load(f)
        probabilities[name] = model.predict_proba(X_test)[:, 1]
    np.savez(folder / "predicted.npz", **probabilities)


def compare(p, reference):
    difference = np.abs(p - reference)
    return {
        "max_abs": float(difference.max()),
        "mean_abs": float(difference.mean()),
        "class_changes": float(np.mean((p > 0.5) != (reference > 0.5))),
    }


def exported(model, X_test):
    """Probabilities of the TorchScript export and of the ONNX graph."""
    import torch

    from sklearn_deepfm.export import encode, to_torchscript

    found = {}
    script = to_torchscript(model)
    with torch.inference_mode():
        logits = script(**encode(model, X_test)).double().numpy().reshape(-1)
    found["TorchScript"] = 1 / (1 + np.exp(-logits))
    try:
        import onnxruntime as ort
        from skl2onnx import to_onnx

        import sklearn_deepfm.onnx  # noqa: F401  (registers the converters)
    except ImportError:
        return found
    from sklearn_deepfm.onnx import onnx_inputs

    try:
        onx = to_onnx(model, X_test[:1], options={"zipmap": False})
    except RuntimeError as error:  # e.g. a column that needs a string input
        found["ONNX not converted"] = str(error)
        return found
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    _, proba = session.run(None, onnx_inputs(X_test, session))
    found["ONNX (onnxruntime)"] = np.asarray(proba, dtype=np.float64)[:, 1]
    return found


def markdown(meta, tables):
    lines = [
        "# How far predictions move with the processor and the export",
        "",
        f"Command: `{meta['command']}`; {meta['cpu']} (flags: "
        f"{', '.join(meta['cpu_flags'])}); {meta['threads']} torch threads; "
        "library defaults, split 0 of `quality.py`. Reference: the model's own "
        "`predict_proba` in this process on this processor's full instruction "
        "set; class changes: rows on the other side of 0.5.",
    ]
    for dataset, entry in tables.items():
        aucs = ", ".join(f"{name} {auc:.4f}" for name, auc in entry["auc"].items())
        lines += [
            "",
            f"## {dataset} ({entry['n_test']:,} test rows; test AUC {aucs})",
            "",
            "| predicted by | float32 max abs diff | float32 mean abs diff | "
            "float32 class changes | bfloat16 max abs diff | bfloat16 mean abs "
            "diff | bfloat16 class changes |",
            "|---|---|---|---|---|---|---|",
        ]
        for where, row in entry["table"].items():
            cells = [where]
            for name in PRECISIONS:
                found = row.get(name)
                if found is None:
                    cells += ["", "", ""]
                    continue
                cells += [
                    f"{found['max_abs']:.1e}",
                    f"{found['mean_abs']:.1e}",
                    f"{100 * found['class_changes']:.3f}%",
                ]
            lines.append("| " + " | ".join(cells) + " |")
        for where, note in entry.get("notes", {}).items():
            lines += ["", f"{where}: {note}"]
    return "\n".join(lines) + "\n"


def measure(table, threads):
    """The agreement table of one data set."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit

    from sklearn_deepfm import DeepFMClassifier

    splitter = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    train, test = next(splitter.split(table.X, table.y))
    X_train, y_train = table.X.iloc[train], table.y[train]
    X_test, y_test = table.X.iloc[test], table.y[test]
    found = {"this process": {}}
    auc = {}
    notes = {}
    with tempfile.TemporaryDirectory() as folder:
        with open(Path(folder) / "X_test.pkl", "wb") as f:
            pickle.dump(X_test, f)
        reference = {}
        for name, flag in PRECISIONS.items():
            model = DeepFMClassifier(mixed_precision=flag, random_state=0)
            model.fit(X_train, y_train)
            with open(Path(folder) / f"{name}.pkl", "wb") as f:
                pickle.dump(model, f)
            reference[name] = model.predict_proba(X_test)[:, 1]
            auc[name] = float(roc_auc_score(y_test, reference[name]))
            found["this process"][name] = compare(reference[name], reference[name])
            for where, p in exported(model, X_test).items():
                if isinstance(p, str):
                    notes[where] = p
                    continue
                found.setdefault(where, {})[name] = compare(p, reference[name])
        for where, limits in KERNEL_LIMITS.items():
            subprocess.run(
                [sys.executable, __file__, "--predict-saved", folder]
                + ["--threads", str(threads)],
                env={**os.environ, **limits},
                check=True,
            )
            predicted = np.load(Path(folder) / "predicted.npz")
            found[f"fresh process, kernels held to {where}"] = {
                name: compare(predicted[name], reference[name]) for name in PRECISIONS
            }
    return {"n_test": int(len(test)), "auc": auc, "table": found, "notes": notes}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["movielens", "criteo"])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--out", default=str(BENCH_DIR / "results" / "precision_agreement.json")
    )
    parser.add_argument("--predict-saved", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.predict_saved:
        predict_saved(args.predict_saved)
        return
    import _tables
    from run import cpu_flags, cpu_model, git_state, package_versions

    tables = {}
    for name in args.datasets:
        options = {} if args.data_dir is None else {"data_dir": args.data_dir}
        tables[name] = measure(_tables.load_table(name, **options), args.threads)
        print(name, json.dumps(tables[name]["auc"]), flush=True)
    meta = {
        "command": "python "
        + " ".join(["benchmarks/precision_agreement.py", *sys.argv[1:]]),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "threads": args.threads,
        "kernel_limits": KERNEL_LIMITS,
        "versions": package_versions(),
        "git": git_state(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "tables": tables}, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(meta, tables))
    print(markdown(meta, tables))


if __name__ == "__main__":
    main()
