"""Torch's global random state, used by one fit at a time.

Torch draws a new module's weights, and dropout its masks, from one
generator per device, global to the process.  A fit seeds it from
``random_state`` for its draws and restores it afterwards.  Fits running at
once in threads (``GridSearchCV(n_jobs=2)`` under joblib's threading
backend) seeded it in turn and drew from each other's streams: the same
``random_state`` gave another model (predictions moved by up to 0.04 where a
second thread reseeded torch during a fit).  Here every seeded block takes
one lock of the process, and the draws of training (dropout's masks) go on
from a stream of the fit's own (:class:`Stream`), so that training, where a
fit spends its time, holds the lock only for the forward passes of a model
with dropout.
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
    inside the block.
    """

    def __init__(self, device=None):
        self.devices = _cuda_devices(device)
        self._states = self._current()

    def _current(self):
        cuda = [torch.cuda.get_rng_state(device) for device in self.devices]
        return torch.get_rng_state(), cuda

    @contextlib.contextmanager
    def drawing(self):
        """Run the block's draws on this stream, alone among the blocks of
        this module in the process; torch's generators are restored after."""
        with _LOCK, torch.random.fork_rng(devices=self.devices):
            cpu, cuda = self._states
            torch.set_rng_state(cpu)
            for device, state in zip(self.devices, cuda, strict=True):
                torch.cuda.set_rng_state(state, device)
            try:
                yield
            finally:
                self._states = self._current()


def stream_from(seed, device=None):
    """A fit's own :class:`Stream`, starting where ``seed`` starts torch's."""
    with seeded(seed, device):
        return Stream(device)
