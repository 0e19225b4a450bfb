"""Pairwise crosses in the first-order part: kept where the pairs of
categories carry what the fields alone do not, left out elsewhere, and
served, explained and saved like the rest of the model."""

import pickle
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor, _crosses
from sklearn_deepfm import _base as base
from sklearn_deepfm._crosses import carry_crosses
from sklearn_deepfm.export import encode, to_torchscript

from .conftest import assert_served_as_predicted, make_first_order, torch_onnx_export

N_TRAIN = 6000


def make_pair_table(n_samples=N_TRAIN + 3000, random_state=0):
    """Two ID columns whose pair decides the label through a random table
    (no low-rank structure for the FM to find), a weak third column and a
    number; the columns as a DataFrame, the pair's effect as ``logit``."""
    rng = np.random.default_rng(random_state)
    a, b = rng.integers(0, 25, n_samples), rng.integers(0, 25, n_samples)
    c = rng.integers(0, 5, n_samples)
    effect = np.random.default_rng(1).normal(scale=2.0, size=(25, 25))
    logit = effect[a, b] + 0.3 * c
    y = (rng.random(n_samples) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame(
        {
            "user": [f"u{v}" for v in a],
            "item": [f"i{v}" for v in b],
            "slot": c.astype(str),
            "score": rng.normal(size=n_samples),
        }
    )
    return X, y


def make_mixed_table(n_samples=N_TRAIN + 3000, random_state=0):
    """A low-rank user-item interaction (what the FM learns) plus a random
    table over item and slot (what crosses learn): the recipe mixes the
    trained model with the crossed linear model."""
    rng = np.random.default_rng(random_state)
    a, b = rng.integers(0, 40, n_samples), rng.integers(0, 40, n_samples)
    c = rng.integers(0, 6, n_samples)
    effects = np.random.default_rng(1)
    users, items = effects.normal(size=(40, 2)), effects.normal(size=(40, 2))
    table = effects.normal(size=(40, 6))
    logit = 1.2 * (users[a] * items[b]).sum(axis=1) + table[b, c]
    y = (rng.random(n_samples) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame(
        {
            "user": [f"u{v}" for v in a],
            "item": [f"i{v}" for v in b],
            "slot": c.astype(str),
        }
    )
    return X, y


@pytest.fixture(scope="module")
def mixed_model():
    X, y = make_mixed_table()
    model = DeepFMClassifier(hidden_units=(32,), random_state=0)
    return model.fit(X[:N_TRAIN], y[:N_TRAIN]), X[N_TRAIN:], y[N_TRAIN:]


@pytest.fixture(scope="module")
def pair_model():
    X, y = make_pair_table()
    model = DeepFMClassifier(hidden_units=(32,), random_state=0)
    return model.fit(X[:N_TRAIN], y[:N_TRAIN]), X[N_TRAIN:], y[N_TRAIN:]


@pytest.fixture(scope="module")
def one_hot_model():
    """The pair table one-hot encoded, and a model fitted on its training rows."""
    X, y = make_pair_table()
    columns = ["user", "item", "slot"]
    encoder = OneHotEncoder(handle_unknown="ignore").fit(X[columns][:N_TRAIN])
    one_hot = encoder.transform(X[columns]).tocsr()
    model = DeepFMClassifier(hidden_units=(32,), random_state=0)
    return model.fit(one_hot[:N_TRAIN], y[:N_TRAIN]), one_hot, y, encoder


def test_crosses_are_kept_and_match_lr_over_crosses(pair_model):
    model, X_test, y_test = pair_model
    X, y = make_pair_table()
    assert model.crosses_kept_
    last = model.history_[-1]
    assert last["crosses_kept"] and not last["interactions_kept"]
    assert last["crosses_gain"] > 0
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    # the five-line alternative: one-hot of the columns and of their pairs
    crossed = X.assign(
        user_item=X.user + "|" + X.item,
        user_slot=X.user + "|" + X.slot,
        item_slot=X.item + "|" + X.slot,
    )
    categorical = ["user", "item", "slot", "user_item", "user_slot", "item_slot"]
    lr = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical),
            remainder="passthrough",
        ),
        LogisticRegression(C=0.3, max_iter=1000),
    ).fit(crossed[:N_TRAIN], y[:N_TRAIN])
    lr_auc = roc_auc_score(y_test, lr.predict_proba(crossed[N_TRAIN:])[:, 1])
    assert auc >= lr_auc - 0.005
    # the fields alone cannot learn a random table of pairs
    alone = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["user", "item", "slot"]),
            remainder="passthrough",
        ),
        LogisticRegression(max_iter=1000),
    ).fit(X[:N_TRAIN], y[:N_TRAIN])
    assert auc > roc_auc_score(y_test, alone.predict_proba(X_test)[:, 1]) + 0.05


