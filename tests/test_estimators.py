"""The estimators inside scikit-learn's tools, their outputs and their errors."""

import io
import os
import pickle
import platform
import subprocess
import sys
import threading
import time
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.feature_selection import SequentialFeatureSelector
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from skorch.callbacks import Callback, EarlyStopping, EpochScoring, ProgressBar
from torch import nn

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor, _net
from sklearn_deepfm._schedule import SCHEDULE, ReplaySchedule
from sklearn_deepfm.datasets import load_adult

from .conftest import FAST, make_categorical, make_first_order


def test_grid_search_over_embedding_dim_in_a_pipeline():
    X, y = make_categorical(n_samples=400)
    pipe = make_pipeline(
        OneHotEncoder(handle_unknown="ignore"), DeepFMClassifier(**FAST)
    )
    search = GridSearchCV(
        pipe, {"deepfmclassifier__embedding_dim": [2, 8]}, cv=2, scoring="roc_auc"
    )
    search.fit(X, y)
    assert search.best_params_["deepfmclassifier__embedding_dim"] in (2, 8)
    assert search.best_estimator_[-1].net_.module_.embedding.embedding_dim in (2, 8)


def test_grid_search_in_parallel_workers():
    X, y = make_categorical(n_samples=300)
    search = GridSearchCV(
        DeepFMClassifier(**FAST), {"embedding_dim": [2, 4]}, cv=2, n_jobs=2
    ).fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_tools_that_read_the_tags_take_missing_categories():
    # SequentialFeatureSelector refuses NaN unless the tags allow it
    X, y = make_categorical(n_samples=300)
    X = X.astype(float)
    X[::7, 1] = np.nan  # missing categories: the unknown embedding
    selector = SequentialFeatureSelector(
        DeepFMClassifier(**{**FAST, "max_epochs": 2}), n_features_to_select=2, cv=2
    ).fit(X, y)
    assert selector.get_support().sum() == 2


def test_cross_val_score_beside_logistic_regression():
    X, y = make_categorical(n_samples=3000)
    onehot = OneHotEncoder().fit_transform(X)
    model = DeepFMClassifier(**{**FAST, "max_epochs": 20, "early_stopping": False})
    deepfm = cross_val_score(model, X, y, cv=3, scoring="roc_auc")
    linear = cross_val_score(LogisticRegression(), onehot, y, cv=3, scoring="roc_auc")
    assert deepfm.shape == linear.shape == (3,)
    # the label is an interaction of two fields, which a linear model cannot see
    assert deepfm.mean() > linear.mean()


def test_clone_and_params_round_trip():
    model = DeepFMClassifier(embedding_dim=4, hidden_units=(8, 8), lr=0.01)
    params = model.get_params()
    assert params["embedding_dim"] == 4
    copy = clone(model).set_params(embedding_dim=6)
    assert copy.embedding_dim == 6 and model.embedding_dim == 4


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_round_trip_gives_identical_predictions(dump, tmp_path):
    X, y = make_categorical()
    model = DeepFMClassifier(**FAST).fit(X, y)
    path = tmp_path / "model.bin"
    if dump == "pickle":
        path.write_bytes(pickle.dumps(model))
        loaded = pickle.loads(path.read_bytes())
    else:
        joblib.dump(model, path)
        loaded = joblib.load(path)
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert_array_equal(loaded.classes_, model.classes_)


class SaveEstimator(Callback):
    """Pickles the estimator ``holder[0]`` into ``holder[1]`` at every epoch."""

    def __init__(self, holder=None):
        self.holder = holder

    def on_epoch_end(self, net, **kwargs):
        model, saved = self.holder
        saved.append((len(net.history), pickle.dumps(model)))


def test_an_estimator_pickled_during_a_fit_describes_that_training():
    # saved from a callback at every epoch, it had no history_ in a first fit
    # and, in a refit, the previous fit's history_ and interactions_kept_
    # beside this fit's net
    X, _ = make_categorical(n_samples=1200)
    y = np.random.default_rng(0).integers(0, 2, len(X))  # interactions dropped
    first = DeepFMClassifier(**{**FAST, "max_epochs": 3})
    refit = DeepFMClassifier(**{**FAST, "max_epochs": 2}).fit(X, y)
    assert not refit.interactions_kept_
    for model in (first, refit):
        holder = [model, []]
        model.set_params(
            callbacks=[SaveEstimator(holder)], max_epochs=3, random_state=1
        )
        model.fit(X, y)
        assert [epoch for epoch, _ in holder[1]] == [1, 2, 3]
        for epoch, saved in holder[1]:
            loaded = pickle.loads(saved)
            assert len(loaded.history_) == epoch
            assert (
                loaded.history_[-1, "train_loss"]
                == model.history_[epoch - 1, "train_loss"]
            )
            assert loaded.interactions_kept_ == (not loaded.net_.linear_only())


def test_predictions_do_not_depend_on_batching():
    X, y = make_categorical(n_samples=1000)
    model = DeepFMClassifier(**FAST).fit(X, y)
    full = model.decision_function(X)
    model.net_.iterator_valid__batch_size = 7
    assert_allclose(model.decision_function(X), full, rtol=1e-6, atol=1e-7)
    assert_allclose(model.decision_function(X[::-1])[::-1], full, rtol=1e-6, atol=1e-7)
    assert_allclose(
        model.decision_function(X[17:18]), full[17:18], rtol=1e-6, atol=1e-7
    )


def _frame_with_numbers(n_samples=600):
    import pandas as pd

    X, y = make_categorical(n_samples=n_samples)
    frame = pd.DataFrame({f"c{j}": X[:, j].astype(str) for j in range(X.shape[1])})
    frame["amount"] = np.random.default_rng(0).normal(size=n_samples)
    return frame, y


def _multi_hot(n_samples=600):
    X, y = make_categorical(n_samples=n_samples)
    rows = OneHotEncoder().fit_transform(X).tocsr()
    extra = sp.random(n_samples, 5, density=0.3, format="csr", random_state=0)
    extra.data[:] = 1.0
    return sp.hstack([rows, extra]).tocsr(), y


@pytest.mark.parametrize("onednn", [False, True], ids=["blas", "onednn"])
@pytest.mark.parametrize(
    "case",
    [
        "numbers",
        "batch_norm_dropout",
        "multiclass",
        "multi_hot",
        "regressor",
        "no_hidden",
    ],
)
def test_predictions_equal_the_network_forward_bit_for_bit(case, onednn, monkeypatch):
    # Prediction writes the deep part into buffers reused over the batches;
    # the outputs must be those of the network's forward, batch by batch.
    from sklearn_deepfm import _cpu_linear
    from sklearn_deepfm._batching import EncodedDataset

    monkeypatch.setattr(_cpu_linear, "onednn_float32", lambda: onednn)
    params = {**FAST, "max_epochs": 3, "early_stopping": False}
    Estimator, (X, y) = DeepFMClassifier, make_categorical(n_samples=600)
    if case == "numbers":
        X, y = _frame_with_numbers()
    elif case == "batch_norm_dropout":
        params.update(batch_norm=True, dropout=0.3, hidden_units=(32, 16))
    elif case == "multiclass":
        y = X[:, 0] % 3
    elif case == "multi_hot":
        X, y = _multi_hot()
    elif case == "regressor":
        Estimator, y = DeepFMRegressor, X[:, 0] + 0.5 * X[:, 1] * X[:, 2]
    else:
        params.update(hidden_units=())
    model = Estimator(**params).fit(X, y)
    model.net_.iterator_valid__batch_size = 100  # several batches, a short last
    net = model.net_
    dataset = EncodedDataset(model._encode(X))
    predicted = net.predict_raw(dataset)
    net._set_training(False)
    with torch.inference_mode():
        forward = [net.infer(batch)[:n] for batch, n in net._padded_batches(dataset)]
    expected = torch.cat(forward).double().numpy().reshape(len(dataset), -1)
    assert_array_equal(predicted, expected)
    assert_array_equal(net.predict_raw(dataset), predicted)


def test_predictions_do_not_follow_torchs_default_dtype():
    X, y = make_categorical()
    model = DeepFMClassifier(**FAST).fit(X, y)
    expected = model.decision_function(X)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        found = model.decision_function(X)
    finally:
        torch.set_default_dtype(before)
    assert_array_equal(found, expected)


