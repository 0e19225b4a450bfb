"""Keeping the C allocator from handing memory back to the system between
batches.

A training step and a prediction batch free what they allocated, and the
next batch allocates the same sizes again.  glibc's malloc serves a request
from its heap once the request is below its mmap threshold, and gives the
heap's free top back to the system once that exceeds its trim threshold
(twice the mmap threshold).  The mmap threshold starts at 128 KiB and rises
to the size of any mmapped block freed, up to 32 MiB on 64-bit systems.
While it stands at the size of one activation, a batch's live activations,
freed, take the heap's top past the trim threshold: the heap shrinks and
grows again every batch, and every page of it is faulted in anew.  Whether
a process is in that state depends on what it happened to free before.

:func:`retain_freed_memory` puts the process in the other state by freeing
one untouched mmapped block at the cap, as any program does that frees a
buffer of that size: the heap then keeps up to 62 MiB of freed memory
instead of returning it.  Measured in fresh processes on an AMD EPYC Zen 5
(2 threads; the benchmark network, 400-400-400, on the ``medium`` set):

* a prediction of 200k rows, after a fit (4 pairs): 152,600-155,800 minor
  page faults and 225k-253k rows/s before, 6,900 and 307k-356k rows/s with
  it (``benchmarks/README.md``, "Prediction, run by run");
* a one-epoch fit of 400k rows in 2048-row batches (2 pairs): 586k-629k
  faults and 43k-50k rows/s before, 30k-32k and 63k-71k rows/s with it;
  with PyTorch's MKL products instead of oneDNN, 225k-277k faults before
  and 26k-27k with it, at the same speed (42k-46k rows/s);
* the default recipe on the HR table (4 pairs): 37k-40k faults before,
  18k-19k with it, fit times within the machine's noise (1.5-2.3 s).
"""

import functools
import platform

import torch

# glibc's largest dynamic mmap threshold on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX)
_MMAP_THRESHOLD_MAX = 32 << 20
# below the cap, with room for the allocator's alignment and chunk header
_BLOCK_BYTES = _MMAP_THRESHOLD_MAX - (1 << 20)


def retain_freed_memory():
    """Let glibc keep the memory a batch frees for the next batch (see the
    module's docstring); a no-op on other C libraries.

    The thresholds never fall again, so only the first call in a process
    changes anything; a later one takes the block from the heap and costs
    about a microsecond, which is why every fit and prediction can ask."""
    if not _glibc():
        return
    # never touched: address space only, mapped and unmapped at once
    block = torch.empty(_BLOCK_BYTES, dtype=torch.uint8)
    del block


@functools.cache
def _glibc():
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