def test_no_crosses_where_the_fields_add_up():
    X, y = make_first_order()
    model = DeepFMClassifier(hidden_units=(32,), random_state=0).fit(X, y)
    assert not model.crosses_kept_
    assert not model.history_[-1, "crosses_kept"]
    assert model.net_.module_.crosses.pairs.shape[0] == 0


def test_a_one_hot_matrix_is_crossed_as_its_dataframe(pair_model, one_hot_model):
    model, _, y_test = pair_model
    X, _ = make_pair_table()
    sparse, one_hot, _, encoder = one_hot_model
    assert sparse.crosses_kept_
    assert_array_equal(
        sparse.net_.module_.crosses.pairs.numpy(), [[0, 1], [0, 2], [1, 2]]
    )
    auc = roc_auc_score(y_test, sparse.predict_proba(one_hot[N_TRAIN:])[:, 1])
    frame = model.predict_proba(X[N_TRAIN:])[:, 1]
    assert abs(auc - roc_auc_score(y_test, frame)) < 0.01
    # a row with no category in a field arrives as bags, and the call with
    # it predicts every other row as the call without it
    rows = one_hot[N_TRAIN : N_TRAIN + 200].tolil()
    rows[0, : len(encoder.categories_[0])] = 0
    rows = rows.tocsr()
    together = sparse.decision_function(rows)
    assert_allclose(together[1:], sparse.decision_function(rows[1:]), atol=1e-6)


def _with_stored_zeros(one_hot, n_categories):
    """``one_hot`` with a stored 0 in another column of the first field of
    every row: the same matrix to scipy (``toarray`` is unchanged)."""
    rows = one_hot.tocoo()
    first = rows.col[rows.col < n_categories]
    other = np.where(first == 0, 1, 0)  # rows hold one category of field 0
    data = np.r_[rows.data, np.zeros(one_hot.shape[0])]
    index = (np.r_[rows.row, np.arange(one_hot.shape[0])], np.r_[rows.col, other])
    zeros = sp.csr_matrix((data, index), shape=one_hot.shape)
    assert zeros.nnz == one_hot.nnz + one_hot.shape[0]
    assert_array_equal(zeros.toarray(), one_hot.toarray())
    return zeros


def test_a_stored_zero_is_no_entry(one_hot_model):
    # a stored 0.0 in a one-hot field was read as a category beside the row's
    # own, and crossed as one: 0.77 off in predict_proba, another model in fit
    model, one_hot, y, encoder = one_hot_model
    zeros = _with_stored_zeros(one_hot, len(encoder.categories_[0]))
    assert model.crosses_kept_
    test, test_zeros = one_hot[N_TRAIN:], zeros[N_TRAIN:]
    assert_array_equal(model.predict_proba(test_zeros), model.predict_proba(test))
    assert_array_equal(
        model.explain(test_zeros[:5]).values, model.explain(test[:5]).values
    )
    refit = DeepFMClassifier(hidden_units=(32,), random_state=0)
    refit.fit(zeros[:N_TRAIN], y[:N_TRAIN])
    assert_array_equal(refit.predict_proba(test), model.predict_proba(test))


def test_an_unseen_pair_or_category_adds_no_cross_weight(pair_model):
    model, X_test, _ = pair_model
    module = model.net_.module_
    rows = torch.as_tensor(encode(model, X_test[:50])["indices"])
    codes = module.crosses.codes(rows)
    n_seen = module.crosses.keys.shape[0]
    assert (codes < n_seen).all()  # every pair of the test rows was seen
    unseen = X_test[:50].assign(user="never seen")
    codes = module.crosses.codes(torch.as_tensor(encode(model, unseen)["indices"]))
    pairs = module.crosses.pairs.tolist()
    user_slot = model.feature_names_in_.tolist().index("user")
    with_user = [p for p, pair in enumerate(pairs) if user_slot in pair]
    assert (codes[:, with_user] == n_seen).all()
    assert_array_equal(module.crosses.weight[n_seen].numpy(), 0.0)