def test_same_seed_same_model_and_global_rng_untouched():
    X, y = make_categorical()
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    first = DeepFMClassifier(**{**FAST, "dropout": 0.2}).fit(X, y).predict_proba(X)
    after = torch.rand(3)
    assert_array_equal(before, after)
    second = DeepFMClassifier(**{**FAST, "dropout": 0.2}).fit(X, y).predict_proba(X)
    assert_array_equal(first, second)
    other = DeepFMClassifier(**{**FAST, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.allclose(first, other)


def test_torch_default_dtype_does_not_change_the_model():
    # a process that set float64 (as BoTorch code does) built and trained
    # another model, float64 throughout; float16 "diverged"
    from sklearn_deepfm.export import inference_module

    X, y = make_categorical(n_samples=300)
    expected = DeepFMClassifier(**FAST).fit(X, y).predict_proba(X)
    before = torch.get_default_dtype()
    for dtype in (torch.float64, torch.float16):
        torch.set_default_dtype(dtype)
        try:
            model = DeepFMClassifier(**FAST).fit(X, y)
        finally:
            torch.set_default_dtype(before)
        assert_array_equal(model.predict_proba(X), expected)
        assert {p.dtype for p in inference_module(model).parameters()} == {
            torch.float32
        }


def test_fits_running_at_once_in_threads_give_the_models_of_their_seeds():
    # as joblib's threading backend runs a search: each fit seeds torch's
    # global generator for its initialisation and draws dropout's masks
    X, y = make_categorical(n_samples=300)
    settings = [{"dropout": 0.3, "random_state": seed} for seed in range(4)]
    settings += [{"random_state": seed, "max_epochs": 3} for seed in range(4)]

    def fit(params):
        model = DeepFMClassifier(**{**FAST, "n_jobs": 1, **params})
        return model.fit(X, y).predict_proba(X)

    expected = [fit(params) for params in settings]
    filters = list(warnings.filters)
    with joblib.parallel_backend("threading", n_jobs=4):
        found = joblib.Parallel()(joblib.delayed(fit)(params) for params in settings)
    for want, got in zip(expected, found, strict=True):
        assert_array_equal(got, want)
    # and leave the warnings filters as they were: the linear solves' filter
    # of ConvergenceWarning, saved and put back by overlapping blocks, had
    # stayed (a user's LogisticRegression no longer warned)
    assert warnings.filters == filters
    # nor move a filter of the user's: an 'ignore' set before an 'error'
    # came first again after a fit, and LogisticRegression no longer raised
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        fit(settings[-1])
        with pytest.raises(ConvergenceWarning):
            LogisticRegression(max_iter=1).fit(X, y)


def test_a_training_with_dropout_and_a_thread_drawing_beside_it_keep_apart():
    # Dropout's masks come from the fit's own generator: a thread seeding and
    # drawing from torch's global generator meanwhile neither gets the fit's
    # draws nor moves the fit's masks (the global generator, swapped for the
    # fit's stream at every forward pass, had done both)
    X, y = make_categorical(n_samples=1_000)
    params = {**FAST, "dropout": 0.3, "early_stopping": False, "n_jobs": 1}
    expected = DeepFMClassifier(**params).fit(X, y).predict_proba(X)
    torch.manual_seed(7)
    reference = torch.rand(64)
    training, stop, differed, draws = threading.Event(), threading.Event(), [], []

    class Training(Callback):
        def on_train_begin(self, net, **kwargs):
            training.set()

        def on_train_end(self, net, **kwargs):
            stop.set()

    def draw():
        training.wait(60)
        while not stop.is_set():
            torch.manual_seed(7)
            draws.append(1)
            if not torch.equal(torch.rand(64), reference):
                differed.append(1)
            time.sleep(0.001)  # leave the fit the interpreter

    drawer = threading.Thread(target=draw, daemon=True)
    drawer.start()
    try:
        model = DeepFMClassifier(**params, callbacks=[Training()]).fit(X, y)
    finally:
        stop.set()
        drawer.join(60)
    assert len(draws) > 20 and not differed
    assert_array_equal(model.predict_proba(X), expected)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() only")
def test_a_process_forked_while_a_fit_draws_in_a_thread_can_fit():
    # the lock of the seeded blocks, held by a thread of the parent at the
    # fork, is a fresh one in the child
    import multiprocessing

    from sklearn_deepfm import _seeding

    held, release = threading.Event(), threading.Event()

    def hold():
        with _seeding.seeded(0):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    held.wait(30)
    try:
        child = multiprocessing.get_context("fork").Process(target=_fit_small)
        child.start()
        child.join(60)
        hung = child.is_alive()
        if hung:
            child.kill()
    finally:
        release.set()
        holder.join(30)
    assert not hung and child.exitcode == 0


def _fit_small():
    X, y = make_categorical(n_samples=100)
    DeepFMClassifier(**{**FAST, "max_epochs": 1, "n_jobs": 1}).fit(X, y)


def test_a_callback_may_fit_another_model_in_a_thread_as_it_initialises():
    # callbacks' initialize (user code) runs outside the seeded blocks' lock
    X, y = make_categorical(n_samples=100)

    class FitsBeside(Callback):
        def initialize(self):
            worker = threading.Thread(target=_fit_small, daemon=True)
            worker.start()
            worker.join(60)
            self.finished = not worker.is_alive()
            return self

    callback = FitsBeside()
    DeepFMClassifier(**{**FAST, "max_epochs": 1, "callbacks": [callback]}).fit(X, y)
    assert callback.finished


def test_log_probabilities_stay_finite_where_probabilities_round_to_zero():
    # computed from the logits, not as the log of rounded probabilities
    # (-inf from a logit of about 37 on)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"code": rng.integers(0, 4, 600), "size": rng.normal(size=600)})
    for y in ((X["size"] > 0).astype(int), (X["size"] > 0) + (X["code"] == 1)):
        model = DeepFMClassifier(**FAST).fit(X, y)
        far = X[:2].assign(size=[1e9, -1e9])  # within what predict accepts
        rows = pd.concat([X[:50], far])
        log_proba, proba = model.predict_log_proba(rows), model.predict_proba(rows)
        assert np.isfinite(log_proba).all() and (proba == 0).any()
        # (1 - expit(logit), predict_proba's, is the less exact one near 0)
        assert_allclose(np.exp(log_proba), proba, rtol=1e-6, atol=1e-15)
        plain = proba > 1e-3
        assert_allclose(log_proba[plain], np.log(proba[plain]), rtol=1e-9, atol=1e-12)


def test_multiclass_with_string_labels():
    X, y = make_categorical(n_samples=900)
    names = np.array(["cat", "dog", "emu"])
    labels = names[(X[:, 0] + (X[:, 1] == X[:, 2])) % 3]
    model = DeepFMClassifier(**{**FAST, "max_epochs": 15}).fit(X, labels)
    assert_array_equal(model.classes_, names)
    proba = model.predict_proba(X)
    assert proba.shape == (900, 3)
    assert_allclose(proba.sum(axis=1), 1)
    assert model.decision_function(X).shape == (900, 3)
    assert set(model.predict(X)) <= set(names)
    assert model.score(X, labels) > 0.8


def test_binary_with_non_contiguous_integer_labels():
    X, y = make_categorical()
    labels = np.where(y == 1, 10, -3)
    model = DeepFMClassifier(**FAST).fit(X, labels)
    assert_array_equal(model.classes_, [-3, 10])
    assert set(np.unique(model.predict(X))) <= {-3, 10}
    scores = model.decision_function(X)
    assert scores.shape == (len(X),)
    assert_array_equal(model.predict(X), np.where(scores > 0, 10, -3))


def test_regression_learns_an_interaction():
    X, _ = make_categorical(n_samples=1500)
    y = 3.0 * (X[:, 0] == X[:, 1]) + X[:, 2] + 100.0
    model = DeepFMRegressor(
        hidden_units=(32,), max_epochs=40, early_stopping=False, random_state=0
    )
    model.fit(X, y)
    assert model.score(X, y) > 0.9
    assert abs(model.predict(X).mean() - y.mean()) < 0.5


def test_sample_weight_changes_the_fit():
    X, y = make_categorical()
    weights = np.where(y == 1, 10.0, 1.0)
    plain = DeepFMClassifier(**FAST).fit(X, y)
    weighted = DeepFMClassifier(**FAST).fit(X, y, sample_weight=weights)
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()
    ones = DeepFMClassifier(**FAST).fit(X, y, sample_weight=np.ones(len(y)))
    assert_array_equal(ones.predict_proba(X), plain.predict_proba(X))


def test_only_the_ratios_of_the_weights_matter_in_every_decision():
    # the quantity test of a whole-number column took the raw weights against
    # a prior counted in rows: weights of 1000 read 'age' otherwise
    rng = np.random.default_rng(8)
    age, a = rng.integers(0, 14, 900), rng.integers(0, 4, 900)
    effect = rng.uniform(0.0, 0.15)
    logit = effect * (age - 7) + 0.5 * (a == 1)
    y = (rng.random(900) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"a": [f"a{v}" for v in a], "age": age})
    settings = {**FAST, "max_epochs": 2, "early_stopping": False}
    plain = DeepFMClassifier(**settings).fit(X, y)
    for scale in (1e-3, 1e3, 1e307):  # (1e307 summed to infinity)
        weighted = DeepFMClassifier(**settings).fit(
            X, y, sample_weight=np.full(900, scale)
        )
        assert weighted.n_fields_ == plain.n_fields_
        assert_allclose(weighted.predict_proba(X), plain.predict_proba(X), atol=1e-6)


def test_rows_of_weight_zero_count_nowhere_in_the_solved_model():
    # the weights' unit was their mean over every row: 1,500 rows of weight 0
    # beside 1,500 of weight 1 doubled the others' weights, and a model left
    # linear at linear_C_ was LogisticRegression's at twice that C; the
    # keep test's floor of validation rows counted them too
    from sklearn_deepfm.datasets import make_ctr_classification

    X, y = make_ctr_classification(
        n_samples=3000,
        n_fields=3,
        cardinalities=8,
        interaction_strength=0.0,
        nonlinear_strength=0.0,
        first_order_strength=1.0,
        random_state=0,
    )
    weights = np.r_[np.ones(1500), np.zeros(1500)]
    model = DeepFMClassifier(hidden_units=(8,), random_state=0)
    model.fit(X, y, sample_weight=weights)
    assert not model.interactions_kept_ and not model.crosses_kept_
    one_hot = OneHotEncoder(handle_unknown="ignore").fit(X)
    lr = LogisticRegression(C=model.linear_C_, tol=1e-10, max_iter=1000)
    lr.fit(one_hot.transform(X[:1500]), y[:1500])
    expected = lr.decision_function(one_hot.transform(X))
    assert_allclose(model.decision_function(X), expected, atol=0.02)
    # about half of the 300 held-out rows weigh something
    assert 100 < model.history_[-1, "interactions_validation_rows"] < 200


@pytest.mark.parametrize("Estimator", [DeepFMClassifier, DeepFMRegressor])
def test_rows_of_weight_zero_leave_the_model_of_the_other_rows(Estimator):
    # they had divided every batch's loss (and the validation loss read in
    # the history) and taken steps: 600 such rows moved predictions by 0.16
    X, y = make_categorical(n_samples=1200)
    padded = np.vstack([X, X[:600]])
    padded_y = np.concatenate([y, y[:600]])
    weights = np.r_[np.ones(1200), np.zeros(600)]
    plain = Estimator(random_state=0).fit(X, y)
    weighted = Estimator(random_state=0).fit(padded, padded_y, sample_weight=weights)
    assert_allclose(weighted.predict(X), plain.predict(X))
    if Estimator is DeepFMClassifier:
        assert_allclose(weighted.predict_proba(X), plain.predict_proba(X))
    assert_allclose(weighted.history_[:, "valid_loss"], plain.history_[:, "valid_loss"])


def test_rows_of_weight_zero_among_the_others_leave_the_recipe_decisions():
    # scattered among Adult's rows, with its whole-number quantities: their
    # draws had moved the quantity test's held-out rows (5 of 40 tables read
    # a column otherwise)
    X, y = load_adult(return_X_y=True)
    X, y = X.iloc[:3000].reset_index(drop=True), np.asarray(y)[:3000]
    rng = np.random.default_rng(0)
    weighted = np.ones(4000, dtype=bool)
    weighted[rng.choice(4000, 1000, replace=False)] = False
    rows = np.empty(4000, dtype=np.int64)
    rows[weighted] = np.arange(3000)
    rows[~weighted] = rng.integers(0, 3000, 1000)
    plain = DeepFMClassifier(random_state=0).fit(X, y)
    padded = DeepFMClassifier(random_state=0).fit(
        X.iloc[rows], y[rows], sample_weight=weighted.astype(float)
    )
    assert str(padded.input_layout_) == str(plain.input_layout_)
    assert_allclose(padded.predict_proba(X), plain.predict_proba(X))
    # and partial_fit's batch_size='auto' counts the rows of weight too
    with pytest.warns(UserWarning, match="fnlwgt"):
        stream = DeepFMClassifier(random_state=0).partial_fit(
            X.iloc[rows], y[rows], classes=[0, 1], sample_weight=weighted.astype(float)
        )
    with pytest.warns(UserWarning, match="fnlwgt"):
        alone = DeepFMClassifier(random_state=0).partial_fit(X, y, classes=[0, 1])
    assert stream.net_.batch_size == alone.net_.batch_size


def test_a_class_whose_rows_all_weigh_zero_keeps_the_recipe():
    # its rows left out, the stratified hold-out had found the class empty
    # and early stopping (and the recipe) went off, with a warning
    X, y = make_categorical(n_samples=1200)
    y = np.where(X[:, 0] == 0, 2, y)  # three classes
    for model in (
        DeepFMClassifier(class_weight={2: 0.0}, **FAST),
        DeepFMClassifier(**FAST),
    ):
        weights = None if model.class_weight else np.where(y == 2, 0.0, 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.fit(X, y, sample_weight=weights)
        assert model.linear_C_ is not None
        assert model.predict_proba(X).shape == (1200, 3)


def test_a_class_whose_rows_all_weigh_zero_is_left_out_without_a_hold_out():
    # its two rows kept for the hold-out had gone into partial_fit's and
    # early_stopping=False's batches too (predictions moved by 0.05)
    X, y = make_categorical(n_samples=1200)
    y = np.where(np.random.default_rng(0).random(1200) < 0.1, 2, y)
    other = y != 2
    stream = DeepFMClassifier(class_weight={2: 0.0}, **FAST)
    alone = DeepFMClassifier(class_weight={2: 0.0}, **FAST)
    for part in np.array_split(np.arange(1200), 3):
        stream.partial_fit(X[part], y[part], classes=[0, 1, 2])
        kept = part[other[part]]
        alone.partial_fit(X[kept], y[kept], classes=[0, 1, 2])
    assert_allclose(stream.predict_proba(X), alone.predict_proba(X))
    plain = {**FAST, "early_stopping": False, "class_weight": {2: 0.0}}
    weighted = DeepFMClassifier(**plain).fit(X, y)
    padded = DeepFMClassifier(**plain).fit(
        np.vstack([X, X[~other][:40]]), np.r_[y, y[~other][:40]]
    )
    assert_allclose(padded.predict_proba(X), weighted.predict_proba(X))


def test_a_partial_fit_call_whose_rows_all_weigh_zero_takes_no_step():
    # by class_weight (sample_weight of zeros is refused): Adam had stepped
    # on its moments and moved predictions by up to 0.065
    X, y = make_categorical(n_samples=1200)
    model = DeepFMClassifier(class_weight={0: 0.0, 1: 1.0}, **FAST)
    model.partial_fit(X, y, classes=[0, 1])
    before, epochs = model.predict_proba(X), len(model.history_)
    model.partial_fit(X[y == 0], y[y == 0])
    assert_allclose(model.predict_proba(X), before)
    assert len(model.history_) == epochs


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_rows_of_weight_zero_do_not_set_the_scaling_of_numbers(how):
    # as in the loss: 10 rows of weight 0 holding 1e7 scaled the column by
    # 811,089, and the test AUC fell from 0.898 to 0.562
    rng = np.random.default_rng(0)
    x = rng.normal(size=600)
    X = pd.DataFrame({"x": x, "c": rng.integers(0, 3, 600).astype(str)})
    y = (x + rng.normal(scale=0.5, size=600) > 0).astype(int)
    junk = pd.DataFrame({"x": np.full(10, 1e7), "c": ["a"] * 10})
    with_junk = pd.concat([X, junk], ignore_index=True)
    weights = np.r_[np.ones(600), np.zeros(10)]
    scales = []
    for data, target, weight in (
        (X, y, None),
        (with_junk, np.r_[y, [1] * 10], weights),
    ):
        model = DeepFMClassifier(**FAST)
        if how == "fit":
            model.fit(data, target, sample_weight=weight)
        else:
            model.partial_fit(data, target, classes=[0, 1], sample_weight=weight)
        field = next(f for f in model.input_layout_.fields if f.kind == "numeric")
        scales.append((field.mean, field.scale))
    assert_allclose(scales[1], scales[0], rtol=1e-12)


def test_weights_all_zero_on_one_side_of_the_hold_out_are_an_error():
    # as SGDClassifier: with no weighted validation row every decision fell
    # to its default, silently; with no weighted training row scikit-learn's
    # solver said the user's weights were all zero
    # (rows of weight 0 count nowhere: one row of weight cannot be split)
    X, y = make_categorical(n_samples=1200)
    weights = np.zeros(len(y))
    weights[7] = 1.0  # one side of the hold-out or the other has none
    for Estimator in (DeepFMClassifier, DeepFMRegressor):
        model = Estimator(**{**FAST, "early_stopping": True})
        with pytest.raises(ValueError, match="of positive weight"):
            model.fit(X, y, sample_weight=weights)
        # 'auto' trains without the recipe, and says why (on small data
        # with weights of 0 the few held-out rows often had none: it raised)
        model = Estimator(**FAST)
        with pytest.warns(UserWarning, match="of positive weight") as w:
            model.fit(X, y, sample_weight=weights)
        assert model.linear_C_ is None
        assert w[0].filename == __file__  # it points at the caller's line


def test_a_callback_that_ends_training_leaves_the_schedule_its_epoch():
    # it ran before the recipe's schedule, which never weighed the epoch that
    # ended training: the best one (epoch 3) was not the one kept
    class StopAfter(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) >= 3:
                raise KeyboardInterrupt  # as skorch's EarlyStopping ends it

    X, y = make_categorical(n_samples=1500)
    model = DeepFMClassifier(
        callbacks=[StopAfter()], **{**FAST, "early_stopping": True, "max_epochs": 10}
    ).fit(X, y)
    history = model.history_
    assert len(history) == 3
    losses = history[:, "valid_loss"]
    assert history[-1, "best_epoch"] == int(np.argmin(losses)) + 1
    assert "lr_cut" in history[-1]


def test_the_users_callbacks_read_the_schedules_keys_at_every_epoch():
    # the schedule ran after them: a logger never saw best_epoch or lr_cut,
    # and a Checkpoint monitoring best_epoch met a KeyError. The epoch at
    # which the schedule ends training is still theirs to see
    class Logger(Callback):
        def initialize(self):
            self.rows = []
            return self

        def on_epoch_end(self, net, **kwargs):
            self.rows.append(
                {k: net.history[-1].get(k) for k in ("best_epoch", "lr_cut")}
            )

    X, y = make_categorical(n_samples=1500)
    logger = Logger()
    model = DeepFMClassifier(
        callbacks=[logger],
        n_iter_no_change=1,
        **{**FAST, "early_stopping": True, "max_epochs": 30},
    ).fit(X, y)
    epochs = len(model.history_)
    assert epochs < 30  # the schedule ended training
    assert len(logger.rows) == epochs
    assert logger.rows == [
        {k: model.history_[e, k] for k in ("best_epoch", "lr_cut")}
        for e in range(epochs)
    ]
    assert all(row["best_epoch"] is not None for row in logger.rows)


def test_an_error_in_a_callback_leaves_the_best_epoch_as_ctrl_c_does():
    class FailAfter(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) >= 2:
                raise RuntimeError("a logging service is down")

    X, y = make_categorical(n_samples=1500)
    model = DeepFMClassifier(
        callbacks=[FailAfter()], **{**FAST, "early_stopping": True, "max_epochs": 10}
    )
    with pytest.raises(RuntimeError, match="logging service"):
        model.fit(X, y)
    schedule = dict(model.net_.callbacks_)[SCHEDULE]
    assert schedule.best_state_ is None  # restored, and no second copy kept
    assert np.isfinite(model.predict_proba(X)).all()


@pytest.mark.parametrize("early_stopping", [False, "auto"])
@pytest.mark.parametrize("policy", ["StepLR", "OneCycleLR"])
def test_a_warm_fit_goes_on_with_a_learning_rate_scheduler(early_stopping, policy):
    # torch's schedulers resume from the groups' initial_lr (and OneCycleLR's
    # max_lr), which the warm fit's fresh optimizer lacked: KeyError. A fit
    # whose interactions the recipe dropped ends with fewer groups than the
    # warm fit starts with (labels unrelated to the rows: dropped)
    from skorch.callbacks import LRScheduler

    settings = {
        "StepLR": {"step_size": 1, "gamma": 0.5},
        "OneCycleLR": {"max_lr": 0.01, "total_steps": 1000, "step_every": "batch"},
    }[policy]
    X, _ = make_categorical(n_samples=1200)
    y = np.random.default_rng(0).integers(0, 2, len(X))
    model = DeepFMClassifier(
        warm_start=True,
        early_stopping=early_stopping,
        callbacks=[LRScheduler(getattr(torch.optim.lr_scheduler, policy), **settings)],
        **{**FAST, "max_epochs": 2},
    ).fit(X, y)
    epochs = len(model.history_)
    model.fit(X, y)
    assert len(model.history_) > epochs


def test_skorch_callbacks_and_history():
    class CountEpochs(Callback):
        def initialize(self):
            self.epochs = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    X, y = make_categorical(n_samples=1200)
    counter = CountEpochs()
    model = DeepFMClassifier(
        callbacks=[
            counter,
            # a name of the user's choosing, even one a word of the recipe's
            ("schedule", EpochScoring("roc_auc", lower_is_better=False)),
        ],
        **{**FAST, "early_stopping": True, "max_epochs": 3},
    ).fit(X, y)
    assert isinstance(dict(model.net_.callbacks_)["schedule"], EpochScoring)
    assert "roc_auc" in model.history_[-1]
    fitted_counter = dict(model.net_.callbacks_)["CountEpochs"]
    assert fitted_counter.epochs == len(model.history_) >= 1
    assert "valid_loss" in model.history_[-1]
    assert {"train_loss", "dur"} <= set(model.history_[0])
    # refused with a reason: the estimator's own callback name (it ran twice),
    # and scoring without the cached predictions (skorch's "got None")
    for callbacks in (
        [("deepfm_schedule", CountEpochs())],
        [EpochScoring("roc_auc", use_caching=False)],
    ):
        with pytest.raises(ValueError, match="estimator's"):
            DeepFMClassifier(callbacks=callbacks, **FAST).fit(X, y)


def test_callbacks_that_read_the_gradients_get_dense_ones():
    # the default lazy Adam's sparse embedding gradients met torch's "no
    # norm of a sparse tensor" in skorch's GradientNormClipping, every fit
    from skorch.callbacks import GradientNormClipping

    X, y = make_categorical(n_samples=600)
    clip = [GradientNormClipping(gradient_clip_value=1.0)]
    model = DeepFMClassifier(callbacks=clip, **FAST).fit(X, y)
    assert np.isfinite(model.predict_proba(X)).all()
    stream = DeepFMClassifier(**FAST).partial_fit(X, y, classes=[0, 1])
    stream.set_params(callbacks=clip).partial_fit(X, y)  # from a later call on
    assert np.isfinite(stream.predict_proba(X)).all()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_epoch_scoring_takes_label_scores_too(n_classes):
    # the net's predict gave probabilities, so 'accuracy' saw continuous
    # multi-output predictions and raised
    X, y = make_categorical(n_samples=1200)
    y = y if n_classes == 2 else X[:, 0] % 3
    scores = [
        EpochScoring("accuracy", lower_is_better=False, name="valid_acc"),
        EpochScoring("neg_log_loss", lower_is_better=False, name="valid_nll"),
    ]
    model = DeepFMClassifier(
        callbacks=scores, **{**FAST, "early_stopping": True, "max_epochs": 3}
    ).fit(X, y)
    accuracy = model.history_[:, "valid_acc"]
    assert all(0.4 < value <= 1 for value in accuracy)
    assert_allclose(
        -np.array(model.history_[:, "valid_nll"]),
        model.history_[:, "valid_loss"],
        rtol=1e-4,
    )


class ValidationRows(Callback):
    """Records the loss of every validation row after each epoch."""

    def on_train_begin(self, net, **kwargs):
        self.losses = []

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        self.losses.append(net.row_losses(dataset_valid))


def _rises(losses, best):
    """Each epoch's mean rise of the row losses over epoch ``best``'s (1-based),
    in standard errors of the per-row difference."""
    rises = []
    for epoch_losses in losses:
        difference = epoch_losses - losses[best - 1]
        error = difference.std(ddof=1) / np.sqrt(difference.size)
        rises.append(difference.mean() / error if error > 0 else 0.0)
    return np.array(rises)


def _fit_recording_rows(**params):
    """A default-recipe fit of 2,000 rows, and each epoch's validation row
    losses."""
    X, y = make_categorical(n_samples=2000)
    rows = ValidationRows()
    params = {"hidden_units": (64,), **params}
    model = DeepFMClassifier(
        early_stopping=True, random_state=0, callbacks=[("rows", rows)], **params
    ).fit(X, y)
    return model, rows.losses


def test_early_stopping_stops_n_iter_no_change_epochs_after_the_best():
    model, row_losses = _fit_recording_rows(max_epochs=100)
    history = model.history_
    assert len(history) < 100
    losses = np.array(history[:, "valid_loss"])
    best = history[-1, "best_epoch"]
    assert losses[best - 1] == losses.min()
    # stopped n_iter_no_change epochs after the best one, or sooner after an
    # epoch clearly worse than it (by more than one standard error)
    rises = _rises(row_losses, best)
    stopped_after = len(history) - best
    assert stopped_after in (1, model.n_iter_no_change)
    assert (rises[-1] > 1) == (stopped_after < model.n_iter_no_change)
    assert np.all(rises[best:-1] <= 1)
    assert history[-1, "interactions_kept"] == model.interactions_kept_


def test_early_stopping_ends_at_a_clear_rise_of_the_validation_loss():
    # patience so long that only a clear rise can end training before
    # max_epochs; every earlier epoch without improvement was within one
    # standard error of the best (the learning rate was cut and training went on)
    # (a wider network, which overfits these 2,000 rows within an epoch)
    model, row_losses = _fit_recording_rows(
        max_epochs=40, n_iter_no_change=40, hidden_units=(256, 256)
    )
    history = model.history_
    assert len(history) < 40
    best = history[-1, "best_epoch"]
    rises = _rises(row_losses, best)
    assert rises[-1] > 1
    assert np.all(rises[best:-1] <= 1)


class RecordsTheSteps(Callback):
    """Records the deep part's weights after every training step, what the
    net holds at each epoch's end, and whether each epoch's training starts
    from the last step's weights."""

    def on_train_begin(self, net, **kwargs):
        self.params = list(net.module_.mlp.parameters())  # the deep part
        self.steps, self.held_at_epoch_end, self.resumed = [], [], []
        self.first_batch = False

    def on_epoch_begin(self, net, **kwargs):
        self.first_batch = True

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and self.first_batch and self.steps:
            last = self.steps[-1]
            self.resumed.append(all(map(torch.equal, self.params, last)))
        self.first_batch = False

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.steps.append([p.detach().clone().double() for p in self.params])

    def on_epoch_end(self, net, **kwargs):
        self.held_at_epoch_end.append([p.detach().clone() for p in self.params])


def _running_averages(steps, decay):
    """The debiased exponential average of decay ``decay`` of the weights
    ``steps`` (one list of tensors per step), after every step."""
    total = [torch.zeros_like(w) for w in steps[0]]
    mass, averages = 0.0, []
    for weights in steps:
        total = [decay * t + w for t, w in zip(total, weights, strict=True)]
        mass = decay * mass + 1
        averages.append([t / mass for t in total])
    return averages


def test_the_schedule_validates_and_keeps_the_average_of_half_an_epochs_steps():
    X, y = make_categorical(n_samples=2000)
    steps = RecordsTheSteps()
    model = DeepFMClassifier(
        callbacks=[steps],
        # numeric fields: no pairwise crosses to mix into the weights after
        categorical_features=[False] * X.shape[1],
        **{**FAST, "early_stopping": True, "batch_size": 64, "max_epochs": 6},
    ).fit(X, y)
    assert model.interactions_kept_ and model.crosses_share_ == 0
    history = model.history_
    per_epoch = history[0, "train_batch_count"]
    assert len(steps.steps) == per_epoch * len(history) and len(history) >= 2
    # the debiased exponential average of decay 1 - 1 / (half the steps of an
    # epoch)
    averages = _running_averages(steps.steps, 1 - 1 / (per_epoch / 2))
    for epoch, held in enumerate(steps.held_at_epoch_end, start=1):
        # each epoch's validation pass (and every decision on it) saw the
        # average, not the last step's weights
        last = steps.steps[epoch * per_epoch - 1]
        average = averages[epoch * per_epoch - 1]
        for p, a in zip(held, average, strict=True):
            assert_allclose(p.double().numpy(), a.numpy(), atol=1e-6)
        assert not all(
            np.allclose(p.double().numpy(), w.numpy(), atol=1e-3)
            for p, w in zip(held, last, strict=True)
        )
    # training went on from the last step's weights, not from the average
    assert steps.resumed == [True] * (len(history) - 1)
    # the fitted model keeps the average of the best epoch
    kept = steps.held_at_epoch_end[history[-1, "best_epoch"] - 1]
    for p, a in zip(model.net_.module_.mlp.parameters(), kept, strict=True):
        assert_array_equal(p.detach().numpy(), a.numpy())


def test_with_batch_norm_the_schedule_keeps_the_last_steps_weights():
    # averaged weights would not match the running statistics of the batches
    X, y = make_categorical(n_samples=2000)
    steps = RecordsTheSteps()
    model = DeepFMClassifier(
        callbacks=[steps],
        batch_norm=True,
        **{**FAST, "early_stopping": True, "batch_size": 64, "max_epochs": 3},
    ).fit(X, y)
    per_epoch = model.history_[0, "train_batch_count"]
    for epoch, held in enumerate(steps.held_at_epoch_end, start=1):
        last = steps.steps[epoch * per_epoch - 1]
        for p, w in zip(held, last, strict=True):
            assert_array_equal(p.double().numpy(), w.numpy())


@pytest.mark.parametrize("n_samples", [1025, 1139])
def test_batch_norm_trains_on_any_number_of_rows(n_samples):
    # 1025 = 16 x 64 + 1 rows without early stopping, and 1139 rows whose
    # training split is 1025: a last batch of one row joins the one before
    # (batch normalisation cannot train on one row)
    X, y = make_categorical(n_samples=n_samples)
    model = DeepFMClassifier(
        batch_norm=True,
        **{**FAST, "early_stopping": n_samples == 1139, "batch_size": 64},
    ).fit(X, y)
    assert model.history_[0, "train_batch_count"] == 16
    assert np.isfinite(model.predict_proba(X)).all()
    # a call of one row has no batch to join: a clear error, not torch's
    with pytest.raises(ValueError, match="batch_norm=True cannot train on fewer"):
        model.partial_fit(X[:1], y[:1])
    assert np.isfinite(model.predict_proba(X)).all()


# numeric fields: no pairwise crosses to mix into the weights afterwards
RETRAINED = {
    "categorical_features": [False] * 4,
    **{**FAST, "early_stopping": True, "batch_size": 64, "max_epochs": 6},
}


def _record_the_second_training(monkeypatch, interrupt_at=None):
    """Record every step of the recipe's second training (its epoch, the
    learning rates and the deep part's weights) without changing it, or
    raise KeyboardInterrupt at step ``interrupt_at``, as Ctrl-C would."""
    record = {"epochs": [], "lrs": [], "steps": []}
    original = ReplaySchedule.on_batch_end

    def on_batch_end(self, net, training=False, **kwargs):
        original(self, net, training=training, **kwargs)
        if training:
            record["epochs"].append(len(net.history))
            record["lrs"].append([g["lr"] for g in net.optimizer_.param_groups])
            mlp = net.module_.mlp.parameters()
            record["steps"].append([p.detach().clone().double() for p in mlp])
            if len(record["steps"]) == interrupt_at:
                raise KeyboardInterrupt

    monkeypatch.setattr(ReplaySchedule, "on_batch_end", on_batch_end)
    return record


def test_the_kept_interactions_are_trained_again_on_every_row(monkeypatch):
    record = _record_the_second_training(monkeypatch)
    X, y = make_categorical(n_samples=2000)
    model = DeepFMClassifier(**RETRAINED).fit(X, y)
    assert model.interactions_kept_ and model.crosses_share_ == 0
    history = model.history_
    best = history[-1, "best_epoch"]
    assert history[-1, "retrained_epochs"] == best
    # the first training's epochs up to its best one, on every row: 1,800
    # training rows made 29 batches of 64, all 2,000 rows make 32
    assert history[0, "train_batch_count"] == 29
    assert record["epochs"] == [e for e in range(1, best + 1) for _ in range(32)]
    # the learning rates cut after the epochs the first training cut them
    first = np.array(record["lrs"][0])
    for epoch, lrs in zip(record["epochs"], record["lrs"], strict=True):
        cuts = sum(history[e - 1, "best_epoch"] != e for e in range(1, epoch))
        assert_allclose(lrs, first * 0.1**cuts)
    # the model holds the debiased average of its steps, over half an epoch
    average = _running_averages(record["steps"], 1 - 1 / (32 / 2))[-1]
    for p, a in zip(model.net_.module_.mlp.parameters(), average, strict=True):
        assert_allclose(p.detach().double().numpy(), a.numpy(), atol=1e-6)


def test_with_callbacks_of_its_own_the_model_is_the_first_training():
    # the user's callbacks watched the first training; it is the model
    X, y = make_categorical(n_samples=2000)
    watched = DeepFMClassifier(callbacks=[Callback()], **RETRAINED).fit(X, y)
    assert watched.interactions_kept_
    assert "retrained_epochs" not in watched.history_[-1]
    retrained = DeepFMClassifier(**RETRAINED).fit(X, y)
    assert not np.allclose(watched.predict_proba(X), retrained.predict_proba(X))


def test_ctrl_c_during_the_second_training_keeps_the_first(monkeypatch):
    X, y = make_categorical(n_samples=2000)
    first = DeepFMClassifier(callbacks=[Callback()], **RETRAINED).fit(X, y)
    _record_the_second_training(monkeypatch, interrupt_at=3)
    model = DeepFMClassifier(**RETRAINED)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert model.interactions_kept_
    assert_array_equal(model.predict_proba(X), first.predict_proba(X))


class CtrlC(Callback):
    """Raises KeyboardInterrupt, as Ctrl-C would, in the middle of an epoch."""

    def __init__(self, epoch, batch=2):
        self.epoch = epoch
        self.batch = batch

    def on_batch_end(self, net, training=False, **kwargs):
        batches = net.history[-1, "batches"]
        if training and len(net.history) == self.epoch and len(batches) == self.batch:
            raise KeyboardInterrupt


def test_ctrl_c_during_fit_reaches_the_caller_and_keeps_the_epochs_done():
    X, y = make_categorical(n_samples=2000)
    settings = {**FAST, "early_stopping": True, "batch_size": 128, "n_jobs": 1}
    model = DeepFMClassifier(callbacks=[CtrlC(epoch=3)], **settings)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y)
        assert torch.get_num_threads() == 2  # n_jobs=1 while fitting, restored
    finally:
        torch.set_num_threads(before)
    # two epochs done and the third begun; the schedule restored the best of
    # the two, which are the weights of a fit of two epochs
    assert len(model.history_) == 3 and "valid_loss" not in model.history_[-1]
    two_epochs = DeepFMClassifier(**{**settings, "max_epochs": 2}).fit(X, y)
    interrupted = model.net_.module_.state_dict()
    for name, value in two_epochs.net_.module_.state_dict().items():
        # the first-order part (and its crosses) is refitted when the
        # interactions are dropped
        if not name.startswith(("linear", "crosses")):
            assert_array_equal(interrupted[name].numpy(), value.numpy(), name)
    assert model.predict_proba(X).shape == (2000, 2)


def test_ctrl_c_during_partial_fit_reaches_the_caller():
    X, y = make_categorical(n_samples=1000)
    model = DeepFMClassifier(callbacks=[CtrlC(epoch=2)], batch_size=128, **FAST)
    model.partial_fit(X, y, classes=[0, 1])  # one pass per call
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X, y)
    assert np.isfinite(model.predict_proba(X)).all()


