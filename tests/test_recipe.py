"""The default training recipe against a one-hot LogisticRegression.

Library defaults only (``random_state`` set): where the planted effects are
pairwise and higher-order DeepFM must beat the linear model, and where they
are first-order only it must not fall behind it by more than a small margin
(the linear warm-up and the best-epoch restore guard that floor).
"""

from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import make_ctr_classification


def _aucs(interaction_strength, nonlinear_strength):
    X, y = make_ctr_classification(
        n_samples=12_000,
        n_fields=6,
        cardinalities=20,
        interaction_strength=interaction_strength,
        nonlinear_strength=nonlinear_strength,
        random_state=0,
    )
    X_train, X_test, y_train, y_test = X[:9000], X[9000:], y[:9000], y[9000:]
    deepfm = DeepFMClassifier(random_state=0).fit(X_train, y_train)
    linear = make_pipeline(
        OneHotEncoder(handle_unknown="ignore"), LogisticRegression(max_iter=1000)
    ).fit(X_train, y_train)
    return (
        roc_auc_score(y_test, deepfm.decision_function(X_test)),
        roc_auc_score(y_test, linear.decision_function(X_test)),
        deepfm,
    )


def test_defaults_beat_logistic_regression_when_interactions_exist():
    deepfm, linear, model = _aucs(interaction_strength=1.0, nonlinear_strength=1.0)
    assert deepfm > linear + 0.01
    assert "full" in model.history_[:, "phase"]


def test_defaults_do_not_lose_to_logistic_regression_on_linear_data():
    deepfm, linear, _ = _aucs(interaction_strength=0.0, nonlinear_strength=0.0)
    assert deepfm >= linear - 0.005
