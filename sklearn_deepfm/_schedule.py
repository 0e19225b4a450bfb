"""Early stopping of the default recipe as one skorch callback.

The first-order part is solved beforehand (:mod:`~sklearn_deepfm._linear`)
and stays fixed; the MLP's output layer starts at zero and the embeddings
near zero, so training starts from the linear model.  Then:

1. after every epoch whose validation loss does not improve, every learning
   rate is multiplied by ``factor``; after ``patience`` such epochs training
   stops, and at once after an epoch whose validation loss is worse than the
   best epoch's by more than one standard error of the per-row difference
   (the rule of the recipe's other choices);
2. the weights of the best epoch are restored.

Whether the restored interactions are kept at all is decided afterwards on
the same validation rows (:meth:`~sklearn_deepfm._net.DeepFMNet.keep_interactions`).

Training ends by :class:`StopTraining`, not by skorch's ``KeyboardInterrupt``:
the net lets a ``KeyboardInterrupt`` (the user's Ctrl-C) reach the caller.
"""

import copy

from skorch.callbacks import Callback


class StopTraining(Exception):
    """Raised by a callback's ``on_epoch_end`` to end training after this
    epoch; the net catches it and ends training as after the last epoch."""


class TrainingSchedule(Callback):
    """Plateau decay, early stopping and best-weight restore.

    Parameters
    ----------
    patience : int, default=2
        Epochs without improvement of ``monitor`` before stopping.
    factor : float, default=0.1
        Multiplier of every learning rate after an epoch without improvement.
    monitor : str, default='valid_loss'
        History key to minimise.
    tol : float, default=1e-4
        Relative improvement that counts as one.

    Notes
    -----
    Why a clear rise stops at once.  In 39 default fits (quality.py splits
    of nine tables; the rises, in standard errors, in benchmarks/results/
    recipe_research.md, seventh session) no epoch after such a rise was
    better than the best one, and the misses that training recovered from
    were all within 0.8 standard errors (on the synthetic table, Coupon,
    HR, Telco and Adult).  Stopping at every miss (``patience=1``) ended
    those too: -0.0039 test AUC on the synthetic table, -0.0010 on Coupon.
    """

    def __init__(self, patience=2, factor=0.1, monitor="valid_loss", tol=1e-4):
        self.patience = patience
        self.factor = factor
        self.monitor = monitor
        self.tol = tol

    def on_train_begin(self, net, **kwargs):
        self.best_score_ = float("inf")
        self.best_epoch_ = 0
        self.best_state_ = None
        self.best_losses_ = None
        self.misses_ = 0

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        history = net.history
        score = history[-1, self.monitor]
        losses = None if dataset_valid is None else net.valid_losses_
        improved = self.best_state_ is None or (
            score < self.best_score_ - self.tol * abs(self.best_score_)
        )
        if improved:
            self.best_score_ = score
            self.best_epoch_ = len(history)
            self.best_state_ = copy.deepcopy(net.module_.state_dict())
            self.best_losses_ = losses
            self.misses_ = 0
        history.record("best_epoch", self.best_epoch_)
        if improved:
            return
        if losses is not None and self.best_losses_ is not None:
            rise, error = net.mean_and_error(losses - self.best_losses_)
            if rise > error:
                raise StopTraining
        self.misses_ += 1
        for group in net.optimizer_.param_groups:
            group["lr"] *= self.factor
        if self.misses_ >= self.patience:
            raise StopTraining

    def on_train_end(self, net, **kwargs):
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
        self.best_state_ = None  # a fitted model keeps one copy of its weights
        self.best_losses_ = None
