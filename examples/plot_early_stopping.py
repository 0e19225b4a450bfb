"""
Early stopping, skorch callbacks and learning curves
====================================================

Training runs on `skorch <https://skorch.readthedocs.io>`_: with early
stopping (on by default wherever a hold-out can be drawn) a share of the training
rows is held out, the validation loss is computed after every epoch, and
training stops once it stops improving or clearly worsens; the weights of
the best epoch are restored. Every epoch is recorded in ``history_``, which
:class:`~sklearn_deepfm.plotting.LearningCurveDisplay` draws, and any skorch
callback can add its own entries.
"""

# %%
# Synthetic click logs with planted interactions.
import matplotlib.pyplot as plt
import pandas as pd
from skorch.callbacks import EpochScoring

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import make_ctr_classification
from sklearn_deepfm.plotting import LearningCurveDisplay

X, y = make_ctr_classification(
    n_samples=15_000, n_fields=8, cardinalities=40, random_state=0
)

# %%
# Early stopping holds out ``validation_fraction`` of the rows (stratified)
# and stops after ``n_iter_no_change`` epochs without improvement, or at once
# after an epoch clearly worse than the best (by more than one standard error
# of the per-row difference). A skorch
# :class:`~skorch.callbacks.EpochScoring` callback also records the ROC AUC
# on the held-out rows after every epoch, under the name we give it.
model = DeepFMClassifier(
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=3,
    callbacks=[EpochScoring("roc_auc", lower_is_better=False, name="valid_auc")],
    random_state=0,
)
model.fit(X, y)

# %%
# The history: one row per epoch. Training starts from a logistic regression
# solved on the first-order features; ``best_epoch`` is the epoch whose
# weights are kept, and ``interactions_kept`` (last epoch) says whether the
# FM and deep parts beat the logistic regression on the held-out rows.
# ``verbose=1`` prints a similar table while training;
# ``callbacks=[skorch.callbacks.ProgressBar()]`` adds a progress bar over the
# batches of each epoch.
columns = ["epoch", "train_loss", "valid_loss", "valid_auc", "best_epoch"]
history = pd.DataFrame(
    [{key: row.get(key) for key in columns} for row in model.history_]
)
print(history.round(4).to_string(index=False))

# %%
# The learning curves, and the callback's score read
# back from the history with skorch's indexing, ``history_[:, key]``.
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
display = LearningCurveDisplay.from_estimator(model, ax=left)
right.plot(model.history_[:, "epoch"], model.history_[:, "valid_auc"], marker=".")
right.axvline(display.best_epoch, color="0.5", linestyle=":")
right.set_xlabel("epoch")
right.set_ylabel("validation ROC AUC")
plt.show()

print(f"best epoch: {display.best_epoch} of {len(model.history_)}")
print(f"interactions kept: {model.interactions_kept_}, C={model.linear_C_}")
