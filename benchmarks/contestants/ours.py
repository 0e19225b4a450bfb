"""sklearn_deepfm.DeepFMClassifier, the estimator under test.

Run on the label-encoded int array (contestant ``ours``) and on the one-hot
CSR matrix of the same data (``ours_onehot``), at the BARS setting.
"""


def unavailable(options):
    try:
        from sklearn_deepfm import DeepFMClassifier  # noqa: F401
    except ImportError as exc:
        return f"sklearn_deepfm.DeepFMClassifier is not available yet ({exc})"
    return None


class Runner:
    def __init__(self, cardinalities, config, device, mixed_precision=False):
        from sklearn_deepfm import DeepFMClassifier

        kwargs = dict(
            embedding_dim=config["embedding_dim"],
            hidden_units=tuple(config["hidden_units"]),
            lr=config["lr"],
            batch_size=config["batch_size"],
            max_epochs=config["max_epochs"],
            early_stopping=False,
            random_state=config["seed"],
            mixed_precision=mixed_precision,
        )
        if device != "cpu":
            kwargs["device"] = device
        self.model = DeepFMClassifier(**kwargs)

    def fit(self, X, y):
        self.model.fit(X, y)

    def predict_proba(self, X):
        return self.model.predict_proba(X)[:, 1]
