"""Warnings silenced while a call of the library runs, safely across threads.

``warnings.catch_warnings`` saves the process's whole list of filters and
puts it back on leaving: two blocks that overlap in two threads (fits under
joblib's threading backend) put back each other's filter, and one stayed
behind for good (a user's own LogisticRegression no longer warned that it
had not converged).  Here the first call that needs a filter adds it and
the last one to leave removes that entry, leaving the rest of the list as
it finds it.  While it is there, the filter holds for the whole process (as
any warnings filter does before Python 3.14's context-local ones).
"""

import contextlib
import re
import threading
import warnings

_lock = threading.Lock()
_users = {}  # (message, category) -> [number of calls inside, our entry]


@contextlib.contextmanager
def silenced(category, message=""):
    """Ignore warnings of ``category`` (whose text matches ``message``)
    inside the block."""
    key = (message, category)
    with _lock:
        users = _users.setdefault(key, [0, None])
        if users[0] == 0:
            # an entry of our own, put first as filterwarnings puts one; it
            # would have moved an equal filter of the user's to the front,
            # and left it there (ahead of the user's later filters)
            pattern = re.compile(message, re.I) if message else None
            users[1] = ("ignore", pattern, category, None, 0)
            warnings.filters.insert(0, users[1])
            _mutated()
        users[0] += 1
    try:
        yield
    finally:
        with _lock:
            users[0] -= 1
            if users[0] == 0:
                entry, users[1] = users[1], None
                kept = [item for item in warnings.filters if item is not entry]
                if len(kept) < len(warnings.filters):
                    warnings.filters[:] = kept
                    _mutated()


def _mutated():
    """Tell the warnings machinery its filters changed (as filterwarnings
    does), so that no warning is judged by a cached decision."""
    mutated = getattr(warnings, "_filters_mutated", None)
    if mutated is not None:
        mutated()