def test_skorch_early_stopping_still_ends_training_quietly():
    # skorch's own EarlyStopping raises KeyboardInterrupt in on_epoch_end:
    # that is the end of training, not the user's Ctrl-C
    X, y = make_categorical(n_samples=600)
    stop = EarlyStopping(monitor="train_loss", patience=1, threshold=10.0)
    model = DeepFMClassifier(
        callbacks=[stop], **{**FAST, "max_epochs": 10, "early_stopping": False}
    ).fit(X, y)
    assert len(model.history_) == 2


def test_without_interactions_the_model_is_the_logistic_regression():
    # first-order data only: the deep part cannot beat the linear part on the
    # validation rows, so the model is a LogisticRegression refitted on all
    # rows with the chosen C, on the same one-hot features
    X, y = make_first_order()
    model = DeepFMClassifier(hidden_units=(32,), random_state=0).fit(X, y)
    assert model.interactions_kept_ is False
    assert model.linear_C_ in (0.03, 0.1, 0.3, 1.0, 3.0)
    linear = make_pipeline(
        OneHotEncoder(handle_unknown="ignore"),
        LogisticRegression(C=model.linear_C_, solver="newton-cg", max_iter=1000),
    ).fit(X, y)
    assert_allclose(model.decision_function(X), linear.decision_function(X), atol=2e-3)


