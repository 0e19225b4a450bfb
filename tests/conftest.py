import numpy as np
import pytest
import torch

# Small, fast settings for behaviour tests; the defaults are exercised by the
# scikit-learn checks and the recipe tests.
FAST = {"hidden_units": (32,), "max_epochs": 5, "random_state": 0}


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(
        reason="needs a CUDA device; torch.cuda.is_available() is False"
    )
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def make_categorical(n_samples=600, n_fields=4, n_categories=6, random_state=0):
    """Label-encoded data whose label depends on a pairwise interaction."""
    rng = np.random.default_rng(random_state)
    X = rng.integers(0, n_categories, size=(n_samples, n_fields))
    signal = (X[:, 0] == X[:, 1]).astype(float) * 2 + (X[:, 2] % 2) - 0.8
    y = (signal + rng.normal(scale=0.5, size=n_samples) > 0).astype(int)
    return X, y


@pytest.fixture
def categorical_data():
    return make_categorical()


def make_first_order(n_samples=3000, random_state=0):
    """Label-encoded data whose label depends on each field alone: the recipe
    drops the FM and deep parts on it."""
    rng = np.random.default_rng(random_state)
    X = rng.integers(0, 8, size=(n_samples, 4))
    logit = np.array([-1.0, -0.5, 0.0, 0.3, 0.6, 1.0, -0.2, 0.4])[X].sum(axis=1)
    y = (rng.random(n_samples) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y
