"""
DeepFM against logistic regression, fairly
==========================================

Logistic regression on one-hot encoded features is the baseline every
click-through-rate or tabular-data model has to beat. A fair comparison
gives both models the same rows, the same features and the same
cross-validation folds, tunes the baseline's regularisation, and looks at the
fold-by-fold differences rather than at two averages. We do this with
:func:`~sklearn.model_selection.cross_validate` on the UCI Adult data
(:func:`~sklearn_deepfm.datasets.load_adult`), subsampled to keep the example
fast.
"""

# %%
# The data: 6,000 random rows of the Adult training set.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import load_adult

adult = load_adult()
X = adult.data.sample(n=6000, random_state=0)
y = adult.target.loc[X.index]
categorical = adult.categorical_features
numeric = [name for name in X.columns if name not in categorical]


# %%
# The same features for both: one-hot categories and standardised numbers.
# The baseline picks its regularisation strength ``C`` by an inner
# cross-validation on each training fold
# (:class:`~sklearn.model_selection.GridSearchCV`); DeepFM keeps its
# defaults and holds out 10% of each training fold for early stopping. Neither
# ever sees the test fold while fitting.
def features():
    return ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("scale", StandardScaler(), numeric),
        ]
    )


models = {
    "LogisticRegression": GridSearchCV(
        make_pipeline(features(), LogisticRegression(max_iter=2000)),
        {"logisticregression__C": np.logspace(-2, 2, 5)},
        scoring="neg_log_loss",
        cv=3,
    ),
    "DeepFM": make_pipeline(features(), DeepFMClassifier(random_state=0)),
}

# %%
# Five folds, shuffled once and shared by both models, so that the scores
# can be compared fold by fold.
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
scores = {}
for name, model in models.items():
    result = cross_validate(model, X, y, cv=cv, scoring=["roc_auc", "neg_log_loss"])
    scores[name] = {
        "ROC AUC": result["test_roc_auc"],
        "log loss": -result["test_neg_log_loss"],
    }
    print(
        f"{name:>18}: ROC AUC {result['test_roc_auc'].mean():.4f} "
        f"(+/- {result['test_roc_auc'].std():.4f}), log loss "
        f"{-result['test_neg_log_loss'].mean():.4f}, "
        f"fit time {result['fit_time'].mean():.1f} s per fold"
    )

# %%
# The paired differences: on how many folds does DeepFM win, and by how much?
# With five folds, a difference smaller than its spread over the folds is no
# evidence either way.
for metric, better in [("ROC AUC", np.greater), ("log loss", np.less)]:
    difference = scores["DeepFM"][metric] - scores["LogisticRegression"][metric]
    wins = better(difference, 0).sum()
    print(
        f"{metric}: DeepFM - LogisticRegression = {difference.mean():+.4f} "
        f"(+/- {difference.std():.4f}); DeepFM better on {wins} of 5 folds"
    )

# %%
# The same, drawn: one line per fold.
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), layout="constrained")
for ax, metric in zip(axes, ["ROC AUC", "log loss"], strict=True):
    values = np.column_stack([scores[name][metric] for name in models])
    ax.plot([0, 1], values.T, marker="o", color="tab:blue", alpha=0.7)
    ax.set_xticks([0, 1], list(models))
    ax.set_xlim(-0.3, 1.3)
    ax.set_ylabel(metric)
    ax.set_title(f"test {metric} per fold")
plt.show()

# %%
# What else makes a comparison fair:
#
# * tune both models, on the training folds only; here DeepFM ran with its
#   defaults, so its numbers are a floor;
# * give the baseline the encodings it needs, for example splines of the
#   numeric columns (:class:`~sklearn.preprocessing.SplineTransformer`) or
#   explicit crosses of the categorical ones, if DeepFM's gain comes from
#   non-linear effects the baseline simply cannot represent;
# * report the cost too: the fit times above include the baseline's inner
#   search over ``C``.
