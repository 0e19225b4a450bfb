"""Serving a fitted model: the whole estimator (or pipeline) as an ONNX graph
scored by onnxruntime, the network under TorchScript and torch.export, and
safe persistence with skops."""

import copy
import io
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skorch.exceptions import DeviceWarning
from skorch.history import History

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor
from sklearn_deepfm.datasets import load_adult, make_ctr_classification
from sklearn_deepfm.export import encode, inference_module, to_torchscript

from .conftest import FAST, make_categorical, torch_onnx_export

# What the issue promises: onnxruntime's probabilities equal predict_proba.
ONNX_TOLERANCE = 1e-5
N_TEST = 3000


def _fast(**params):
    return {**FAST, "early_stopping": False, **params}


def _onnx():
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    import sklearn_deepfm.onnx  # noqa: F401  (registers the converters)


def _convert(model, X, options=None):
    from skl2onnx import to_onnx

    return to_onnx(model, X, options=options)


def _session(onx):
    import onnxruntime as ort

    return ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def _op_types(onx):
    return {node.op_type for node in onx.graph.node}


def _label_encoded(n_samples, n_classes=2, random_state=0):
    """Label-encoded columns whose label depends on a pairwise interaction."""
    rng = np.random.default_rng(random_state)
    X = rng.integers(0, 8, size=(n_samples, 4))
    signal = (X[:, 0] == X[:, 1]) * 2.0 + X[:, 2] % 2 + rng.normal(size=n_samples)
    y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return X, y


def _with_unknowns(X):
    """Test rows with unseen, negative, missing and non-integer codes."""
    X = X.astype(np.float64)
    X[:100, 0] = 99  # never seen in fit
    X[100:200, 1] = -1  # an encoder's unknown code
    X[200:300, 2] = np.nan
    X[300:320, 3] = 2.5
    return X


@pytest.mark.parametrize("n_classes", [2, 3])
def test_onnx_label_encoded_model_matches_predict_proba(n_classes):
    _onnx()
    X, y = _label_encoded(2000 + N_TEST, n_classes)
    X_train, y_train, X_test = X[:2000], y[:2000], X[2000:]
    model = DeepFMClassifier(**_fast(batch_norm=True, dropout=0.2)).fit(
        X_train, y_train
    )

    onx = _convert(model, X_train[:1], options={"zipmap": False})
    label, proba = _session(onx).run(None, {"X": X_test})
    assert_allclose(proba, model.predict_proba(X_test), atol=ONNX_TOLERANCE)
    assert_array_equal(label, model.predict(X_test))
    # onnx_inputs names a DataFrame's columns; an array gets a TypeError
    # saying to feed it as the graph's one input (an AttributeError before)
    from sklearn_deepfm.onnx import onnx_inputs

    with pytest.raises(TypeError, match="feed it the array itself"):
        onnx_inputs(X_test, onx)

    # the same model from float input with unknown, negative and missing codes
    X_float = _with_unknowns(X_test)
    onx = _convert(model, X_float[:1], options={"zipmap": False})
    assert "Unique" not in _op_types(onx)
    label, proba = _session(onx).run(None, {"X": X_float})
    assert_allclose(proba, model.predict_proba(X_float), atol=ONNX_TOLERANCE)
    assert_array_equal(label, model.predict(X_float))


def test_onnx_hashed_codes_are_looked_up_by_value():
    """Huge, sparse codes (hashed ids) take another lookup than small ones."""
    _onnx()
    X, y = _label_encoded(2000 + N_TEST)
    rng = np.random.default_rng(2)
    hashes = rng.choice(2**40, size=8, replace=False)
    X[:, 1] = hashes[X[:, 1]]
    model = DeepFMClassifier(**_fast()).fit(X[:2000], y[:2000])
    X_test = X[2000:].copy()
    X_test[:100, 1] = 12345  # never seen
    for X_input in (X_test, _with_unknowns(X_test)):
        onx = _convert(model, X_input[:1], options={"zipmap": False})
        assert "LabelEncoder" in _op_types(onx)
        _, proba = _session(onx).run(None, {"X": X_input})
        assert_allclose(proba, model.predict_proba(X_input), atol=ONNX_TOLERANCE)


def test_onnx_one_hot_pipeline_with_unseen_categories():
    _onnx()
    X, y = _label_encoded(2000 + N_TEST)
    pipeline = make_pipeline(
        OneHotEncoder(handle_unknown="ignore"), DeepFMClassifier(**_fast())
    ).fit(X[:2000], y[:2000])
    X_test = X[2000:].copy()
    X_test[:200, 0] = 99

    onx = _convert(pipeline, X[:1], options={id(pipeline[-1]): {"zipmap": False}})
    label, proba = _session(onx).run(None, {"X": X_test})
    assert_allclose(proba, pipeline.predict_proba(X_test), atol=ONNX_TOLERANCE)
    assert_array_equal(label, pipeline.predict(X_test))


