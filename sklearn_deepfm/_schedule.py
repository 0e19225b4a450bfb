"""The default training recipe as one skorch callback.

1. Linear warm-up: the first epochs train only the first-order weights and
   the bias (the model is then a logistic or linear regression), until the
   validation loss stops improving or the epoch in which ``warmup_steps``
   optimizer steps have been taken ends.  The
   MLP's output layer starts at zero, so the full model begins exactly where
   the warm-up ended.
2. Full training with the BARS DeepFM recipe: after every epoch whose
   validation loss does not improve, the learning rate is multiplied by
   ``factor``; after ``patience`` such epochs training stops.  Epochs count
   only once the full model has taken ``min_steps`` optimizer steps.
3. The weights of the best epoch, warm-up epochs included, are restored.

Without a strong linear part the MLP over-fits within one or two epochs
while the first-order weights are still under-fitted; with it, the model
can only end better than the warm-up on the validation rows.
"""

import copy

from skorch.callbacks import Callback


class TrainingSchedule(Callback):
    """Linear warm-up, plateau decay, early stopping and best-weight restore.

    Parameters
    ----------
    patience : int, default=2
        Epochs without improvement of ``monitor`` before stopping.
    factor : float, default=0.1
        Multiplier of every learning rate after an epoch without improvement.
    warmup_steps : int, default=2000
        Upper bound on the optimizer steps of the linear warm-up (it ends with
        the epoch that reaches it); 0 disables it.
    monitor : str, default='valid_loss'
        History key to minimise.
    tol : float, default=1e-4
        Relative improvement that counts as one.
    min_steps : int, default=1000
        Optimizer steps of full training before an epoch without improvement
        counts: on small data an epoch is a few dozen steps, too few for the
        interactions to leave the flat start of training (on large data this
        is about one epoch).
    """

    def __init__(
        self,
        patience=2,
        factor=0.1,
        warmup_steps=2000,
        monitor="valid_loss",
        tol=1e-4,
        min_steps=1000,
    ):
        self.patience = patience
        self.factor = factor
        self.warmup_steps = warmup_steps
        self.monitor = monitor
        self.tol = tol
        self.min_steps = min_steps

    def on_train_begin(self, net, **kwargs):
        self.best_score_ = float("inf")
        self.best_epoch_ = 0
        self.best_state_ = None
        self.misses_ = 0
        self.warmup_steps_ = 0
        self.full_steps_ = 0
        self._set_phase(net, "linear" if self.warmup_steps > 0 else "full")

    def _set_phase(self, net, phase):
        self.phase_ = phase
        net.module_.linear_only = phase == "linear"

    def on_epoch_end(self, net, **kwargs):
        history = net.history
        history.record("phase", self.phase_)
        score = history[-1, self.monitor]
        improved = self.best_state_ is None or (
            score < self.best_score_ - self.tol * abs(self.best_score_)
        )
        if improved:
            self.best_score_ = score
            self.best_epoch_ = len(history)
            self.best_state_ = copy.deepcopy(net.module_.state_dict())
            self.misses_ = 0
        history.record("best_epoch", self.best_epoch_)
        if self.phase_ == "linear":
            self.warmup_steps_ += history[-1, "train_batch_count"]
            if not improved or self.warmup_steps_ >= self.warmup_steps:
                net.module_.load_state_dict(self.best_state_)
                self._set_phase(net, "full")
            return
        self.full_steps_ += history[-1, "train_batch_count"]
        if improved or self.full_steps_ < self.min_steps:
            return
        self.misses_ += 1
        for group in net.optimizer_.param_groups:
            group["lr"] *= self.factor
        if self.misses_ >= self.patience:
            raise KeyboardInterrupt  # skorch's way to end training cleanly

    def on_train_end(self, net, **kwargs):
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
        self._set_phase(net, "full")