@pytest.mark.parametrize("Estimator", [DeepFMClassifier, DeepFMRegressor])
def test_without_early_stopping_nothing_is_solved(Estimator, monkeypatch):
    # early_stopping=False is partial_fit's algorithm on all rows: no linear
    # model is fitted, the first-order weights learn by gradient steps
    def no_solver(*args, **kwargs):
        raise AssertionError("a linear model was solved")

    monkeypatch.setattr(LogisticRegression, "fit", no_solver)
    monkeypatch.setattr(Ridge, "fit", no_solver)
    X, y = make_categorical(n_samples=2000)
    model = Estimator(**{**FAST, "max_epochs": 3, "early_stopping": False})
    model.fit(X, y.astype(float) if Estimator is DeepFMRegressor else y)
    assert model.linear_C_ is None
    assert model.interactions_kept_ is True
    losses = model.history_[:, "train_loss"]
    assert losses[-1] < losses[0]


def test_verbose_prints_the_epoch_table(capsys):
    X, y = make_categorical(n_samples=200)
    DeepFMClassifier(**{**FAST, "max_epochs": 2, "verbose": 1}).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "epoch" in out
    DeepFMClassifier(**{**FAST, "max_epochs": 2}).fit(X, y)
    assert capsys.readouterr().out == ""


