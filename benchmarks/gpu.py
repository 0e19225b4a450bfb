"""The same comparison on a CUDA device, torch-based contestants only.

    python benchmarks/gpu.py --out benchmarks/results/gpu.json

Accepts the options of ``benchmarks/run.py`` (default output
``benchmarks/results/gpu.json``).  Each contestant still runs in its own
process (with ``--threads`` CPU threads) and reports, besides the CPU-side
figures, the peak GPU memory allocated by torch.  Exits 0 with a "skipped"
message when torch sees no CUDA device.
"""

import sys

import run


def main(argv=None):
    info = run.cuda_info()
    if info is None:
        print("skipped: torch cannot be imported")
        return 0
    if not info["available"]:
        print("skipped: no CUDA (torch.cuda.is_available() is False)")
        return 0
    return run.main(argv, device="cuda")


if __name__ == "__main__":
    sys.exit(main())
