"""Torch's random draws of a fit: its own, whatever other threads draw.

Torch draws a new module's weights from one generator per device, global to
the process.  A fit seeds it from ``random_state`` for those draws and
restores it afterwards.  Fits running at once in threads
(``GridSearchCV(n_jobs=2)`` under joblib's threading backend) seeded it in
turn and drew from each other's streams: the same ``random_state`` gave
another model (predictions moved by up to 0.04 where a second thread
reseeded torch during a fit).  Here every seeded block takes one lock of the
process, and the draws of training (dropout's masks) come from a generator
of the fit's own (:class:`Stream`), which no other thread draws from: the
global one, swapped for the fit's stream during each forward pass, gave a
user's thread the fit's draws and the fit the user's (30 of 54 seeded draws
of a thread beside a fit with dropout differed).
"""

import contextlib
import os
import threading

import torch

_LOCK = threading.RLock()


def _new_lock():
    """A child forked while a thread of its parent held the lock has no such
    thread to release it (one in ten children of a process training with
    dropout in a thread hung for good)."""
    global _LOCK
    _LOCK = threading.RLock()


os.register_at_fork(after_in_child=_new_lock)


def _cuda_devices(device):
    """The CUDA devices whose generators a module on ``device`` draws from."""
    if device is None or torch.device(device).type != "cuda":
        return []
    return [torch.device(device).index or 0]


@contextlib.contextmanager
def seeded(seed, device=None):
    """Run the block with torch's generators (the CPU's, and that of
    ``device`` where it is a CUDA device) seeded with ``seed``, alone among
    the blocks of this module in the process, and restore them afterwards.
    ``seed`` None leaves them where they stand (for draws that are thrown
    away)."""
    with _LOCK, torch.random.fork_rng(devices=_cuda_devices(device)):
        if seed is not None:
            torch.manual_seed(int(seed))
        yield


class Stream:
    """A fit's own random stream for the draws of its training.

    Made inside :func:`seeded`, it goes on from where the block's draws
    stopped: a training that draws from it draws what it drew when it ran
    on torch's global generator inside the block.
    """

    def __init__(self, device=None):
        device = torch.device("cpu") if device is None else torch.device(device)
        if device.type == "cuda":
            index = device.index or 0
            device = torch.device("cuda", index)
            state = torch.cuda.get_rng_state(index)
        else:
            device = torch.device("cpu")
            state = torch.get_rng_state()
        self.generator = torch.Generator(device=device)
        self.generator.set_state(state)

    @contextlib.contextmanager
    def drawing(self):
        """Run the block's draws (:func:`generator` in this thread) on this
        stream; torch's global generators are not touched."""
        previous = getattr(_DRAWING, "generator", None)
        _DRAWING.generator = self.generator
        try:
            yield
        finally:
            _DRAWING.generator = previous


# the generator of the Stream drawing in each thread
_DRAWING = threading.local()


def generator():
    """The generator of the :class:`Stream` drawing in this thread, or None
    (draws then come from torch's global generator)."""
    return getattr(_DRAWING, "generator", None)


def stream_from(seed, device=None):
    """A fit's own :class:`Stream`, starting where ``seed`` starts torch's."""
    with seeded(seed, device):
        return Stream(device)