def test_torchscript_pickle_and_skops_predict_the_same(pair_model):
    model, X_test, _ = pair_model
    expected = model.decision_function(X_test)
    scripted = to_torchscript(model)
    with torch.inference_mode():
        found = scripted(**encode(model, X_test)).numpy()
    assert_allclose(found, expected, atol=1e-5)
    assert_array_equal(
        pickle.loads(pickle.dumps(model)).decision_function(X_test), expected
    )
    sio = pytest.importorskip("skops.io")
    loaded = sio.loads(
        sio.dumps(model), trusted=sio.get_untrusted_types(data=sio.dumps(model))
    )
    assert loaded.crosses_kept_
    assert_array_equal(loaded.decision_function(X_test), expected)


def test_onnx_graph_looks_up_the_crosses(pair_model):
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    from skl2onnx import to_onnx

    import sklearn_deepfm.onnx  # noqa: F401  (registers the converters)
    from sklearn_deepfm.onnx import onnx_inputs

    model, X_test, _ = pair_model
    X_test = X_test.reset_index(drop=True)
    X_test.loc[:99, "user"] = "never seen"
    onx = to_onnx(model, X_test[:1], options={"zipmap": False})
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    _, proba = session.run(None, onnx_inputs(X_test, session))
    assert_allclose(proba, model.predict_proba(X_test), atol=1e-5)


def test_torch_onnx_export_looks_up_the_crosses(pair_model):
    # torch.onnx.export found no searchsorted, the crosses' lookup
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model, X_test, _ = pair_model
    X_test = X_test.reset_index(drop=True)
    X_test.loc[:99, "user"] = "never seen"
    inputs = encode(model, X_test)
    assert model.crosses_kept_ and len(model.net_.module_.crosses.keys) > 100
    session = ort.InferenceSession(
        torch_onnx_export(model, inputs), providers=["CPUExecutionProvider"]
    )
    feeds = {name: tensor.numpy() for name, tensor in inputs.items()}
    (scores,) = session.run(None, feeds)
    assert_allclose(scores, model.decision_function(X_test), atol=1e-5)


def test_prediction_looks_up_a_bounded_number_of_crosses_at_once(
    pair_model, monkeypatch
):
    # rows x pairs entries at once, as the fit bounds them: 19,900 pairs
    # took 3.8 GiB to predict a batch of 4,096 rows
    from sklearn_deepfm import _net

    model, X_test, _ = pair_model
    expected = model.predict_proba(X_test)
    n_pairs = len(model.net_.module_.crosses.pairs)
    monkeypatch.setattr(_net, "MAX_CROSSED_ENTRIES", 200 * n_pairs)
    seen = []
    hook = model.net_.module_.crosses.register_forward_hook(
        lambda module, inputs, output: seen.append(inputs[0].shape[0])
    )
    try:
        assert_array_equal(model.predict_proba(X_test), expected)
    finally:
        hook.remove()
    assert max(seen) * n_pairs <= 200 * n_pairs and len(seen) > 1


def test_explanation_gives_each_cross_to_its_pair(pair_model):
    model, X_test, _ = pair_model
    explanation = model.explain(X_test[:300])
    assert_allclose(
        explanation.base_values + explanation.values.sum(axis=1),
        model.decision_function(X_test[:300]),
        atol=1e-4,
    )
    interactions = explanation.interaction_values
    assert_allclose(interactions, interactions.transpose(0, 2, 1), atol=1e-6)
    # the model is LR + crosses: the pair (user, item) is its cross alone
    assert not model.interactions_kept_
    module = model.net_.module_
    rows = torch.as_tensor(encode(model, X_test[:300])["indices"])
    terms = module.crosses.pair_terms(rows)[..., 0].numpy()
    user_item = module.crosses.pairs.tolist().index([0, 1])
    assert np.abs(terms[:, user_item]).max() > 0.5
    assert_allclose(interactions[:, 0, 1] * 2, terms[:, user_item], atol=1e-6)


