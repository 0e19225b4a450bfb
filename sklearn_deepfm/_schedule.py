"""Early stopping of the default recipe as one skorch callback.

The first-order part is solved beforehand (:mod:`~sklearn_deepfm._linear`)
and stays fixed; the MLP's output layer starts at zero and the embeddings
near zero, so training starts from the linear model.  Then:

1. the deep part's weights are averaged over about half an epoch's steps
   (an exponential moving average); each epoch's validation pass, the
   decisions below and the weights kept are the average's, and training
   goes on from the weights of the last step;
2. after every epoch whose validation loss does not improve, every learning
   rate is multiplied by ``factor``; after ``patience`` such epochs training
   stops, and at once after an epoch whose validation loss is worse than the
   best epoch's by more than one standard error of the per-row difference
   (the rule of the recipe's other choices); but while no epoch has beaten
   the start (the linear model) by one standard error, the first
   ``GRACE_EPOCHS`` epochs neither cut nor stop, as the deep part starts
   flat;
3. the weights of the best epoch are restored.

:class:`ReplaySchedule` then trains the deep part again on every row,
validation rows included, along the same course: the best epoch's number
of epochs, the learning-rate cuts after the same epochs, the same average.

Whether the restored interactions are kept at all is decided afterwards on
the same validation rows (:meth:`~sklearn_deepfm._net.DeepFMNet.keep_interactions`).

Training ends by :class:`StopTraining`, not by skorch's ``KeyboardInterrupt``:
the net lets a ``KeyboardInterrupt`` (the user's Ctrl-C) reach the caller.
"""

import copy

import torch
from skorch.callbacks import Callback

# The deep part's weights are averaged over about half an epoch's steps (an
# exponential moving average of decay 1 - 1 / (steps per epoch / 2),
# debiased as Adam's moments are, so that the starting weights carry no
# weight).  Measured (benchmarks/results/recipe_research.md, eleventh
# session; quality.py's five splits, test AUC against no average, paired by
# split): Coupon +0.0026 (and +0.0024 +- 0.0006 over 20 more seeded fits),
# the synthetic interaction table +0.0030 (one split; +0.0002 over 20 more),
# MovieLens +0.0004, HR +0.0001, Frappe -0.0002, the others within 0.0001.
# A horizon of one epoch, or a fixed decay of 0.98 to 0.995 per step
# (debiased or anchored at the starting weights), did as well within the
# splits' noise; half an epoch took fewer epochs than one (Adult 5.0 against
# 6.4 on average).  Averaging the embedding table too gave Coupon +0.0035
# but cost MovieLens 0.0015 (and a pass over the whole table every step):
# the tables are left out.


# While no epoch has lowered the validation loss of the start (the linear
# model: the MLP's output layer starts at zero) by more than one standard
# error of the per-row difference, the first GRACE_EPOCHS epochs neither cut
# the learning rate nor stop training.  The deep part starts flat: on
# make_friedman1 (3,000 rows, 10 numbers, noise 1) a rise of 0.001 at epoch
# 2 cut the rate and the next stopped it, and the regressor ended at Ridge's
# R2 (0.737) on 4 of 11 fits; its loss fell only from the fifth epoch on one
# of them.  With 5 epochs all 11 end at 0.953 to 0.959 (with 3, one stays at
# 0.737).  On ten quality.py tables (2 splits each) every test prediction
# stayed the same: the grace ran only in fits whose interactions the recipe
# then dropped (7 of 20), 25 -> 44 epochs over those 7
# (benchmarks/results/recipe_research.md, sixteenth session).
GRACE_EPOCHS = 5


