"""What the processor offers, as the deep part's matrix products need to
know: its x86 vendor and whether it has a native bfloat16 dot product."""

import platform

import torch


def _cpuinfo_values(key):
    """The values of the ``key : value`` lines of Linux's /proc/cpuinfo (one
    per core for most keys); empty where the file cannot be read."""
    try:
        with open("/proc/cpuinfo") as info:
            return [
                line.split(":", 1)[1].strip()
                for line in info
                if line.startswith(key) and ":" in line
            ]
    except OSError:
        return []


def x86_vendor():
    """The x86 vendor string (``GenuineIntel``, ``AuthenticAMD``, ...), or
    an empty string when it cannot be read."""
    values = _cpuinfo_values("vendor_id")
    if values:
        return values[0]
    # Windows names the vendor in the processor string
    processor = platform.processor()
    for vendor in ("GenuineIntel", "AuthenticAMD", "HygonGenuine"):
        if vendor in processor:
            return vendor
    return ""


def native_bfloat16():
    """Whether this CPU has a native bfloat16 dot-product instruction, on
    which the deep part's bfloat16 matrix products run faster than float32:
    AMX tiles or AVX512_BF16 on x86 (``vdpbf16ps``), the BF16 extension on
    ARM.  Elsewhere bfloat16 is emulated, and much slower."""
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        check = getattr(torch.cpu, probe, None)
        if check is not None and check():
            return True
    return _arm_bfloat16()


def _arm_bfloat16():
    """Whether an ARM CPU lists the BF16 extension (Linux /proc/cpuinfo)."""
    if platform.machine().lower() not in ("aarch64", "arm64"):
        return False
    return any("bf16" in features.split() for features in _cpuinfo_values("Features"))
