"""How many CPU threads torch uses while an estimator fits or predicts."""

import contextlib
import numbers

import torch
from joblib import cpu_count


def n_threads(n_jobs):
    """Threads for ``n_jobs`` by joblib's convention (None: torch's own
    setting; -1: all cores; -2: all but one), at least one."""
    if n_jobs is None:
        return torch.get_num_threads()
    # (set after fit, where no parameter check reads it: 0 was read as 1)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise ValueError(f"n_jobs must be an int or None, got {n_jobs!r}.")
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use 1 for one thread.")
    if n_jobs < 0:
        # joblib's count, as scikit-learn's: the CPUs this process may use
        # (affinity, cgroup quotas), not the host's
        return max(1, cpu_count() + 1 + n_jobs)
    return max(1, n_jobs)


@contextlib.contextmanager
def torch_threads(n_jobs):
    """Run the block with torch's CPU threads set by ``n_jobs``, and restore
    the global setting afterwards."""
    before = torch.get_num_threads()
    wanted = n_threads(n_jobs)
    if wanted != before:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