def test_crosses_survive_partial_fit_with_new_categories(pair_model):
    # new users move the embedding rows of the later fields (item, slot);
    # the crosses, kept fixed by partial_fit, must follow those rows: the
    # crossed term of rows of known categories stays what it was
    model, X_test, y_test = pair_model
    model = pickle.loads(pickle.dumps(model))
    assert model.crosses_kept_ and model.net_.module_.crosses.pairs.shape[0] == 3

    def crossed_terms(rows):
        categories = torch.as_tensor(encode(model, rows)["indices"])
        with torch.no_grad():
            return model.net_.module_.crosses(categories).numpy()

    before = crossed_terms(X_test)
    assert np.abs(before).max() > 0.5
    item_offset = model.input_layout_.fields[1].offset
    new = X_test[:500].assign(user=[f"new{i % 7}" for i in range(500)])
    model.partial_fit(new, y_test[:500])
    assert model.input_layout_.fields[1].offset == item_offset + 7
    assert_array_equal(crossed_terms(X_test), before)
    # a new user's crosses with the items were never seen: only the item x
    # slot cross remains
    only_item_slot = X_test[:500].assign(user="an unseen user")
    assert_array_equal(crossed_terms(new), crossed_terms(only_item_slot))
    assert np.isfinite(model.decision_function(new)).all()


def test_regressor_and_multiclass_cross_too():
    X, y = make_pair_table()
    effect = np.random.default_rng(1).normal(scale=2.0, size=(25, 25))
    a = X.user.str[1:].astype(int).to_numpy()
    b = X.item.str[1:].astype(int).to_numpy()
    target = effect[a, b] + np.random.default_rng(2).normal(scale=0.5, size=len(X))
    regressor = DeepFMRegressor(hidden_units=(32,), random_state=0)
    regressor.fit(X[:N_TRAIN], target[:N_TRAIN])
    assert regressor.crosses_kept_
    assert regressor.score(X[N_TRAIN:], target[N_TRAIN:]) > 0.8
    classes = np.digitize(target, np.quantile(target, [1 / 3, 2 / 3]))
    classifier = DeepFMClassifier(hidden_units=(32,), random_state=0)
    classifier.fit(X[:N_TRAIN], classes[:N_TRAIN])
    assert classifier.crosses_kept_
    assert classifier.net_.module_.crosses.weight.shape[1] == 3
    assert classifier.score(X[N_TRAIN:], classes[N_TRAIN:]) > 0.6


def test_onnx_one_hot_pipeline_with_crosses_and_unseen_categories():
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    from skl2onnx import to_onnx

    import sklearn_deepfm.onnx  # noqa: F401  (registers the converters)

    X, y = make_pair_table()
    codes = np.stack(
        [X.user.str[1:].astype(int), X.item.str[1:].astype(int), X.slot.astype(int)],
        axis=1,
    )
    pipeline = make_pipeline(
        OneHotEncoder(handle_unknown="ignore"),
        DeepFMClassifier(hidden_units=(32,), random_state=0),
    ).fit(codes[:N_TRAIN], y[:N_TRAIN])
    assert pipeline[-1].crosses_kept_
    X_test = codes[N_TRAIN:].copy()
    X_test[:100, 0] = 99  # an unseen user: no column of its block is set
    onx = to_onnx(pipeline, codes[:1], options={id(pipeline[-1]): {"zipmap": False}})
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    _, proba = session.run(None, {"X": X_test})
    assert_allclose(proba, pipeline.predict_proba(X_test), atol=1e-5)


def test_verbose_fit_says_whether_the_crosses_replaced_the_model(capsys):
    X, y = make_pair_table(4000)
    model = DeepFMClassifier(hidden_units=(16,), random_state=0, verbose=1)
    model.fit(X, y)
    out = capsys.readouterr().out
    gain = model.history_[-1, "crosses_gain"]
    error = model.history_[-1, "crosses_gain_error"]
    trained = (
        model.history_[-1, "interactions_gain"]
        > model.history_[-1, "interactions_gain_error"]
    )
    assert model.crosses_kept_ == (gain > (-error if trained else error))
    verdict = "left out"
    if model.crosses_kept_:
        verdict = f"kept, {model.crosses_share_:.1f} of the raw outputs"
    assert f"DeepFMClassifier: pairwise crosses {verdict}:" in out
    assert f"by {gain:.5f} (standard error {error:.5f})" in out