def test_progress_bar_in_a_log_writes_one_line_per_epoch(capsys):
    X, y = make_categorical(n_samples=1500)
    settings = {**FAST, "max_epochs": 3, "batch_size": 64}
    DeepFMClassifier(callbacks=[ProgressBar()], **settings).fit(X, y)
    err = capsys.readouterr().err  # captured: not a terminal
    assert "\r" not in err
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1", "epoch 2", "epoch 3"]
    assert all("100%" in line and "valid_loss=" in line for line in lines)


def test_progress_bar_on_a_terminal_is_skorchs(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    X, y = make_categorical(n_samples=1500)
    settings = {**FAST, "max_epochs": 2, "batch_size": 64}
    model = DeepFMClassifier(callbacks=[("bar", ProgressBar)], **settings).fit(X, y)
    assert isinstance(dict(model.net_.callbacks_)["bar"], ProgressBar)
    drawn = terminal.getvalue()
    assert "\r" in drawn and "epoch 1:" not in drawn  # tqdm's bar, redrawn


def test_cuda_requested_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    X, y = make_categorical(n_samples=100)
    with pytest.raises(ValueError, match="CUDA is not available"):
        DeepFMClassifier(device="cuda", **FAST).fit(X, y)
    with pytest.raises(ValueError, match="cuda:1"):
        DeepFMClassifier(device="cuda:1", **FAST).fit(X, y)


@pytest.mark.parametrize(
    "device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
)
def test_mixed_precision_runs_the_deep_part_in_bfloat16(device):
    X, y = make_categorical()
    # the deep part trained and kept (the recipe drops it on these rows)
    settings = {**FAST, "device": device, "early_stopping": False}
    full = DeepFMClassifier(**settings).fit(X, y)
    mixed = DeepFMClassifier(mixed_precision=True, **settings).fit(X, y)
    assert full.net_.module_.mlp_dtype is None
    assert mixed.net_.module_.mlp_dtype is torch.bfloat16
    assert all(p.dtype == torch.float32 for p in mixed.net_.module_.parameters())
    proba = mixed.predict_proba(X)
    assert proba.dtype == np.float64
    # bfloat16 rounds (8 bits of mantissa), so the two models differ, a little
    assert not np.array_equal(proba, full.predict_proba(X))
    assert_allclose(proba, full.predict_proba(X), atol=0.05)
    assert mixed.score(X, y) >= full.score(X, y) - 0.02
    auto = DeepFMClassifier(mixed_precision="auto", device=device, **FAST).fit(X, y)
    native = device == "cpu" and (
        torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    )
    if device == "cpu" and platform.machine().lower() in ("aarch64", "arm64"):
        pytest.skip("the ARM probe reads /proc/cpuinfo; checked on x86 here")
    assert (auto.net_.module_.mlp_dtype is torch.bfloat16) == native
    assert auto.mixed_precision_ == native
    assert mixed.mixed_precision_ and not full.mixed_precision_


def test_device_data_path_trains_the_same_model(monkeypatch):
    # On CUDA the training rows are kept on the device and batch losses are
    # read back once per epoch; here the same code runs with the CPU as the
    # device, and must train exactly the model the default path trains.
    X, y = make_categorical(n_samples=1500)
    params = {**FAST, "early_stopping": True}
    expected = DeepFMClassifier(**params).fit(X, y)
    monkeypatch.setattr(_net, "_keep_on_device", lambda dataset, device: True)
    monkeypatch.setattr(_net, "_defer_loss_values", lambda device: True)
    got = DeepFMClassifier(**params).fit(X, y)
    assert_allclose(got.predict_proba(X), expected.predict_proba(X))
    for key in ("train_loss", "valid_loss", "train_batch_count", "best_epoch"):
        assert got.history_[:, key] == expected.history_[:, key]
    batch_losses = [
        b["train_loss"] for b in got.history_[-1, "batches"] if "train_loss" in b
    ]
    assert len(batch_losses) == got.history_[-1, "train_batch_count"]
    assert all(isinstance(loss, float) for loss in batch_losses)


@pytest.mark.cuda
def test_cuda_training_and_loading_on_cpu():
    X, y = make_categorical()
    model = DeepFMClassifier(device="cuda", **FAST).fit(X, y)
    on_gpu = model.predict_proba(X)
    restored = pickle.loads(pickle.dumps(model))
    restored.set_params(device="cpu").net_.set_params(device="cpu")
    assert_allclose(restored.predict_proba(X), on_gpu, atol=1e-5)


@pytest.mark.parametrize(
    "param, value, match",
    [
        ("embedding_dim", 0, "embedding_dim"),
        ("embedding_dim", 2.5, "embedding_dim"),
        ("hidden_units", (8, -1), "hidden_units"),
        ("hidden_units", (10.7,), "hidden_units"),
        # met int()'s own ValueError, OverflowError and TypeError
        ("hidden_units", (float("nan"),), "hidden_units"),
        ("hidden_units", (float("inf"),), "hidden_units"),
        ("hidden_units", [[16]], "hidden_units"),
        ("hidden_units", (True,), "hidden_units"),
        ("dropout", 1.0, "dropout"),
        ("lr", 0, "lr"),
        ("batch_size", "big", "batch_size"),
        ("optimizer", "lbfgs", "optimizer"),
        ("early_stopping", "yes", "early_stopping"),
        ("callbacks", ["not a callback"], "callbacks"),
        # tuples that are not (name, callback) pairs: had met an IndexError,
        # a TypeError and 'too many values to unpack'
        ("callbacks", [("name",)], "callbacks"),
        ("callbacks", [(1, EpochScoring("accuracy"))], "callbacks"),
        ("callbacks", [("name", EpochScoring("accuracy"), 5)], "callbacks"),
        ("device", "tpu", "device"),
        ("mixed_precision", "bf16", "mixed_precision"),
        ("n_jobs", 0, "n_jobs"),  # joblib's: no meaning (it was read as 1)
    ],
)
def test_bad_parameters_are_reported_at_fit(param, value, match):
    X, y = make_categorical(n_samples=50)
    model = DeepFMClassifier(**FAST).set_params(**{param: value})  # init only stores
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)