@pytest.mark.parametrize("sparse_threshold", [0.3, 0.0], ids=["sparse", "dense"])
def test_onnx_column_transformer_pipeline(sparse_threshold):
    """A sparse ColumnTransformer output fits the model on a sparse layout; a
    dense one on numeric fields and one-hot blocks: the graph follows both."""
    _onnx()
    X_codes, y = _label_encoded(2000 + N_TEST)
    rng = np.random.default_rng(1)
    X = np.column_stack([X_codes, rng.normal(size=(len(X_codes), 2))])
    X = X.astype(np.float32)
    columns = ColumnTransformer(
        [
            ("numeric", StandardScaler(), [4, 5]),
            ("categories", OneHotEncoder(handle_unknown="ignore"), [0, 1, 2, 3]),
        ],
        sparse_threshold=sparse_threshold,
    )
    pipeline = make_pipeline(columns, DeepFMClassifier(**_fast())).fit(
        X[:2000], y[:2000]
    )
    assert pipeline[-1].input_layout_.sparse == (sparse_threshold > 0)
    X_test = X[2000:].copy()
    X_test[:200, 1] = 99

    onx = _convert(pipeline, X[:1], options={id(pipeline[-1]): {"zipmap": False}})
    label, proba = _session(onx).run(None, {"X": X_test})
    assert_allclose(proba, pipeline.predict_proba(X_test), atol=ONNX_TOLERANCE)
    assert_array_equal(label, pipeline.predict(X_test))


def _table(n_samples, random_state=0):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(random_state)
    return pd.DataFrame(
        {
            "city": rng.choice(["oslo", "paris", "rome", "lima"], n_samples),
            "age": rng.normal(40, 12, n_samples),
            "visits": rng.integers(0, 6, n_samples),
            "member": rng.random(n_samples) < 0.3,
        }
    )


def _table_feeds(X):
    """onnxruntime inputs for a DataFrame: one (n, 1) array per column;
    strings as str objects."""
    feeds = {}
    for name in X.columns:
        column = X[name].to_numpy().reshape(-1, 1)
        feeds[name] = column.astype(object) if column.dtype == object else column
    return feeds


def test_onnx_dataframe_with_strings_numbers_and_booleans():
    _onnx()
    X = _table(2000 + N_TEST)
    signal = (X.city == "rome") ^ (X.age > 45) | X.member
    y = np.where(signal, "click", "skip")
    model = DeepFMClassifier(**_fast()).fit(X[:2000], y[:2000])
    assert [field.kind for field in model.input_layout_.fields] == [
        "categorical",
        "numeric",
        "categorical",
        "categorical",
    ]
    X_test = X[2000:].reset_index(drop=True)
    X_test.loc[:99, "city"] = "tokyo"  # never seen in fit
    X_test.loc[100:199, "city"] = ""  # how a missing string is fed
    X_test.loc[200:299, "visits"] = 9

    onx = _convert(model, X[:1], options={"zipmap": False})
    assert len(onx.graph.input) == X.shape[1]
    label, proba = _session(onx).run(None, _table_feeds(X_test))
    assert_allclose(proba, model.predict_proba(X_test), atol=ONNX_TOLERANCE)
    assert_array_equal(label, model.predict(X_test))
    # a batch of no row (batching servers send them) gives no row; the
    # numeric column's reshape could not infer its size from none
    none = _session(onx).run(None, _table_feeds(X_test[:0]))
    assert none[0].shape == (0,) and none[1].shape == (0, 2)

    # a missing value given to the estimator reads as the same unknown row
    X_missing = X_test.copy()
    X_missing.loc[100:199, "city"] = None
    assert_allclose(proba, model.predict_proba(X_missing), atol=ONNX_TOLERANCE)


def test_onnx_adult_fed_by_its_own_column_names():
    _onnx()
    from sklearn_deepfm.onnx import onnx_inputs

    X, y = load_adult(return_X_y=True)
    X = X.drop(columns="fnlwgt")  # a quantity that 'auto' would read as codes
    model = DeepFMClassifier(**_fast()).fit(X[:3000], y[:3000])
    onx = _convert(model, X[:1], options={"zipmap": False})
    names = [i.name for i in onx.graph.input]
    assert "education-num" in X.columns and "education-num" not in names
    X_test = X[3000:4000].reset_index(drop=True)
    assert X_test["occupation"].isna().any()  # missing values read as unknown
    session = _session(onx)
    for graph in (session, onx):
        _, proba = session.run(None, onnx_inputs(X_test, graph))
        assert_allclose(proba, model.predict_proba(X_test), atol=ONNX_TOLERANCE)
    with pytest.raises(ValueError, match="feature_names_in_"):
        onnx_inputs(X_test[X_test.columns[::-1]], session)


def test_onnx_regressor_on_a_dataframe():
    _onnx()
    X = _table(2000 + N_TEST)
    y = 3 * X.age + 10 * (X.city == "rome") * X.visits
    model = DeepFMRegressor(**_fast()).fit(X[:2000], y[:2000])
    X_test = X[2000:].reset_index(drop=True)
    X_test.loc[:99, "city"] = "tokyo"

    onx = _convert(model, X[:1])
    (variable,) = _session(onx).run(None, _table_feeds(X_test))
    assert variable.shape == (len(X_test), 1)
    expected = model.predict(X_test)
    # float32 output: a relative tolerance on predictions of size ~100
    assert_allclose(variable[:, 0], expected, rtol=1e-6, atol=1e-5 * np.abs(y).max())


