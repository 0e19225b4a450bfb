"""
Label-encoded input, unseen categories and missing values
=========================================================

Categorical data often arrive as strings. An
:class:`~sklearn.preprocessing.OrdinalEncoder` turns every column into
integer codes, which :class:`~sklearn_deepfm.DeepFMClassifier` reads as one
field per column with one embedding per code. At prediction time some values
were never seen in ``fit`` (new sites, new apps) and some are missing. The
encoder maps the unseen ones to ``-1`` and keeps missing ones as NaN; the
model sends both, and any negative code, to a per-field *unknown* embedding,
so its predictions stay finite and sensible.
"""

# %%
# Synthetic click logs: six fields with long-tailed category frequencies,
# from a handful of device types to thousands of sites. We turn the codes into
# strings, as raw logs would hold them, and blank out a few values.
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import make_ctr_classification

names = ["device", "hour", "category", "advertiser", "app", "site"]
codes, y = make_ctr_classification(
    n_samples=12_000,
    n_fields=len(names),
    cardinalities=[4, 24, 60, 300, 1000, 3000],
    random_state=0,
)
X = np.empty(codes.shape, dtype=object)
for j, name in enumerate(names):
    X[:, j] = [f"{name}-{code}" for code in codes[:, j]]
rng = np.random.default_rng(0)
X[rng.random(X.shape) < 0.02] = np.nan  # 2% missing values
X_train, X_test = X[:8000], X[8000:]
y_train, y_test = y[:8000], y[8000:]
print(X_train[:3])

# %%
# How much of the test set the training set never showed: the rare values of
# the large fields.
unseen = np.zeros(X_test.shape, dtype=bool)
for j, name in enumerate(names):
    seen = {value for value in X_train[:, j] if isinstance(value, str)}
    unseen[:, j] = [isinstance(v, str) and v not in seen for v in X_test[:, j]]
    print(f"{name:>10}: {unseen[:, j].mean():6.1%} of test values unseen in fit")
print(f"test rows with at least one unseen value: {unseen.any(axis=1).mean():.1%}")

# %%
# The pipeline: unseen values become ``-1``, missing values stay NaN. Every
# column of the encoder's output holds non-negative integer codes in ``fit``,
# so ``categorical_features="auto"`` treats all of them as categorical; a
# boolean mask would say the same explicitly.
model = make_pipeline(
    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
    DeepFMClassifier(random_state=0),
)
model.fit(X_train, y_train)
print(f"categorical columns: {model[-1].is_categorical_}")

proba = model.predict_proba(X_test)[:, 1]
print(f"all test predictions finite: {np.isfinite(proba).all()}")
known = ~unseen.any(axis=1)
for label, rows in [
    ("all rows", slice(None)),
    ("rows with only known values", known),
    ("rows with some unseen value", ~known),
]:
    auc = roc_auc_score(y_test[rows], proba[rows])
    print(f"test ROC AUC, {label:<28}: {auc:.3f}")

# %%
# A row made only of values the model never saw, and a row of missing
# values, both land on the unknown embedding of every field. In training that
# embedding learnt from the rows where the field was missing, so the
# prediction falls back to "some value of this field", close to the average
# click rate.
strange = np.array(
    [[f"{name}-new" for name in names], [np.nan] * len(names)], dtype=object
)
print(f"click rate in training: {y_train.mean():.3f}")
print(f"predicted for an all-unseen row: {model.predict_proba(strange)[0, 1]:.3f}")
print(f"predicted for an all-missing row: {model.predict_proba(strange)[1, 1]:.3f}")

# %%
# The encoder is optional: a pandas DataFrame of strings (or of the
# ``category`` dtype) goes to the model as it is, with the same treatment of
# unseen and missing values.
frame_train = pd.DataFrame(X_train, columns=names)
frame_test = pd.DataFrame(X_test, columns=names)
direct = DeepFMClassifier(random_state=0).fit(frame_train, y_train)
auc = roc_auc_score(y_test, direct.predict_proba(frame_test)[:, 1])
print(f"DataFrame input, test ROC AUC: {auc:.3f}")