def test_numpy_scalars_as_parameters_train_and_export_as_python_numbers():
    # a grid over np.linspace / np.arange: np.float32's lr stepped Adam in
    # float32 (probabilities up to 0.018 off), and TorchScript refused the
    # module's NumPy embedding_dim and dropout
    from sklearn_deepfm.export import encode, to_torchscript

    X, y = make_categorical(n_samples=600)
    python = {"lr": 2**-7, "embedding_dim": 6, "dropout": 0.25, "alpha": 2**-10}
    numpy = {
        "lr": np.float32(2**-7),
        "embedding_dim": np.int64(6),
        "dropout": np.float32(0.25),
        "alpha": np.float32(2**-10),
    }
    expected = DeepFMClassifier(**FAST, **python).fit(X, y).predict_proba(X)
    model = DeepFMClassifier(**FAST, **numpy).fit(X, y)
    assert_allclose(model.predict_proba(X), expected)
    scripted = to_torchscript(model)
    assert_allclose(
        scripted(**encode(model, X)).numpy(), model.decision_function(X), atol=1e-5
    )


def test_batch_norm_with_batches_of_one_row_is_refused_before_training():
    # torch's "Expected more than 1 value per channel" came mid-training, and
    # the failed fit left a model that predicted
    X, y = make_categorical(n_samples=200)
    model = DeepFMClassifier(batch_norm=True, batch_size=1, **FAST)
    for call in (lambda: model.fit(X, y), lambda: model.partial_fit(X, y, [0, 1])):
        with pytest.raises(ValueError, match="batch_norm=True needs batches of 2"):
            call()
        assert not hasattr(model, "net_")
    model.set_params(batch_size=8).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="batches of 2 rows"):
        model.set_params(batch_size=1).partial_fit(X, y)