def test_a_regressor_of_a_large_offset_is_served_in_float64():
    # the offset was added in float32: a target of 1e6 + 0.001 * signal
    # fell from R2 0.98 to -0.01 in TorchScript and in a float64 graph
    X, signal = _label_encoded(2000)
    y = 1e6 + 0.001 * signal
    model = DeepFMRegressor(**_fast()).fit(X, y)
    expected = model.predict(X)
    scripted = to_torchscript(model)(**encode(model, X))
    assert scripted.dtype == torch.float64
    assert_allclose(scripted.numpy(), expected, rtol=1e-12)
    _onnx()
    onx = _convert(model, X[:1].astype(np.float64))
    feeds = {_session(onx).get_inputs()[0].name: X.astype(np.float64)}
    (variable,) = _session(onx).run(None, feeds)
    assert variable.dtype == np.float64
    assert_allclose(variable[:, 0], expected, rtol=1e-12)
    # from a DataFrame whose first column is strings (skl2onnx types the
    # output after the first input: it was float32)
    pd = pytest.importorskip("pandas")
    from sklearn_deepfm.onnx import onnx_inputs

    frame = pd.DataFrame({"city": pd.Series(X[:, 0].astype(str), dtype=object)})
    frame["size"] = X[:, 1].astype(np.float64)
    model = DeepFMRegressor(**_fast()).fit(frame, y)
    session = _session(_convert(model, frame[:1]))
    (variable,) = session.run(None, onnx_inputs(frame, session))
    assert variable.dtype == np.float64
    assert_allclose(variable[:, 0], model.predict(frame), rtol=1e-12)
    # a target of scale 1 and mean 0 too (the module gave float32 there)
    flat = DeepFMRegressor(**_fast()).fit(X, np.zeros(len(X)))
    assert to_torchscript(flat)(**encode(flat, X)).dtype == torch.float64


