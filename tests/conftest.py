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


def assert_served_as_predicted(model, X, n_explained=300):
    """TorchScript, pickle, the explanation identity (on the first
    ``n_explained`` rows) and ONNX (when installed) give ``model``'s own
    decision function on ``X`` (a DataFrame)."""
    import pickle

    from numpy.testing import assert_allclose, assert_array_equal

    from sklearn_deepfm.export import encode, to_torchscript

    expected = model.decision_function(X)
    with torch.inference_mode():
        found = to_torchscript(model)(**encode(model, X)).numpy()
    assert_allclose(found, expected, atol=1e-5)
    assert_array_equal(pickle.loads(pickle.dumps(model)).decision_function(X), expected)
    explanation = model.explain(X[:n_explained])
    assert_allclose(
        explanation.base_values + explanation.values.sum(axis=1),
        expected[:n_explained],
        atol=1e-4,
    )
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    from skl2onnx import to_onnx

    import sklearn_deepfm.onnx  # noqa: F401  (registers the converters)
    from sklearn_deepfm.onnx import onnx_inputs

    X = X.reset_index(drop=True)
    onx = to_onnx(model, X[:1], options={"zipmap": False})
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    _, proba = session.run(None, onnx_inputs(X, session))
    assert_allclose(proba, model.predict_proba(X), atol=1e-5)
    return explanation


def torch_onnx_export(model, inputs):
    """The bytes of ``torch.onnx.export`` (the TorchScript-based exporter,
    which needs no onnxscript) of ``model``'s inference module, taking the
    encoded rows ``inputs`` by name."""
    import io
    import warnings

    from sklearn_deepfm.export import inference_module

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            inference_module(model),
            (),
            buffer,
            kwargs=inputs,
            input_names=list(inputs),
            dynamo=False,
        )
    return buffer.getvalue()