def test_an_optimizer_without_weight_decay_trains_at_alpha_zero():
    # weight_decay was passed even at alpha=0: Rprop met a raw TypeError
    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(optimizer=torch.optim.Rprop, **FAST).fit(X, y)
    assert np.isfinite(model.predict_proba(X)).all()
    with pytest.raises(ValueError, match="Rprop does not take"):
        model.set_params(alpha=1e-3).fit(X, y)
    # the others the advice led to could not train: refused before training
    for optimizer in (torch.optim.SparseAdam, torch.optim.LBFGS):
        for early_stopping in ("auto", False):
            refused = DeepFMClassifier(
                optimizer=optimizer, **{**FAST, "early_stopping": early_stopping}
            )
            with pytest.raises(ValueError, match=f"{optimizer.__name__} is not supp"):
                refused.fit(X, y)
    # a warm fit that switches to it from adam (the previous fit's
    # weight_decay met Rprop's TypeError), and a subclass that passes its
    # keywords on (refused as taking none)
    warm = DeepFMClassifier(warm_start=True, **FAST).fit(X, y)
    warm.set_params(optimizer=torch.optim.Rprop).fit(X, y)
    assert isinstance(warm.net_.optimizer_, torch.optim.Rprop)

    class Passing(torch.optim.Adam):
        def __init__(self, params, **kwargs):
            super().__init__(params, **kwargs)

    passing = DeepFMClassifier(optimizer=Passing, alpha=1e-3, **FAST).fit(X, y)
    groups = passing.net_.optimizer_.param_groups
    assert {group["weight_decay"] for group in groups} == {1e-3}


def test_a_diverged_deep_part_that_the_recipe_dropped_does_not_fail_the_fit():
    # sgd at lr=100 sends the deep part to NaN; the recipe drops it and the
    # model is the first-order part, whose predictions are finite: the fit
    # had raised "training diverged", advising to keep early stopping on
    X, y = make_categorical(n_samples=2000)
    model = DeepFMClassifier(optimizer="sgd", lr=100.0, max_epochs=5, random_state=0)
    model.fit(X, y)
    assert not model.interactions_kept_
    assert np.isfinite(model.predict_proba(X)).all()
    # without the recipe the same training still fails, as MLPClassifier's
    plain = model.set_params(early_stopping=False)
    with pytest.raises(ValueError, match="training diverged"):
        plain.fit(X, y)


@pytest.mark.parametrize(
    "param, value",
    [("class_weight", 5), ("alpha", -1.0), ("hidden_units", 16), ("lr", 0)],
)
def test_bad_parameters_set_between_partial_fit_calls_are_reported(param, value):
    # scikit-learn checks the parameters at the first partial_fit call only:
    # class_weight=5 met a raw TypeError at the next one
    X, y = make_categorical(n_samples=60)
    model = DeepFMClassifier(**FAST).partial_fit(X, y, classes=[0, 1])
    before = model.predict_proba(X)
    model.set_params(**{param: value})
    with pytest.raises(ValueError, match=param):
        model.partial_fit(X, y)
    assert_allclose(model.predict_proba(X), before)


