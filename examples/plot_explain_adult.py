"""
Why this prediction? Explaining a DeepFM on UCI Adult
=====================================================

``explain(X)`` splits each row's logit into a part per field and per pair of
fields. DeepFM is almost additive by construction: the first-order terms
are per field, the factorization machine's terms per pair of fields, and
only the deep part needs a Shapley attribution. The result follows shap's
format and bookkeeping, so shap's plots draw it.
"""

# %%
# A model of income above 50,000 dollars
# --------------------------------------
# The DataFrame's categorical columns are fields of categories, its numeric
# columns numeric fields. On the 32,561 training rows the default recipe
# keeps the FM and deep parts (on fewer rows it may keep the first-order part
# alone, which is then the whole explanation).
import matplotlib.pyplot as plt
import numpy as np
import shap

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import load_adult
from sklearn_deepfm.plotting import FieldInteractionDisplay

X, y = load_adult(return_X_y=True)
X_test, y_test = load_adult(return_X_y=True, subset="test")
model = DeepFMClassifier(categorical_features="from_dtype", random_state=0)
model.fit(X, y)
print(f"FM and deep parts kept: {model.interactions_kept_}")
print(f"test accuracy: {model.score(X_test, y_test):.3f}")

# %%
# Explaining 1,000 test rows
# --------------------------
# With 14 fields, the deep part is attributed by sampling orders of the
# fields (each with its reverse); ``random_state`` makes it reproducible.
# The contributions add up to the logit of every row.
rows = X_test.iloc[:1000]
explanation = model.explain(rows, random_state=0)
print(explanation)
print(f"deep part: {explanation.n_permutations} permutations")
total = explanation.base_values + explanation.values.sum(axis=1)
gap = np.abs(total - model.decision_function(rows)).max()
print(f"largest |base + sum of contributions - logit|: {gap:.1e}")

# %%
# One row: a waterfall
# --------------------
# From the output of a row without any field (the base value) to the row's
# log-odds, one field at a time. ``to_shap`` shows the values as they are in
# ``X``.
shap_values = explanation.to_shap()
shap.plots.waterfall(shap_values[0], max_display=10, show=False)
plt.tight_layout()
plt.show()

# %%
# Many rows: a beeswarm
# ---------------------
# Each dot is a row; its colour is the field's value (numbers as they are,
# categories by their position in sorted order).
shap.plots.beeswarm(shap_values, max_display=14, show=False)
plt.tight_layout()
plt.show()

# %%
# Which pairs of fields matter: a heat map
# ----------------------------------------
# ``interaction_values[:, f, g]`` holds half of the factorization machine's
# term of the pair ``(f, g)`` in each row, plus half of the pair's cross
# weight where the recipe kept the pairwise crosses (``crosses_kept_``, as
# here); the map shows the mean absolute term over the explained rows, in
# logits.
fig, ax = plt.subplots(figsize=(7, 6), layout="constrained")
display = FieldInteractionDisplay.from_explanation(explanation, ax=ax)
plt.show()

strength = explanation.pair_strength()
upper = np.triu_indices_from(strength, k=1)
for index in np.argsort(strength[upper])[::-1][:5]:
    f, g = upper[0][index], upper[1][index]
    names = explanation.feature_names
    print(f"{names[f]:>15} x {names[g]:<15} {strength[f, g]:.3f}")

# %%
# The parts of one field
# ----------------------
# A row of ``interaction_values`` sums to the field's value: the diagonal
# holds the field's first-order term and its share of the deep part, the
# other entries half of each of its pairs.
field = explanation.feature_names.index("relationship")
parts = explanation.interaction_values[0, field]
print(f"relationship = {explanation.data[0, field]!r}: {parts.sum():+.3f}")
print(f"  first-order + deep share: {parts[field]:+.3f}")
print(f"  halves of its pairs:      {parts.sum() - parts[field]:+.3f}")
