"""
Quick start: DeepFM beside logistic regression
==============================================

Synthetic click logs from :func:`~sklearn_deepfm.datasets.make_ctr_classification`
(label-encoded categorical fields with planted pairwise and higher-order
effects) are fitted with :class:`~sklearn_deepfm.DeepFMClassifier` on the
label-encoded array and with a one-hot
:class:`~sklearn.linear_model.LogisticRegression`. The true click
probabilities give the best AUC any model could reach.
"""

from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import make_ctr_classification

X, y, proba = make_ctr_classification(
    n_samples=30_000, n_fields=8, cardinalities=50, return_proba=True, random_state=0
)
X_train, X_test, y_train, y_test, _, proba_test = train_test_split(
    X, y, proba, test_size=0.25, random_state=0
)

deepfm = DeepFMClassifier(random_state=0).fit(X_train, y_train)
logistic = make_pipeline(
    OneHotEncoder(handle_unknown="ignore"), LogisticRegression(max_iter=1000)
).fit(X_train, y_train)

scores = {
    "DeepFM": deepfm.predict_proba(X_test)[:, 1],
    "LogisticRegression": logistic.predict_proba(X_test)[:, 1],
    "true probabilities": proba_test,
}
for name, score in scores.items():
    print(f"{name:<20} test AUC: {roc_auc_score(y_test, score):.4f}")
print("(the true probabilities give the Bayes-optimal AUC)")
print(
    f"DeepFM trained {len(deepfm.history_)} epochs (early stopping on a 10% hold-out)"
)