@pytest.mark.parametrize("Estimator", [DeepFMClassifier, DeepFMRegressor])
def test_bad_inputs_say_what_is_wrong(Estimator):
    X, y = make_categorical(n_samples=60)
    model = Estimator(**FAST)
    with pytest.raises(ValueError, match="requires y to be passed"):
        model.fit(X, None)
    with pytest.raises(ValueError, match="requires y to be passed"):
        classes = {"classes": [0, 1]} if Estimator is DeepFMClassifier else {}
        model.partial_fit(X, None, **classes)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        model.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="0 sample"):
        model.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="0 feature"):
        model.fit(X[:, :0], y)
    with pytest.raises(ValueError, match="Complex data not supported"):
        model.fit(X + 1j, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.fit(X, y[:-1])
    model.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 4"):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match="Expected 2D array"):
        model.predict(X[0])
    with pytest.raises(ValueError, match="X has 3 features"):
        model.predict(sp.csr_matrix(X[:, :3]))


def test_classifier_rejects_continuous_and_single_class_targets():
    X, y = make_categorical(n_samples=60)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        DeepFMClassifier(**FAST).fit(X, y + 0.5)
    with pytest.raises(ValueError, match="at least 2 classes"):
        DeepFMClassifier(**FAST).fit(X, np.zeros(60))


def test_unfitted_estimator_raises_not_fitted():
    # the regressor's explain and the exports raised AttributeError
    from sklearn.exceptions import NotFittedError

    from sklearn_deepfm import export

    X = np.zeros((2, 2))
    for model in (DeepFMClassifier(), DeepFMRegressor()):
        for call in (
            model.predict,
            model.explain,
            lambda X, model=model: export.encode(model, X),
            lambda X, model=model: export.inference_module(model),
            lambda X, model=model: export.to_torchscript(model),
        ):
            with pytest.raises(NotFittedError):
                call(X)


def test_regressor_reads_targets_as_ridge_does():
    # float16 overflowed the target's variance ("Input contains NaN" for a
    # finite y), strings of numbers met a NumPy error from np.average
    X, _ = make_categorical(n_samples=300)
    y = X[:, 0] * 300.0 - X[:, 1] * 100.0
    expected = DeepFMRegressor(**FAST).fit(X, y).predict(X)
    for target in (y.astype(np.float16), y.astype(str)):
        model = DeepFMRegressor(**FAST).fit(X, target)
        assert_allclose(model.predict(X), expected, rtol=1e-5, atol=1e-3)
        stream = DeepFMRegressor(**FAST).partial_fit(X, target)
        assert np.isfinite(stream.predict(X)).all()
    with pytest.raises(ValueError, match="could not convert string to float"):
        DeepFMRegressor(**FAST).fit(X, np.array(["a"] * 300))
    # targets far from 1, as Ridge fits them: float32 squares overflowed
    # from deviations of 1.8e19 on (every prediction NaN), float64 squares
    # from 1e155 on, and underflowed below 1e-162 (a constant prediction)
    for unit, dtype in ((1e20, np.float32), (1e160, np.float64), (1e-170, float)):
        target = (y * unit).astype(dtype)
        model = DeepFMRegressor(**FAST).fit(X, target)
        assert_allclose(model.predict(X) / unit, expected, rtol=1e-4, atol=1e-2)
        model = DeepFMRegressor(**FAST).partial_fit(X, target)
        assert_allclose(model.predict(X) / unit, stream.predict(X), rtol=1e-4)


def test_numbers_the_network_cannot_hold_are_errors_not_nan():
    # fill values such as -3.4e38 gave NaN probabilities and class 0,
    # silently; a diverged training left NaN weights, silently
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 5, 600), rng.normal(size=600)])
    y = (X[:, 1] > 0).astype(int)
    model = DeepFMClassifier(categorical_features=[0], **FAST).fit(X, y)
    far = X[:3].copy()
    far[1, 1] = -3.4028235e38
    with pytest.raises(ValueError, match="standard deviations from its mean"):
        model.predict_proba(far)
    far[1, 1] = 1e10  # far, but within reach
    assert np.isfinite(model.predict_proba(far)).all()
    with pytest.raises(ValueError, match="training diverged"):
        DeepFMClassifier(
            lr=1e12, max_epochs=2, early_stopping=False, random_state=0
        ).fit(X, y)


def test_a_warm_fit_runs_at_the_precision_it_records():
    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(warm_start=True, **FAST).fit(X, y)
    for mixed in (True, False):
        model.set_params(mixed_precision=mixed).fit(X, y)
        for fitted in (model, pickle.loads(pickle.dumps(model))):
            running = fitted.net_.module_.mlp_dtype is not None
            assert running == fitted.mixed_precision_


def test_a_warm_fit_takes_the_alpha_and_lr_set_since():
    # skorch's set_params patched the old optimizer, which the warm fit then
    # rebuilt from the old values: alpha and the first-order rate were lost
    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(warm_start=True, early_stopping=False, **FAST)
    model.fit(X, y).set_params(alpha=0.5, lr=0.01).fit(X, y)
    groups = model.net_.optimizer_.param_groups
    assert {group["weight_decay"] for group in groups} == {0.5}
    assert sorted(group["lr"] for group in groups) == [0.01, 0.1]  # 10x first order
    # with the recipe, after partial_fit trained the first-order part: it
    # kept 10 times the old lr (0.5 where the new lr was 1e-4)
    stream = DeepFMClassifier(warm_start=True, **{**FAST, "lr": 0.05})
    stream.partial_fit(X, y, classes=[0, 1]).set_params(lr=1e-4).fit(X, y)
    groups = stream.net_.optimizer_.param_groups
    assert sorted(group["lr"] for group in groups) == [1e-4, 1e-3]


@pytest.mark.parametrize(
    "change",
    [
        {"embedding_dim": 3},
        {"hidden_units": (4, 4)},
        {"batch_norm": True},
        {"dropout": 0.5},
    ],
)
@pytest.mark.parametrize("call", ["fit", "partial_fit"])
def test_a_warm_fit_refuses_another_network_and_takes_a_new_dropout_rate(change, call):
    # it had trained the fitted network as it was, the new value reported by
    # get_params and ignored without a word
    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(warm_start=True, early_stopping=False, **FAST)
    model.fit(X, y)
    before = model.predict_proba(X)

    def again(estimator):
        if call == "fit":
            return estimator.fit(X, y)
        return estimator.partial_fit(X, y)

    # the advice that works for each call (partial_fit goes on whatever
    # warm_start, which it had advised setting to False)
    advice = "warm_start=False" if call == "fit" else "Set them back.*clone"
    with pytest.raises(ValueError, match=f"{next(iter(change))}=.*{advice}"):
        again(model.set_params(**change))
    assert_array_equal(model.predict_proba(X), before)  # refused before any change
    if call == "partial_fit":  # following it
        clone(model).partial_fit(X, y, classes=[0, 1])
    # a new rate of dropout, where the network has dropout layers, applies
    dropping = DeepFMClassifier(warm_start=True, early_stopping=False, **FAST)
    dropping.set_params(dropout=0.2).fit(X, y)
    again(dropping.set_params(dropout=0.4))
    rates = {m.p for m in dropping.net_.module_.modules() if isinstance(m, nn.Dropout)}
    assert rates == {0.4}
    restored = pickle.loads(pickle.dumps(dropping))
    assert {
        m.p for m in restored.net_.module_.modules() if isinstance(m, nn.Dropout)
    } == {0.4}


@pytest.mark.parametrize(
    "optimizer, alpha",
    [("adamw", 0.0), ("rmsprop", 0.0), ("sgd", 1e-4), ("adagrad", 1e-4)],
)
def test_a_warm_fit_with_another_optimizer_trains(optimizer, alpha, capsys):
    # the default's embedding tables give sparse gradients, which these
    # refuse: torch's error mid-training, and every later call failed too
    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(warm_start=True, verbose=1, **FAST).fit(X, y)
    before = model.predict_proba(X)
    model.set_params(optimizer=optimizer, alpha=alpha).fit(X, y)
    model.partial_fit(X, y)
    assert np.isfinite(model.predict_proba(X)).all()
    assert not np.allclose(model.predict_proba(X), before)
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    restored.partial_fit(X, y)
    # skorch's notes on what a warm fit re-initialises stay out of its output
    assert "Re-initializing" not in capsys.readouterr().out


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)"
)
def test_n_jobs_minus_one_counts_the_cpus_the_process_may_use():
    # os.cpu_count() counted the host's CPUs: a process pinned to one CPU
    # (or a container's quota) trained on as many threads as the host has
    script = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from sklearn_deepfm._threads import n_threads; print(n_threads(-1))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "1"
