"""
Tuning ``embedding_dim`` with GridSearchCV
==========================================

The estimators are ordinary scikit-learn estimators, so
:class:`~sklearn.model_selection.GridSearchCV` tunes them like any other,
alone or inside a :class:`~sklearn.pipeline.Pipeline`. Here we search the
size of the embeddings, ``embedding_dim``, which sets the rank of the
pairwise interactions the factorization machine can represent, on a sample
of the UCI Adult data given as a DataFrame.
"""

# %%
# The data. The DataFrame's categorical columns have the ``category`` dtype
# and its numeric columns are integers: ``categorical_features="from_dtype"``
# tells the model to trust the dtypes (with the default ``"auto"`` the
# integer columns, which hold only non-negative integers, would be read as
# label-encoded categories, the quantities among them also as numbers, and
# ``fnlwgt`` with a warning).
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.model_selection import GridSearchCV, train_test_split

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import load_adult

X, y = load_adult(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=4000, test_size=4000, stratify=y, random_state=0
)

# %%
# The search: three sizes, three folds, ranked by ROC AUC. Smaller hidden
# layers than the default keep the nine fits quick.
model = DeepFMClassifier(
    hidden_units=(64,), categorical_features="from_dtype", random_state=0
)
search = GridSearchCV(
    model, {"embedding_dim": [2, 8, 32]}, cv=3, scoring="roc_auc"
).fit(X_train, y_train)

results = pd.DataFrame(search.cv_results_)
print(
    results[
        ["param_embedding_dim", "mean_test_score", "std_test_score", "mean_fit_time"]
    ]
)
print(f"best: {search.best_params_}, test ROC AUC {search.score(X_test, y_test):.4f}")

# %%
# The mean score over the folds, with one standard deviation. Compare the
# differences with that spread before trusting the winner: on a few thousand
# rows they are often within the noise of the folds.
fig, ax = plt.subplots(layout="constrained")
ax.errorbar(
    results["param_embedding_dim"].astype(int),
    results["mean_test_score"],
    yerr=results["std_test_score"],
    marker="o",
    capsize=4,
)
ax.set_xscale("log", base=2)
ax.set_xlabel("embedding_dim")
ax.set_ylabel("cross-validated ROC AUC")
plt.show()

# %%
# The best model was refitted on all the training rows (``refit=True``) and
# is a fitted :class:`~sklearn_deepfm.DeepFMClassifier` like any other.
best = search.best_estimator_
print(f"{best.n_fields_} fields, {len(best.history_)} epochs")