def test_a_mix_is_the_trained_and_the_crossed_model_in_proportion(
    mixed_model, monkeypatch
):
    model, X_test, _ = mixed_model
    share = model.crosses_share_
    assert 0 < share < 1
    assert model.crosses_kept_ and model.interactions_kept_
    assert model.history_[-1, "crosses_share"] == share
    # the same fits (same seed) with the share fixed at 0 and at 1
    X, y = make_mixed_table()
    fits = {}
    for fixed in (0.0, 1.0):
        monkeypatch.setattr(
            base.BaseDeepFM, "_crosses_share", lambda *_, s=fixed: (s, 1.0, 0.0)
        )
        fitted = DeepFMClassifier(hidden_units=(32,), random_state=0)
        fits[fixed] = fitted.fit(X[:N_TRAIN], y[:N_TRAIN])
    assert not fits[0.0].crosses_kept_ and fits[0.0].interactions_kept_
    assert fits[1.0].crosses_share_ == 1 and not fits[1.0].interactions_kept_
    expected = (1 - share) * fits[0.0].decision_function(X_test)
    expected += share * fits[1.0].decision_function(X_test)
    assert_allclose(model.decision_function(X_test), expected, atol=1e-5)


@pytest.mark.parametrize(("gain", "kept"), [(-0.5, True), (-1.5, False)])
def test_a_mix_stays_unless_the_trained_model_is_clearly_better(
    gain, kept, monkeypatch
):
    # the even mix is the prior: a validation loss a little above the trained
    # model's alone (within one standard error) keeps it
    X, y = make_mixed_table()
    monkeypatch.setattr(
        base.BaseDeepFM, "_crosses_share", lambda *_: (0.5, gain * 0.01, 0.01)
    )
    model = DeepFMClassifier(hidden_units=(32,), random_state=0)
    model.fit(X[:N_TRAIN], y[:N_TRAIN])
    assert model.interactions_kept_
    assert model.crosses_kept_ == kept
    assert model.crosses_share_ == (0.5 if kept else 0.0)


def test_a_mix_is_served_and_explained_as_it_predicts(mixed_model):
    model, X_test, _ = mixed_model
    assert 0 < model.crosses_share_ < 1
    assert_served_as_predicted(model, X_test)


def test_a_solution_carries_to_the_crosses_of_more_rows():
    # the refit on every row starts from the solution on the training rows:
    # the features' weights as they are, each cross's where its key is, zero
    # for the crosses only the added rows have
    keys, new_keys = np.array([3, 7, 9]), np.array([1, 3, 7, 8, 9])
    weight = np.array([[0.5], [-0.5], [1.0], [2.0], [3.0]], dtype=np.float32)
    carried = carry_crosses(weight, keys, new_keys)
    assert_array_equal(carried[:, 0], [0.5, -0.5, 0.0, 1.0, 2.0, 0.0, 3.0])
    # a subset of the rows may lack some of the crosses: those are dropped
    assert_array_equal(
        carry_crosses(weight, keys, np.array([7]))[:, 0], [0.5, -0.5, 2.0]
    )


@pytest.mark.parametrize("pandas", [True, False], ids=["hashed", "binary-search"])
def test_cross_design_with_and_without_pandas(monkeypatch, pandas):
    # the solve's crossed columns: a row's cross of a pair is a column where
    # the training rows saw it, whichever lookup builds the design
    if not pandas:
        monkeypatch.setitem(sys.modules, "pandas", None)  # import fails
    rng = np.random.default_rng(0)

    def rows(n, n_values):
        # each field's embedding rows of its own (field f: 10 f + 1, ...), -1
        # where a field has no single value
        codes = rng.integers(-1, n_values, size=(n, 3))
        return np.where(codes < 0, -1, codes + 1 + 10 * np.arange(3))

    train, test = rows(200, 6), rows(50, 9)
    pairs = _crosses.field_pairs([0, 1, 2])
    keys = _crosses.seen_keys(train, pairs)
    expected_keys = sorted(
        {
            int(a) * _crosses.KEY_BASE + int(b)
            for row in train
            for a, b in zip(row[pairs[:, 0]], row[pairs[:, 1]], strict=True)
            if a >= 0 and b >= 0
        }
    )
    assert keys.tolist() == expected_keys
    design = _crosses.cross_matrix(test, pairs, keys).toarray()
    column = {key: k for k, key in enumerate(expected_keys)}
    expected = np.zeros((len(test), len(keys)), dtype=np.float32)
    for i, row in enumerate(test):
        for a, b in zip(row[pairs[:, 0]], row[pairs[:, 1]], strict=True):
            key = int(a) * _crosses.KEY_BASE + int(b)
            if a >= 0 and b >= 0 and key in column:
                expected[i, column[key]] = 1.0
    assert_array_equal(design, expected)
    assert_array_equal(
        _crosses.cross_matrix(test, pairs, keys[:0]).toarray().shape, (50, 0)
    )
