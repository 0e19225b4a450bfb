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
import threading
import warnings

_lock = threading.Lock()
_users = {}  # (message, category) -> [number of calls inside, entry added]


@contextlib.contextmanager
def silenced(category, message=""):
    """Ignore warnings of ``category`` (whose text matches ``message``)
    inside the block."""
    key = (message, category)
    with _lock:
        users = _users.setdefault(key, [0, None])
        if users[0] == 0:
            before = list(warnings.filters)
            warnings.filterwarnings("ignore", message=message, category=category)
            added = warnings.filters[0]
            # a filter the user had set already is theirs to keep
            users[1] = None if added in before else added
        users[0] += 1
    try:
        yield
    finally:
        with _lock:
            users[0] -= 1
            if users[0] == 0 and users[1] is not None:
                entry, users[1] = users[1], None
                kept = [item for item in warnings.filters if item is not entry]
                if len(kept) < len(warnings.filters):
                    warnings.filters[:] = kept
                    mutated = getattr(warnings, "_filters_mutated", None)
                    if mutated is not None:
                        mutated()
