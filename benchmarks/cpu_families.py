"""One section per processor family: which speed claims hold where.

Reads result files of ``run.py`` (one per processor it was run on) and
writes, for each, the processor, its ISA flags, the commit and command, and
for the synthetic sets our throughput against the fastest DeepFM peer, with
each target of the CPU-speed issue marked met or not::

    python benchmarks/cpu_families.py benchmarks/results/cpu.json \\
        benchmarks/results/cpu_amd_zen5.json --out benchmarks/results/cpu_families.md
"""

import argparse
import json
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from run import DEEPFM_PEERS, ratio_lines  # noqa: E402

# (data set, our contestant, measurement, better, target)
TARGETS = [
    ("medium", "ours", "train_rows_per_s", max, 1.5),
    ("wide", "ours", "train_rows_per_s", max, 2.5),
    ("medium", "ours", "predict_rows_per_s", max, 2.0),
    ("wide", "ours", "predict_rows_per_s", max, 2.0),
    ("wide", "ours", "peak_rss_mib", min, 1.0),
    ("medium", "ours_bf16", "train_rows_per_s", max, 2.5),
    ("wide", "ours_bf16", "train_rows_per_s", max, 2.5),
    ("medium", "ours_bf16", "predict_rows_per_s", max, 3.0),
    ("wide", "ours_bf16", "predict_rows_per_s", max, 3.0),
]
LABELS = {
    "train_rows_per_s": "training",
    "predict_rows_per_s": "prediction",
    "peak_rss_mib": "peak RSS",
}


def _family(meta):
    flags = meta.get("cpu_flags")
    if flags is None:
        return f"{meta['cpu']} (ISA flags not recorded by this run)"
    native_bf16 = [f for f in ("amx_bf16", "amx_tile", "avx512_bf16") if f in flags]
    widest = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    bf16 = ", ".join(native_bf16) if native_bf16 else "no native bfloat16"
    return f"{meta['cpu']}: {widest}, {bf16}"


def _rows(doc, dataset):
    return [r for r in doc["results"] if r["dataset"] == dataset]


def target_lines(doc):
    lines = [
        "| set | contestant | measure | ours / fastest peer | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for dataset, name, key, better, target in TARGETS:
        ok = {r["contestant"]: r for r in _rows(doc, dataset) if r["status"] == "ok"}
        peers = [p for p in DEEPFM_PEERS if p in ok]
        if name not in ok or not peers:
            continue
        best = better(peers, key=lambda peer: ok[peer][key])
        ratio = ok[name][key] / ok[best][key]
        met = ratio >= target if better is max else ratio <= target
        sign = ">=" if better is max else "<="
        lines.append(
            f"| {dataset} | {name} | {LABELS[key]} | {ratio:.2f}x {best} "
            f"| {sign} {target}x | {'yes' if met else '**no**'} |"
        )
    return lines


def section(path):
    doc = json.loads(Path(path).read_text())
    meta = doc["meta"]
    git = meta.get("git") or {}
    commit = (git.get("commit") or "unknown")[:7]
    fresh = "" if meta.get("torch_warmup", True) else " (fresh processes: --no-warmup)"
    lines = [
        f"## {_family(meta)}{fresh}",
        "",
        f"- Results: `{Path(path).as_posix()}` (tables in the `.md` beside it)",
        f"- Written: {meta['date']}, last updated {(meta.get('updates') or ['-'])[-1]}"
        f"; commit {commit}" + (" (uncommitted changes)" if git.get("dirty") else ""),
        f"- Flags: {', '.join(meta['cpu_flags']) if meta.get('cpu_flags') else '-'}",
        f"- {meta['logical_cpus']} logical CPUs, {meta['threads']} threads "
        "per contestant",
        f"- Command (of the last update): `{meta['command']}`",
        "",
        *target_lines(doc),
        "",
    ]
    for dataset in ("medium", "wide"):
        rows = _rows(doc, dataset)
        if rows:
            lines += [f"**{dataset}**", "", *ratio_lines(rows)]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="run.py result JSON files")
    parser.add_argument(
        "--out", type=Path, default=BENCH_DIR / "results" / "cpu_families.md"
    )
    args = parser.parse_args(argv)
    lines = [
        "# CPU speed by processor family",
        "",
        "Our DeepFM against the fastest DeepFM peer on the synthetic sets of "
        "`run.py` (medians of the rounds each file holds; ranges of the "
        "per-round ratios in brackets). Targets: float32 training >= 1.5x "
        "(medium) and >= 2.5x (wide), prediction >= 2x, wide peak RSS no "
        "higher than the lowest peer's; bfloat16 (`ours_bf16`, what "
        "`mixed_precision='auto'` picks on CPUs with a native bfloat16 dot "
        "product) >= 2.5x training and >= 3x prediction. A file run at an "
        "older commit measures the code of that commit.",
        "",
    ]
    for path in args.results:
        lines += section(path)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