def test_onnx_sparse_fields_and_dense_one_hot_blocks():
    """A sparse matrix with several columns set per field (given ``fields``),
    and a dense one-hot array read as indicator blocks."""
    _onnx()
    rng = np.random.default_rng(0)
    X = sp.random(2000, 20, density=0.2, random_state=0, format="csr", dtype=np.float32)
    y = rng.normal(size=2000) + X[:, 0].toarray().ravel() * X[:, 7].toarray().ravel()
    model = DeepFMRegressor(**_fast(fields=np.arange(20) // 5)).fit(X, y)
    dense = X.toarray()
    (variable,) = _session(_convert(model, dense[:1])).run(None, {"X": dense})
    assert_allclose(variable[:, 0], model.predict(X), rtol=1e-5, atol=1e-5)

    codes, y = _label_encoded(2000)
    one_hot = OneHotEncoder(sparse_output=False).fit_transform(codes[:, :2])
    model = DeepFMClassifier(**_fast()).fit(one_hot, y)
    assert {field.kind for field in model.input_layout_.fields} == {"indicator"}
    one_hot[:50] = 0  # no column set: the unknown row
    one_hot[50:60, 0] = np.nan
    onx = _convert(model, one_hot[:1], options={"zipmap": False})
    _, proba = _session(onx).run(None, {"X": one_hot})
    assert_allclose(proba, model.predict_proba(one_hot), atol=ONNX_TOLERANCE)


def test_onnx_linear_only_model_has_no_interaction_part():
    """The default recipe may keep the first-order part alone; so does the
    graph."""
    _onnx()
    X, y = make_ctr_classification(
        n_samples=3000,
        n_fields=5,
        cardinalities=10,
        interaction_strength=0.0,
        nonlinear_strength=0.0,
        random_state=0,
    )
    model = DeepFMClassifier(hidden_units=(16,), random_state=0).fit(X, y)
    assert not model.interactions_kept_
    onx = _convert(model, X[:1], options={"zipmap": False})
    assert "Gemm" not in _op_types(onx)
    _, proba = _session(onx).run(None, {"X": X})
    assert_allclose(proba, model.predict_proba(X), atol=ONNX_TOLERANCE)


def test_onnx_mixed_precision_model_exports_in_float32():
    """The estimator runs the deep part in bfloat16; the graph in float32:
    they agree to the bfloat16 rounding (documented as 1e-3)."""
    _onnx()
    X, y = _label_encoded(1000)
    model = DeepFMClassifier(**_fast(mixed_precision=True)).fit(X, y)
    onx = _convert(model, X[:1], options={"zipmap": False})
    _, proba = _session(onx).run(None, {"X": X})
    assert_allclose(proba, model.predict_proba(X), atol=1e-3)


def test_onnx_classifier_default_outputs_like_skl2onnx_classifiers():
    _onnx()
    X, y = _label_encoded(600, n_classes=3)
    labels = np.array(["low", "mid", "high"])[y]
    model = DeepFMClassifier(**_fast()).fit(X, labels)
    names = [output.name for output in _convert(model, X[:1]).graph.output]
    assert names == ["output_label", "output_probability"]
    label, probabilities = _session(_convert(model, X[:1])).run(None, {"X": X[:5]})
    assert_array_equal(label, model.predict(X[:5]))
    assert set(probabilities[0]) == set(model.classes_)
    assert probabilities[0]["mid"] == pytest.approx(
        model.predict_proba(X[:1])[0, list(model.classes_).index("mid")], abs=1e-5
    )


@pytest.fixture(scope="module")
def visits_model():
    """A model of a DataFrame whose whole-number column 'visits' is read as
    categories and as a number (a missing value at its mean), and 'floor' as
    categories alone."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "city": rng.choice(["oslo", "rome", "lima"], 2000),
            "visits": rng.integers(0, 15, 2000),
            "floor": rng.integers(0, 4, 2000),
            "age": rng.normal(40, 10, 2000),
        }
    )
    y = (rng.random(2000) < 0.1 + 0.05 * X.visits).astype(int)
    return DeepFMClassifier(**_fast()).fit(X, y), X


def test_onnx_inputs_refuses_values_an_integer_input_cannot_hold(visits_model):
    """Converted from integer visits, the graph's input is int64: NaN and 2.5
    would be cast to INT64_MIN and 2, where predict reads a missing value and
    an unknown category.  A graph converted from float visits reads them as
    predict does."""
    _onnx()
    from sklearn_deepfm.onnx import onnx_inputs

    model, X = visits_model
    rows = X[:3].reset_index(drop=True).astype({"visits": float})
    session = _session(_convert(model, X[:1], options={"zipmap": False}))
    _, proba = session.run(None, onnx_inputs(rows, session))  # whole numbers
    assert_allclose(proba, model.predict_proba(rows), atol=ONNX_TOLERANCE)

    floats = _session(_convert(model, rows[:1], options={"zipmap": False}))
    for value in (np.nan, 2.5):
        odd = rows.assign(visits=[7.0, value, 3.0])
        with pytest.raises(ValueError, match=rf"'visits' holds {value}.*float"):
            onnx_inputs(odd, session)
        _, proba = floats.run(None, onnx_inputs(odd, floats))
        assert_allclose(proba, model.predict_proba(odd), atol=ONNX_TOLERANCE)


def test_onnx_infinity_is_refused_by_onnx_inputs_and_nan_in_the_graph(
    visits_model,
):
    """predict raises for infinity; onnx_inputs too, and the graph, which
    cannot raise, gives NaN for those rows instead of reading an infinite
    code as an unknown category."""
    _onnx()
    from sklearn_deepfm.onnx import onnx_inputs

    model, X = visits_model
    rows = X[:5].reset_index(drop=True).astype({"visits": float, "floor": float})
    rows.loc[1, "floor"] = np.inf  # a category code (else the unknown one)
    rows.loc[2, "visits"] = np.inf  # a code and a number
    rows.loc[3, "age"] = -np.inf  # a number
    for row in (1, 2, 3):
        with pytest.raises(ValueError, match="infinity"):
            model.predict_proba(rows[row : row + 1])
    session = _session(_convert(model, rows[:1], options={"zipmap": False}))
    for column in ("floor", "visits", "age"):
        infinite = rows[~np.isfinite(rows[column])]
        with pytest.raises(ValueError, match=f"infinity in column '{column}'"):
            onnx_inputs(infinite, session)

    _, proba = session.run(None, _table_feeds(rows))
    assert np.isnan(proba[1:4]).all()
    finite = rows.iloc[[0, 4]]
    assert_allclose(proba[[0, 4]], model.predict_proba(finite), atol=ONNX_TOLERANCE)


def test_onnx_inputs_refuses_what_predict_refuses(visits_model):
    """Dates, numbers for string labels, strings for codes or numbers: the
    graph served them (P 1.0 for a date, the label '1' for the number 1,
    the code 1 for '01')."""
    _onnx()
    pd = pytest.importorskip("pandas")
    from sklearn_deepfm.onnx import onnx_inputs

    model, X = visits_model
    session = _session(_convert(model, X[:1], options={"zipmap": False}))
    rows = X[:2].reset_index(drop=True)
    wrong = {
        "dates": rows.assign(age=pd.to_datetime(["2020-01-01", "2021-01-01"])),
        "numbers": rows.assign(city=[1, 2]),
        "strings": rows.assign(floor=["01", "1.0"]),
        "parsed": rows.assign(age=["1.5", "2"]),
    }
    for odd in wrong.values():
        with pytest.raises(TypeError):
            model.predict_proba(odd)
        with pytest.raises(TypeError, match="dates|not a string|holds strings"):
            onnx_inputs(odd, session)
    polars = pytest.importorskip("polars")
    _, proba = session.run(None, onnx_inputs(polars.from_pandas(rows), session))
    assert_allclose(proba, model.predict_proba(rows), atol=ONNX_TOLERANCE)


def test_onnx_inputs_reads_a_column_of_no_value_as_predict_reads_it():
    # a codes column with no value, typed string by its reader, is missing
    # for predict; onnx_inputs refused it as strings ("such as None")
    _onnx()
    pd = pytest.importorskip("pandas")
    from sklearn_deepfm.onnx import onnx_inputs

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 6, 1500).astype(float)
    X = pd.DataFrame({"c": codes, "x": rng.normal(size=1500)})
    y = ((codes % 2) + X.x > 0.5).astype(int)
    model = DeepFMClassifier(**_fast(categorical_features=["c"])).fit(X, y)
    session = _session(_convert(model, X[:1], options={"zipmap": False}))
    rows = X[:5].assign(c=pd.Series([pd.NA] * 5, dtype="string"))
    _, proba = session.run(None, onnx_inputs(rows, session))
    assert_allclose(proba, model.predict_proba(rows), atol=ONNX_TOLERANCE)
    assert_allclose(proba, model.predict_proba(X[:5].assign(c=np.nan)), atol=1e-5)


def test_onnx_missing_strings_where_the_empty_string_is_a_category():
    _onnx()
    pd = pytest.importorskip("pandas")
    from sklearn_deepfm.onnx import MISSING_STRING, onnx_inputs

    rng = np.random.default_rng(0)
    city = rng.choice(["", "oslo", "rome"], 1000).astype(object)
    y = (rng.random(1000) < np.where(city == "", 0.9, 0.2)).astype(int)
    city[:100] = None
    city = pd.Series(city, dtype=object)
    X = pd.DataFrame({"city": city, "size": rng.normal(size=1000)})
    model = DeepFMClassifier(**_fast()).fit(X, y)
    session = _session(_convert(model, X[:1], options={"zipmap": False}))
    rows = pd.DataFrame({"city": ["", None, np.nan, pd.NA], "size": 0.0})
    _, proba = session.run(None, onnx_inputs(rows, session))
    assert_allclose(proba, model.predict_proba(rows), atol=ONNX_TOLERANCE)
    assert abs(proba[0, 1] - proba[1, 1]) > 0.1  # "" is not missing
    X.loc[:5, "city"] = MISSING_STRING
    marked = DeepFMClassifier(**_fast()).fit(X, y)
    with pytest.raises(RuntimeError, match="missing value"):
        _convert(marked, X[:1])


def test_onnx_numbers_beyond_what_predict_accepts_give_nan(visits_model):
    _onnx()
    model, X = visits_model
    rows = X[:4].reset_index(drop=True)
    rows["age"] = [1e20, -1e20, 3.4e38, 40.0]
    for row in range(3):
        with pytest.raises(ValueError, match="standard deviations"):
            model.predict_proba(rows[row : row + 1])
    session = _session(_convert(model, rows[:1], options={"zipmap": False}))
    _, proba = session.run(None, _table_feeds(rows))
    assert np.isnan(proba[:3]).all()
    assert_allclose(proba[3:], model.predict_proba(rows[3:]), atol=ONNX_TOLERANCE)


def test_onnx_float32_input_refuses_codes_it_cannot_hold():
    _onnx()
    from sklearn_deepfm.onnx import onnx_inputs

    rng = np.random.default_rng(0)
    codes = rng.choice([20_000_004, 20_000_005, 7], size=(1000, 1))
    y = (codes[:, 0] == 20_000_005).astype(int)
    model = DeepFMClassifier(**_fast()).fit(codes, y)
    with pytest.raises(RuntimeError, match="float32"):
        _convert(model, codes[:1].astype(np.float32))
    example = codes[:1].astype(np.float64)
    exact = _session(_convert(model, example, options={"zipmap": False}))
    feeds = {exact.get_inputs()[0].name: codes[:50].astype(np.float64)}
    _, proba = exact.run(None, feeds)
    assert_allclose(proba, model.predict_proba(codes[:50]), atol=ONNX_TOLERANCE)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"code": codes[:, 0]})
    model = DeepFMClassifier(**_fast()).fit(frame, y)
    small = frame.assign(code=7)[:1]
    options = {"zipmap": False}
    with pytest.raises(RuntimeError, match="float32"):
        _convert(model, small.astype(np.float32), options=options)
    session = _session(_convert(model, small.astype(np.float64), options=options))
    assert_allclose(
        session.run(None, onnx_inputs(frame[:5], session))[1],
        model.predict_proba(frame[:5]),
        atol=ONNX_TOLERANCE,
    )


def test_onnx_integer_labels_beyond_2_to_the_53_keep_apart():
    # 64-bit ids held as integer labels (a category column): the graph's keys
    # are the exact ints (they went through float64 and merged into one key:
    # every row differed, by up to 0.47); a float64 input, which cannot hold
    # them, is refused
    _onnx()
    pd = pytest.importorskip("pandas")
    from sklearn_deepfm.onnx import onnx_inputs

    rng = np.random.default_rng(0)
    ids = 2**60 + rng.integers(0, 40, 3000) * 3 + 1
    other = rng.integers(0, 10, 3000)
    y = (((ids - 2**60) % 2 == 0) ^ (other % 3 == 0)).astype(int)
    X = pd.DataFrame({"other": other, "id": pd.Series(ids).astype("category")})
    model = DeepFMClassifier(**_fast()).fit(X, y)
    rows = pd.DataFrame({"other": other[:300], "id": ids[:300]})
    options = {"zipmap": False}
    session = _session(_convert(model, rows[:1], options=options))
    assert_allclose(
        session.run(None, onnx_inputs(rows, session))[1],
        model.predict_proba(rows),
        atol=ONNX_TOLERANCE,
    )
    with pytest.raises(RuntimeError, match="float64 input cannot hold"):
        _convert(model, rows[:1].astype(np.float64), options=options)


# TorchScript and torch.export --------------------------------------------------
@pytest.fixture(scope="module")
def fitted_models():
    X, y = _label_encoded(600, n_classes=3)
    X_sparse = sp.random(
        600, 20, density=0.2, random_state=0, format="csr", dtype=np.float32
    )
    return {
        "binary": (DeepFMClassifier(**_fast(batch_norm=True)).fit(X, y > 0), X),
        "multiclass": (DeepFMClassifier(**_fast()).fit(X, y), X),
        "regression": (DeepFMRegressor(**_fast()).fit(X, y * 10.0 + 3), X),
        "ragged": (
            DeepFMClassifier(**_fast(fields=np.arange(20) // 5)).fit(X_sparse, y),
            X_sparse,
        ),
    }


def _scores(model, X):
    if isinstance(model, DeepFMRegressor):
        return model.predict(X)
    return model.decision_function(X)


def test_a_scripted_network_with_dropout_drops_out_in_training_mode():
    # as torch's Dropout does under TorchScript (the package's had returned
    # its input whenever scripted); in evaluation mode it is the identity
    X, y = make_categorical()
    model = DeepFMClassifier(**{**FAST, "dropout": 0.5, "max_epochs": 1}).fit(X, y)
    mlp = torch.jit.script(model.net_.module_.mlp)
    rows = torch.randn(256, mlp.layers[0].in_features)
    mlp.train()
    assert not torch.equal(mlp(rows), mlp(rows))
    mlp.eval()
    assert torch.equal(mlp(rows), model.net_.module_.mlp.eval()(rows))


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression", "ragged"])
def test_torchscript_and_torch_export_match_the_estimator(fitted_models, kind):
    model, X = fitted_models[kind]
    expected = _scores(model, X)
    inputs = encode(model, X)

    scripted = to_torchscript(model)
    assert "unique" not in str(scripted.inlined_graph)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.save/load
        torch.jit.save(scripted, buffer)
        buffer.seek(0)
        loaded = torch.jit.load(buffer)
    assert_allclose(loaded(**inputs).numpy(), expected, rtol=1e-6, atol=1e-6)

    batch = torch.export.Dim("batch")
    dynamic = {name: {0: batch} for name in inputs}
    if kind == "ragged":
        # flat bags: as many entries as values; 4 bags (fields) per row
        entries = torch.export.Dim("entries")
        dynamic = {
            "indices": {0: batch},
            "bag_rows": {0: entries},
            "bag_offsets": {0: 4 * batch},
            "bag_weights": {0: entries},
        }
    example = encode(model, X[:8])
    program = torch.export.export(
        inference_module(model), (), example, dynamic_shapes=dynamic
    )
    assert "unique" not in str(program.graph)
    assert_allclose(program.module()(**inputs).numpy(), expected, rtol=1e-6, atol=1e-6)


def test_torch_onnx_export_without_no_grad_has_no_training_ops(fitted_models):
    """The module exported with gradients enabled carries no Unique op (the
    distinct-rows path of sparse training)."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    model, X = fitted_models["ragged"]
    assert torch.is_grad_enabled()
    inputs = encode(model, X)
    graph = onnx.load_from_string(torch_onnx_export(model, inputs))
    assert "Unique" not in _op_types(graph)
    feeds = {name: tensor.numpy() for name, tensor in inputs.items()}
    (scores,) = _session(graph).run(None, feeds)
    assert_allclose(scores, model.decision_function(X), rtol=1e-5, atol=1e-5)


def _pair_codes(n_samples, random_state=0):
    """Two columns of 25 codes whose pair decides the label (what the
    crosses learn)."""
    rng = np.random.default_rng(random_state)
    a, b = rng.integers(0, 25, n_samples), rng.integers(0, 25, n_samples)
    effect = np.random.default_rng(1).normal(scale=2.0, size=(25, 25))
    y = (rng.random(n_samples) < 1 / (1 + np.exp(-effect[a, b]))).astype(int)
    return np.column_stack([a, b]), y


def _export(model, example, n_bags=1):
    """``torch.export`` of ``model`` from ``example`` with a dynamic batch and
    a dynamic number of bag entries."""
    batch, entries = torch.export.Dim("batch"), torch.export.Dim("entries")
    dynamic = {name: {0: entries} for name in example}  # bag_rows, bag_weights
    dynamic.update(indices={0: batch}, bag_offsets={0: n_bags * batch})
    program = torch.export.export(
        inference_module(model), (), example, dynamic_shapes=dynamic
    )
    return program.module()


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_torch_export_with_crosses_and_one_bag_field_serves_any_batch(pooling):
    """Crossed fields and one multi-valued field: the program serves one and
    two rows (export asked for 3 or more), and with mean pooling rows whose
    bags hold one value each, all weights 1; exported from rows that repeat
    no tag, it serves a cell repeating one (a bag weight of 2 under sum
    pooling, which made encode's arguments differ)."""
    pd = pytest.importorskip("pandas")
    codes, y = _pair_codes(3000)
    rng = np.random.default_rng(0)
    tags = [
        sorted(rng.choice(list("abcdef"), size=rng.integers(0, 3), replace=False))
        for _ in range(len(y))
    ]
    X = pd.DataFrame(
        {
            "user": [f"u{code}" for code in codes[:, 0]],
            "item": [f"i{code}" for code in codes[:, 1]],
            "tags": pd.Series(tags, dtype=object),
        }
    )
    model = DeepFMClassifier(hidden_units=(16,), pooling=pooling, random_state=0)
    model.fit(X, y)
    assert model.crosses_kept_
    program = _export(model, encode(model, X[:8]))
    one_tag = X[X.tags.map(len) == 1][:2]
    repeated = X[:2].assign(tags=[["a", "a"], ["b"]])
    for rows in (X[:1], X[1:3], one_tag, X[:100], repeated):
        served = program(**encode(model, rows)).detach().numpy()
        assert_allclose(served, model.decision_function(rows), rtol=1e-6, atol=1e-6)


def test_torch_export_of_a_one_hot_model_serves_unseen_categories():
    """After OneHotEncoder(handle_unknown="ignore") an unseen category sets no
    column of its field, which only bags can say: encode gives every batch
    the bags, so a program exported from known rows serves unseen ones, down
    to a row with nothing set (no bag entry at all)."""
    codes, y = _pair_codes(3000)
    encoder = OneHotEncoder(handle_unknown="ignore").fit(codes)
    model = DeepFMClassifier(hidden_units=(16,), random_state=0)
    model.fit(encoder.transform(codes), y)
    assert model.crosses_kept_  # read from the bags too
    known = encoder.transform(codes[:8])
    program = _export(model, encode(model, known), n_bags=2)

    unseen = codes[:50].copy()
    unseen[:10, 0] = 99
    unseen[5:15, 1] = 99
    for rows in (unseen[:1], unseen[5:6], unseen[10:11], unseen[20:21], unseen):
        X = encoder.transform(rows)
        inputs = encode(model, X)
        assert sorted(inputs) == sorted(encode(model, known))
        served = program(**inputs).detach().numpy()
        assert_allclose(served, model.decision_function(X), rtol=1e-6, atol=1e-6)


# persistence -----------------------------------------------------------------
def _skops():
    return pytest.importorskip("skops.io")


@pytest.fixture(scope="module")
def persisted_models():
    X, y = make_categorical(n_samples=1200)
    X_sparse = OneHotEncoder().fit_transform(X)
    models = {
        "array": (DeepFMClassifier(**FAST, batch_norm=True).fit(X, y), X),
        "sparse": (DeepFMRegressor(**FAST).fit(X_sparse, y * 2.0), X_sparse),
    }
    try:
        import pandas  # noqa: F401
    except ImportError:
        return models
    table = _table(1200)
    models["dataframe"] = (
        DeepFMClassifier(**FAST).fit(table, np.where(table.age > 40, "a", "b")),
        table,
    )
    return models


def _predictions(model, X):
    if isinstance(model, DeepFMRegressor):
        return model.predict(X)
    return model.predict_proba(X)


@pytest.mark.parametrize("kind", ["array", "sparse", "dataframe"])
def test_skops_round_trip_trusts_only_this_package(persisted_models, kind):
    sio = _skops()
    if kind not in persisted_models:
        pytest.skip("needs pandas")
    model, X = persisted_models[kind]
    data = sio.dumps(model)

    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted and all(name.startswith("sklearn_deepfm.") for name in untrusted)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        weights = [name for name in archive.namelist() if name.endswith(".npy")]
        arrays = [np.load(io.BytesIO(archive.read(name))) for name in weights]
    n_embeddings = model.input_layout_.n_embeddings
    assert any(
        array.shape == (n_embeddings, model.embedding_dim) for array in arrays
    )  # the embedding table is a plain .npy array

    loaded = sio.loads(data, trusted=untrusted)
    assert_array_equal(_predictions(loaded, X), _predictions(model, X))
    assert isinstance(loaded.history_, History)
    assert len(loaded.history_) == len(model.history_)
    assert str(loaded.input_layout_) == str(model.input_layout_)


def test_skops_model_saved_on_cuda_loads_on_cpu():
    """Simulates a model saved on a GPU machine, as in test_docs."""
    sio = _skops()
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    X, y = make_categorical(n_samples=300)
    model = DeepFMClassifier(**FAST).fit(X, y)
    expected = model.predict_proba(X)
    model.net_.device = "cuda"
    model.set_params(device="cuda")
    data = sio.dumps(model)

    with pytest.warns(DeviceWarning):
        loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert loaded.device == "cpu"
    assert_array_equal(loaded.predict_proba(X), expected)


def test_loaded_model_warm_starts_with_its_first_order_part_fixed():
    X, y = make_categorical(n_samples=1200)
    model = DeepFMClassifier(**FAST).fit(X, y)
    loaded = pickle.loads(pickle.dumps(model))
    before = loaded.net_.weights()
    n_epochs = len(loaded.history_)

    loaded.set_params(warm_start=True, max_epochs=2).fit(X, y)
    after = loaded.net_.weights()
    assert_array_equal(after["linear.weight.weight"], before["linear.weight.weight"])
    assert not np.array_equal(after["embedding.weight"], before["embedding.weight"])
    assert len(loaded.history_) == n_epochs + 2


def test_a_skops_file_of_a_wide_model_is_of_the_pickle_s_size():
    # every column's index and name, and every string label, was a JSON node
    # of its own, and the layout was written three times: 20,000 one-hot
    # columns took 49 MB more than the pickle, 2,000 string ids 2.5 MB more
    # (100,000 columns: 244 MiB against 9 MiB); now 0.2 MB for either
    sio = _skops()
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5000, size=(2000, 4)) + [0, 5000, 10000, 15000]
    rows = np.repeat(np.arange(2000), 4)
    one_hot = sp.csr_matrix(
        (np.ones(codes.size), (rows, codes.ravel())), shape=(2000, 20000)
    )
    ids = pd.DataFrame({"user": [f"user-{v}" for v in range(2000)]})
    y = rng.integers(0, 2, 2000)
    for X in (one_hot, ids):
        settings = {**FAST, "max_epochs": 1, "early_stopping": False}
        model = DeepFMClassifier(**settings).fit(X, y)
        data = sio.dumps(model)
        assert len(data) - len(pickle.dumps(model)) < 2**20
        loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
        assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        assert loaded.input_layout_ is loaded._encoder.layout_
        assert str(loaded.input_layout_) == str(model.input_layout_)
        # a state saved before, of plain tuples and object arrays, loads
        field = model.input_layout_.fields[0]
        old = type(field).__new__(type(field))
        old.__setstate__(dict(vars(field)))
        assert old == field or str(old) == str(field)


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_saving_keeps_the_optimizer_state(optimizer):
    sio = _skops()
    X, y = make_categorical(n_samples=300)
    model = DeepFMClassifier(**FAST, optimizer=optimizer).fit(X, y)
    expected = model.net_.optimizer_.state_dict()
    data = sio.dumps(model)
    for loaded in (
        pickle.loads(pickle.dumps(model)),
        sio.loads(data, trusted=sio.get_untrusted_types(data=data)),
    ):
        state = loaded.net_.optimizer_.state_dict()
        assert state["param_groups"] == expected["param_groups"]
        assert state["state"].keys() == expected["state"].keys()
        for key, values in expected["state"].items():
            for name, value in values.items():
                assert_array_equal(np.asarray(state["state"][key][name]), value)


def test_pickling_leaves_the_global_random_state_alone():
    X, y = make_categorical(n_samples=300)
    model = DeepFMClassifier(**FAST).fit(X, y)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    pickle.loads(pickle.dumps(model))
    assert_array_equal(torch.rand(3).numpy(), expected.numpy())


def test_a_loaded_model_trains_on_with_the_optimizer_it_was_trained_with():
    # parameters set after fit act at the next fit, not at loading
    X, y = make_categorical(n_samples=300)
    model = DeepFMClassifier(**{**FAST, "early_stopping": False}).fit(X, y)
    live = pickle.loads(pickle.dumps(model))
    model.set_params(optimizer="sgd", callbacks=["not a callback"])
    loaded = pickle.loads(pickle.dumps(model))
    assert type(loaded.net_.optimizer_) is type(live.net_.optimizer_)
    loaded.set_params(callbacks=None)  # (partial_fit checks them)
    live.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert_array_equal(loaded.predict_proba(X), live.predict_proba(X))


class _Adam(torch.optim.Adam):
    """An optimizer class of the user's (not one the estimators name)."""


@pytest.mark.parametrize(
    "optimizer, later",
    [
        (_Adam, {"optimizer": "sgd"}),
        (torch.optim.Rprop, {"alpha": 0.1}),
        ("adam", {"device": "gpu"}),
    ],
)
def test_a_model_saved_after_set_params_loads_and_trains_on(optimizer, later):
    # a class of the user's was rebuilt as the estimator's optimizer set
    # since (SGD holding Adam's state: a KeyError at partial_fit; Rprop
    # refusing alpha: the file could not be loaded), and an unknown device
    # failed at loading
    sio = _skops()
    X, y = make_categorical(n_samples=300)
    settings = {**FAST, "early_stopping": False, "optimizer": optimizer}
    live = DeepFMClassifier(**settings).fit(X, y)
    model = copy.deepcopy(live).set_params(**later)
    data = sio.dumps(model)
    for loaded in (
        pickle.loads(pickle.dumps(model)),
        copy.deepcopy(model),
        sio.loads(data, trusted=sio.get_untrusted_types(data=data)),
    ):
        assert type(loaded.net_.optimizer_) is type(live.net_.optimizer_)
        if "device" in later:  # (refused at predict, as by the live model)
            loaded.set_params(device="cpu")
        assert_array_equal(loaded.predict_proba(X), live.predict_proba(X))
    if "optimizer" in later:  # (partial_fit takes the one it trained with)
        live.partial_fit(X, y)
        loaded.partial_fit(X, y)
        assert_array_equal(loaded.predict_proba(X), live.predict_proba(X))


def test_a_loaded_model_steps_on_an_optimizer_state_of_its_own(tmp_path):
    # the state shared the memory of a file mapped by joblib (a read-only
    # one crashed Python at partial_fit, a writable one was rewritten)
    X, y = make_categorical(n_samples=300)
    model = DeepFMClassifier(**{**FAST, "early_stopping": False}).fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    saved = path.read_bytes()
    loaded = joblib.load(path, mmap_mode="r+")
    loaded.partial_fit(X, y)
    model.partial_fit(X, y)
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert path.read_bytes() == saved


def test_skops_saves_a_model_whose_callbacks_trained():
    # fit leaves a live torch scheduler on the user's LRScheduler, which
    # skops could not save ("Cannot directly construct TensorBase")
    from skorch.callbacks import LRScheduler
    from torch.optim.lr_scheduler import StepLR

    sio = _skops()
    X, y = make_categorical(n_samples=300)
    scheduler = LRScheduler(StepLR, step_size=1, gamma=0.5)
    model = DeepFMClassifier(**FAST, callbacks=[("steps", scheduler)]).fit(X, y)
    assert hasattr(scheduler, "lr_scheduler_")
    data = sio.dumps(model)
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert hasattr(scheduler, "lr_scheduler_")  # the live model's, left as it was
    loaded.set_params(warm_start=True).fit(X, y)  # trains with it again
    assert hasattr(loaded.callbacks[0][1], "lr_scheduler_")


def test_onnx_of_a_mixed_object_array_advises_one_input_per_column():
    # one input held every column: its advice went from a numeric type to
    # the string type and back; one input per column converts
    _onnx()
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    X, y = load_adult(as_frame=False, return_X_y=True)
    X = X[:1500, [1, 0]]  # workclass (labels), age (codes)
    y = y[:1500]
    model = DeepFMClassifier(**_fast()).fit(X, y)
    with pytest.raises(RuntimeError, match="one input per column"):
        to_onnx(model, X[:1], options={"zipmap": False})
    onx = to_onnx(
        model,
        initial_types=[
            ("workclass", StringTensorType([None, 1])),
            ("age", DoubleTensorType([None, 1])),
        ],
        options={"zipmap": False},
    )
    feeds = {
        "workclass": np.array(
            [[v if isinstance(v, str) else ""] for v in X[:, 0]], dtype=object
        ),
        "age": X[:, 1:].astype(np.float64),
    }
    _, proba = _session(onx).run(None, feeds)
    assert_allclose(proba, model.predict_proba(X), atol=ONNX_TOLERANCE)
