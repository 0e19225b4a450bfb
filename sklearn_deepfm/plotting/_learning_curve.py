"""Training and validation loss per epoch, from a fitted estimator's history."""

import numpy as np
from sklearn.base import is_classifier

from ._common import import_pyplot, split_estimator


class LearningCurveDisplay:
    """Training and validation loss per epoch of a fitted DeepFM estimator.

    The curves come from the skorch history of the fit (``history_``): the
    training loss of every epoch and, when early stopping held rows out, the
    validation loss and the best epoch (whose weights the first training
    kept; the recipe may then train the network again on every row, or drop
    its FM and deep parts: see the inspection guide); epochs
    of a warm-up, shaded, where a history records them (this package's
    recipe has none: it solves the first-order part before training).  Use
    :meth:`from_estimator` to build it from a fitted estimator; all
    parameters are stored as attributes.

    Not to be confused with :class:`sklearn.model_selection.LearningCurveDisplay`,
    which plots scores against the size of the training set.

    Parameters
    ----------
    epochs : ndarray of shape (n_epochs,)
        Epoch numbers, starting at 1.
    train_loss : ndarray of shape (n_epochs,)
        Mean training loss of each epoch.
    valid_loss : ndarray of shape (n_epochs,), default=None
        Validation loss after each epoch; None when no rows were held out.
    best_epoch : int, default=None
        Epoch whose weights the first training kept; None without
        validation.
    warmup_epochs : int, default=None
        Number of epochs of linear warm-up at the start of training, shaded
        in the plot; None or 0 without warm-up.
    loss_name : str, default=None
        Label of the y axis; None gives ``"loss"``.
    estimator_name : str, default=None
        Name shown in the legend; None shows none.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The curves, under ``"train_loss"`` and, with validation,
        ``"valid_loss"``.
    best_epoch_line_ : matplotlib Line2D or None
        Vertical line at ``best_epoch``; None without validation.
    warmup_span_ : matplotlib patch or None
        Shaded span of the warm-up epochs; None without warm-up.
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    FieldInteractionDisplay : Strength of the learned field interactions.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_deepfm import DeepFMClassifier
    >>> from sklearn_deepfm.datasets import make_ctr_classification
    >>> from sklearn_deepfm.plotting import LearningCurveDisplay
    >>> X, y = make_ctr_classification(n_samples=2000, n_fields=4, random_state=0)
    >>> model = DeepFMClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> display = LearningCurveDisplay.from_estimator(model)
    >>> display.train_loss.shape == display.valid_loss.shape == (len(model.history_),)
    True
    >>> display.ax_.get_xlabel()
    'epoch'
    """

    def __init__(
        self,
        *,
        epochs,
        train_loss,
        valid_loss=None,
        best_epoch=None,
        warmup_epochs=None,
        loss_name=None,
        estimator_name=None,
    ):
        self.epochs = epochs
        self.train_loss = train_loss
        self.valid_loss = valid_loss
        self.best_epoch = best_epoch
        self.warmup_epochs = warmup_epochs
        self.loss_name = loss_name
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, name=None, **kwargs):
        """Plot the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot on; None creates a new figure (with constrained
            layout) and axes.
        name : str, default=None
            Name shown in the legend; None uses ``estimator_name``.
        **kwargs : dict
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.plot` for
            both curves; a ``label`` is the name where ``name`` is None (each
            curve's label is the name and what the curve shows).

        Returns
        -------
        display : LearningCurveDisplay
            Object that stores the computed values and the plot.
        """
        plt = import_pyplot("LearningCurveDisplay.plot")
        from matplotlib.ticker import MaxNLocator

        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        label = kwargs.pop("label", None)
        if name is None:
            name = self.estimator_name if label is None else label
        prefix = "" if name is None else f"{name}, "
        kwargs.setdefault("marker", "." if len(self.epochs) <= 50 else None)

        shown, _ = ax.get_legend_handles_labels()  # another display's curves
        self.warmup_span_ = None
        if self.warmup_epochs:
            start = self.epochs[0] - 0.5
            self.warmup_span_ = ax.axvspan(
                start,
                start + self.warmup_epochs,
                color="0.92",
                zorder=0,
                label="linear warm-up",
            )
        self.lines_ = {}
        (self.lines_["train_loss"],) = ax.plot(
            self.epochs, self.train_loss, label=f"{prefix}training", **kwargs
        )
        self.best_epoch_line_ = None
        if self.valid_loss is not None:
            (self.lines_["valid_loss"],) = ax.plot(
                self.epochs, self.valid_loss, label=f"{prefix}validation", **kwargs
            )
            if self.best_epoch is not None:
                self.best_epoch_line_ = ax.axvline(
                    self.best_epoch,
                    color="0.5",
                    linestyle=":",
                    label=f"{prefix}best epoch ({self.best_epoch})",
                )
        handles = [*self.lines_.values(), self.best_epoch_line_, self.warmup_span_]
        ax.legend(handles=shown + [handle for handle in handles if handle is not None])
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if self.loss_name is None else self.loss_name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_history(cls, history, *, ax=None, name=None, loss_name=None, **kwargs):
        """Plot the losses recorded in a skorch history.

        Parameters
        ----------
        history : skorch.History
            Per-epoch record with ``"epoch"`` and ``"train_loss"`` entries and
            optionally ``"valid_loss"``, such as ``estimator.history_`` or the
            ``history`` of any skorch net.  The best epoch is the last
            epoch's ``"best_epoch"`` entry when there is one, else the epoch
            with the lowest validation loss; warm-up epochs, shaded, are
            those whose ``"phase"`` entry is ``"linear"`` (a skorch callback
            may record it; the estimators' own histories have none).
        ax : matplotlib Axes, default=None
            Axes to plot on; None creates a new figure (with constrained
            layout) and axes.
        name : str, default=None
            Name shown in the legend.
        loss_name : str, default=None
            Label of the y axis; None gives ``"loss"``.
        **kwargs : dict
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : LearningCurveDisplay
            Object that stores the computed values and the plot.
        """
        if len(history) == 0:
            raise ValueError("The history is empty: no epoch was recorded.")
        epochs = np.array([row["epoch"] for row in history], dtype=np.int64)
        train_loss = np.array(
            [row.get("train_loss", np.nan) for row in history], dtype=np.float64
        )
        valid_loss = best_epoch = None
        if any("valid_loss" in row for row in history):
            valid_loss = np.array(
                [row.get("valid_loss", np.nan) for row in history], dtype=np.float64
            )
            if "best_epoch" in history[-1]:  # recorded by the training schedule
                best_epoch = int(history[-1]["best_epoch"])
            elif np.isfinite(valid_loss).any():
                best_epoch = int(epochs[np.nanargmin(valid_loss)])
        warmup_epochs = sum(row.get("phase") == "linear" for row in history) or None
        display = cls(
            epochs=epochs,
            train_loss=train_loss,
            valid_loss=valid_loss,
            best_epoch=best_epoch,
            warmup_epochs=warmup_epochs,
            loss_name=loss_name,
            estimator_name=name,
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, **kwargs):
        """Plot the losses of a fitted estimator's training history.

        Parameters
        ----------
        estimator : DeepFMClassifier, DeepFMRegressor or Pipeline
            A fitted DeepFM estimator, or a fitted pipeline ending with one.
        ax : matplotlib Axes, default=None
            Axes to plot on; None creates a new figure (with constrained
            layout) and axes.
        name : str, default=None
            Name shown in the legend; None shows none.
        **kwargs : dict
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : LearningCurveDisplay
            Object that stores the computed values and the plot.  The y axis
            reads ``"log loss"`` for classifiers and ``"squared error
            (standardised target)"`` for regressors, the losses they minimise
            (weighted by ``sample_weight`` when given).
        """
        _, model = split_estimator(estimator, "LearningCurveDisplay")
        loss_name = (
            "log loss"
            if is_classifier(model)
            else "squared error (standardised target)"
        )
        return cls.from_history(
            model.history_, ax=ax, name=name, loss_name=loss_name, **kwargs
        )