# The name the estimators give the schedule among the net's callbacks: one a
# user's own callback is unlikely to take ("schedule" was refused by skorch as
# a duplicate when a user's callback had it and early stopping was on).
SCHEDULE = "deepfm_schedule"


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
    average_epochs : float or None, default=0.5
        Horizon, in epochs, of the moving average of the deep part's weights
        (:meth:`~sklearn_deepfm._net.DeepFMNet.averaged_parameters`) that is
        validated and kept; ``None``: no average (the weights of the last
        step).

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

    def __init__(
        self,
        patience=2,
        factor=0.1,
        monitor="valid_loss",
        tol=1e-4,
        average_epochs=0.5,
    ):
        self.patience = patience
        self.factor = factor
        self.monitor = monitor
        self.tol = tol
        self.average_epochs = average_epochs

    def on_train_begin(self, net, X=None, **kwargs):
        self.best_score_ = float("inf")
        self.best_epoch_ = 0
        self.best_state_ = None
        self.best_losses_ = None
        self.misses_ = 0
        # the validation losses of the start (the linear model), while no
        # epoch has beaten it clearly (see GRACE_EPOCHS)
        self.start_losses_ = None
        if GRACE_EPOCHS and isinstance(X, tuple) and X[1] is not None:
            self.start_losses_ = net.row_losses(X[1])
        averaging = self.average_epochs is not None
        self._averaged = net.averaged_parameters() if averaging else []
        self._average = [p.detach().clone() for p in self._averaged]
        self._stepped = None  # the last step's weights while the average is in
        self._steps = 0
        self._decay = None

    def on_epoch_begin(self, net, **kwargs):
        self._swap_out()
        if self._decay is None and self._average:
            steps = self.average_epochs * net.steps_per_epoch_
            self._decay = 1.0 - 1.0 / max(steps, 1.0)

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self._average:
            self._steps += 1
            # the debiased average: step t's weights count (1 - d) / (1 - d^t)
            weight = (1.0 - self._decay) / (1.0 - self._decay**self._steps)
            pairs = zip(self._average, self._averaged, strict=True)
            with torch.no_grad():
                for average, parameter in pairs:
                    average.lerp_(parameter, weight)

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training and self._average and self._stepped is None:
            # the epoch's validation pass begins: validate the average
            self._stepped = [p.detach().clone() for p in self._averaged]
            self._load(self._average)

    def _swap_out(self):
        if self._stepped is not None:
            self._load(self._stepped)
            self._stepped = None

    def _load(self, values):
        with torch.no_grad():
            for parameter, value in zip(self._averaged, values, strict=True):
                parameter.copy_(value)

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
        history.record("lr_cut", False)
        if self.start_losses_ is not None and losses is not None:
            gain, error = net.mean_and_error(self.start_losses_ - losses)
            if gain > error:  # started: the rules below from now on
                self.start_losses_ = None
            elif len(history) <= GRACE_EPOCHS:
                return
        if improved:
            return
        if losses is not None and self.best_losses_ is not None:
            rise, error = net.mean_and_error(losses - self.best_losses_)
            if rise > error:
                raise StopTraining
        self.misses_ += 1
        self._cut_learning_rates(net)
        history.record("lr_cut", True)
        if self.misses_ >= self.patience:
            raise StopTraining

    def _cut_learning_rates(self, net):
        for group in net.optimizer_.param_groups:
            group["lr"] *= self.factor

    def on_train_end(self, net, **kwargs):
        if "_stepped" not in vars(self):  # (an error before training began)
            return
        self._swap_out()
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
        self.best_state_ = None  # a fitted model keeps one copy of its weights
        self.best_losses_ = None
        self._averaged, self._average, self._stepped = [], [], None


class ReplaySchedule(TrainingSchedule):
    """The course a :class:`TrainingSchedule` took, replayed without
    validation rows: ``epochs`` epochs (the net's ``max_epochs``), every
    learning rate multiplied by ``factor`` after each epoch of ``cuts``,
    the deep part's weights averaged as there; the average is what the net
    holds at the end of epoch ``epochs``.

    Parameters
    ----------
    epochs : int
        Epochs to train (the schedule's best epoch).
    cuts : sequence of int
        The epochs (numbered from 1) after which the schedule cut the
        learning rates.
    factor : float, default=0.1
    average_epochs : float or None, default=0.5
    """

    def __init__(self, epochs=1, cuts=(), factor=0.1, average_epochs=0.5):
        super().__init__(factor=factor, average_epochs=average_epochs)
        self.epochs = epochs
        self.cuts = cuts

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch >= self.epochs:  # the net's max_epochs ends training here
            self._load(self._average)
            return
        if epoch in self.cuts:
            self._cut_learning_rates(net)


def replayed(history):
    """``(epochs, cuts)`` of the training a :class:`TrainingSchedule`
    recorded in ``history``: its best epoch and the epochs before it after
    which it cut the learning rates (those that did not improve)."""
    epochs = int(history[-1, "best_epoch"])
    cuts = tuple(epoch for epoch in range(1, epochs) if history[epoch - 1, "lr_cut"])
    return epochs, cuts
