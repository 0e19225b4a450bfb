"""
Which fields interact? The field interaction map
================================================

The factorization machine inside DeepFM scores every pair of active
features ``i`` and ``j`` with the inner product ``<v_i, v_j>`` of their
embeddings. :class:`~sklearn_deepfm.plotting.FieldInteractionDisplay`
averages ``|<v_i, v_j>|`` over the features of every pair of fields: a
bright cell marks two fields whose combination the model found informative.
We check it first on data with one planted interaction, then look at the
UCI Adult data.
"""

# %%
# Planted interaction
# -------------------
# Six label-encoded fields of ten categories each. The label depends on
# whether ``user`` and ``item`` have matching codes (an interaction that no
# single field reveals), plus a small main effect of ``hour``; the other
# fields are noise.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import load_adult
from sklearn_deepfm.plotting import FieldInteractionDisplay

rng = np.random.default_rng(0)
names = ["user", "item", "hour", "device", "site", "app"]
X = rng.integers(0, 10, size=(6000, len(names)))
logit = 2.5 * (X[:, 0] == X[:, 1]) + 0.5 * (X[:, 2] < 5) - 1.0
y = (rng.random(len(X)) < 1 / (1 + np.exp(-logit))).astype(int)

# a fixed number of epochs, without early stopping, keeps this small example
# independent of the stopping rule
model = DeepFMClassifier(early_stopping=False, max_epochs=10, random_state=0)
model.fit(X, y)

# %%
# Passing ``X`` weights every pair of categories by how often they occur in
# it; without it every pair counts the same. ``field_names`` labels the
# fields of an array (a DataFrame's column names are used by default).
display = FieldInteractionDisplay.from_estimator(
    model, X, field_names=names, include_values=True
)
plt.show()

strongest = np.unravel_index(np.nanargmax(display.interactions), (6, 6))
print(f"strongest pair: {names[strongest[0]]} x {names[strongest[1]]}")

# %%
# UCI Adult
# ---------
# On real data the map is a summary of the model, not a statistical test.
# A numeric column is one feature whose embedding is scaled by the
# standardised value, so its cells read per standard deviation: heavy-tailed
# columns such as ``capital-gain`` take large values and may stand out. The
# DataFrame's column names label the fields.
X, y = load_adult(return_X_y=True)
X, y = X.iloc[:10_000], y.iloc[:10_000]
adult_model = DeepFMClassifier(categorical_features="from_dtype", random_state=0)
adult_model.fit(X, y)

fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
display = FieldInteractionDisplay.from_estimator(adult_model, X, ax=ax)
plt.show()

# the five strongest pairs
upper = np.triu_indices_from(display.interactions, k=1)
order = np.argsort(display.interactions[upper])[::-1][:5]
for f, g in zip(upper[0][order], upper[1][order], strict=True):
    value = display.interactions[f, g]
    print(f"{display.field_names[f]:>15} x {display.field_names[g]:<15} {value:.3f}")
