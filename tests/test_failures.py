"""A fit or partial_fit call that raises: refused before training begins,
the estimator is as it was; once training has begun, as training left it."""

import gc
import weakref

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor
from sklearn_deepfm import _base as base
from sklearn_deepfm._schedule import SCHEDULE

from .conftest import FAST, make_categorical


class FailsToStart(Callback):
    def initialize(self):
        raise RuntimeError("no checkpoint directory")


class Fails(Callback):
    def on_batch_end(self, net, **kwargs):
        raise RuntimeError("a bug in the callback")


class Counts(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


def _table(n_samples=1200, random_state=0):
    rng = np.random.default_rng(random_state)
    X = pd.DataFrame(
        {
            "city": rng.choice(["oslo", "rome", "lima"], n_samples),
            "size": rng.normal(size=n_samples),
        }
    )
    y = ((X.city == "oslo") ^ (X["size"] > 0)).to_numpy().astype(int)
    return X, y


def _refusals(X, y):
    """(what is wrong, set_params, fit's arguments) of refits refused before
    training begins, each after assigning some of the model's state."""
    nan = X.copy()
    nan.loc[3, "size"] = np.nan
    return [
        ("one class", {}, (X, np.ones(len(y)))),
        ("labels, layer", {"hidden_units": (8.5,)}, (X, np.where(y, "b", "a"))),
        ("NaN in a number", {}, (nan, y)),
        ("callback", {"callbacks": [FailsToStart()]}, (X, y)),
    ]


def _fitted_state(model):
    """What fit assigned (attributes that are not parameters)."""
    params = model.get_params(deep=False)
    return {
        key: value
        for key, value in vars(model).items()
        if key not in params and key != "_callbacks_changed"
    }


def test_a_refused_refit_leaves_the_fitted_classifier_as_it_was():
    X, y = _table()
    model = DeepFMClassifier(**FAST).fit(X, y)
    state = _fitted_state(model)
    proba = model.predict_proba(X)
    for what, params, args in _refusals(X, y):
        model.set_params(**params)
        with pytest.raises((ValueError, RuntimeError)):
            model.fit(*args)
        model.set_params(**{k: getattr(DeepFMClassifier(**FAST), k) for k in params})
        now = _fitted_state(model)
        assert now.keys() == state.keys(), what
        assert all(now[key] is value for key, value in state.items()), what
        assert_array_equal(model.classes_, [0, 1])
        assert_array_equal(model.predict_proba(X), proba, err_msg=what)


def test_a_refused_refit_leaves_the_regressor_scaled_as_it_was():
    X, y = _table()
    target = 1000 + y * 300.0
    model = DeepFMRegressor(**FAST).fit(X, target)
    prediction = model.predict(X)
    model.set_params(optimizer=int)
    with pytest.raises(ValueError, match="optimizer"):
        model.fit(X, y * 0.001)
    assert_array_equal(model.predict(X), prediction)


@pytest.mark.parametrize("call", ["fit", "partial_fit"])
def test_a_refused_first_call_leaves_the_estimator_unfitted(call):
    X, y = _table(300)
    model = DeepFMClassifier(**FAST, callbacks=[FailsToStart()])
    fit = model.fit if call == "fit" else lambda X, y: model.partial_fit(X, y, [0, 1])
    with pytest.raises(RuntimeError, match="checkpoint"):
        fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    assert not [key for key in vars(model) if key.endswith("_") or key[0] == "_"]
    model.set_params(callbacks=None)
    fitted = fit(X, y)
    assert_array_equal(
        fitted.predict_proba(X),
        getattr(DeepFMClassifier(**FAST), call)(
            X, y, *([[0, 1]] if call == "partial_fit" else [])
        ).predict_proba(X),
    )


def test_a_later_partial_fit_refused_for_a_one_hot_cell_learns_no_category():
    # the infinity of a dense one-hot block is found before the new city
    # gets a row: it had got one (input_layout_ grew, and rows of that city
    # left the unknown row for an untrained one) in a call that trained on
    # nothing
    X, y = _table()
    rng = np.random.default_rng(1)
    device = pd.get_dummies(pd.Series(rng.choice(list("abc"), len(X))), dtype=float)
    X = pd.concat([X, device.add_prefix("device_")], axis=1)
    model = DeepFMClassifier(**{**FAST, "early_stopping": False}).fit(X, y)
    probe = X[:3].assign(city="paris")
    before = model.predict_proba(probe)
    layout = str(model.input_layout_)
    batch = X[:50].copy()
    batch.loc[0, "city"] = "paris"
    batch.loc[1, "device_a"] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.partial_fit(batch, y[:50])
    assert str(model.input_layout_) == layout
    assert_array_equal(model.predict_proba(probe), before)


def test_ctrl_c_in_the_first_solve_leaves_the_estimator_as_it_was(monkeypatch):
    # the solve runs before the first epoch and can take minutes: the model
    # predicted 0.5 for every row and looked fitted
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    X, y = make_categorical(n_samples=2000)
    model = DeepFMClassifier(**FAST)
    monkeypatch.setattr(base, "fit_linear", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


def test_partial_fit_trains_with_the_callbacks_set_since():
    X, y = make_categorical(n_samples=300)
    model = DeepFMClassifier(**FAST, callbacks=[Fails()])
    with pytest.raises(RuntimeError, match="a bug"):
        model.partial_fit(X, y, classes=[0, 1])
    model.set_params(callbacks=None)  # the broken callback goes
    model.partial_fit(X, y)
    counts = Counts()
    model.set_params(callbacks=[counts])  # a callback comes
    model.partial_fit(X, y)
    model.partial_fit(X, y)
    assert counts.epochs_ == 2
    fitted = DeepFMClassifier(**{**FAST, "max_epochs": 2}).fit(X, y)
    fitted.partial_fit(X, y)
    fitted.set_params(callbacks=[Fails()])
    with pytest.raises(RuntimeError, match="a bug"):
        fitted.partial_fit(X, y)
    # callbacks set before a refit start with it, and the next partial_fit
    # goes on with them (it had initialised them again: the count restarted)
    counts = Counts()
    refit = DeepFMClassifier(**{**FAST, "max_epochs": 2, "early_stopping": False})
    refit.fit(X, y).set_params(callbacks=[counts]).fit(X, y)
    refit.partial_fit(X, y)
    assert counts.epochs_ == 3
    # the same callbacks, as set_params(**get_params()) gives, go on as they
    # were (they started again: scikit-learn's round trip changed the model)
    refit.set_params(**refit.get_params(deep=False))
    refit.partial_fit(X, y)
    assert counts.epochs_ == 4
    # a callback appended to the same list is one set since
    added = Counts()
    refit.callbacks.append(added)
    refit.set_params(callbacks=refit.callbacks)
    refit.partial_fit(X, y)
    assert added.epochs_ == 1
    # and one put in the place of another (by id, a new object at the freed
    # address had been taken for the old one)
    refit.callbacks[-1] = replacing = Counts()
    refit.set_params(callbacks=refit.callbacks)
    refit.partial_fit(X, y)
    assert replacing.epochs_ == 1


class InterruptsItsSave(Callback):
    """Ctrl-C while a checkpoint is saved at the end of training."""

    def on_train_end(self, net, **kwargs):
        raise KeyboardInterrupt


def test_ctrl_c_in_a_callbacks_end_of_training_keeps_the_best_epoch():
    X, y = make_categorical(n_samples=1500)
    settings = {**FAST, "early_stopping": True, "max_epochs": 8, "lr": 0.05}
    settings["categorical_features"] = [False] * 4  # numbers: no crosses mixed in
    model = DeepFMClassifier(**settings, callbacks=[InterruptsItsSave()])
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    best = model.history_[-1, "best_epoch"]
    assert best < len(model.history_)
    assert dict(model.net_.callbacks_)[SCHEDULE].best_state_ is None  # no copy
    # the weights of the best epoch: those of a training that ends there
    # (its first-order part, refitted after training, aside)
    settings["max_epochs"] = best
    reference = DeepFMClassifier(**settings, callbacks=[Callback()]).fit(X, y)
    interrupted = model.net_.module_.state_dict()
    for name, value in reference.net_.module_.state_dict().items():
        if not name.startswith(("linear", "crosses")):
            assert_array_equal(interrupted[name].numpy(), value.numpy(), name)


class Watches(Callback):
    """Checks, after the first epoch, that the model the refit replaces is
    freed, and what a pickle of the estimator taken then holds."""

    def __init__(self, estimator=None, old=None):
        self.estimator = estimator
        self.old = old

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 1:
            gc.collect()
            self.freed_ = self.old() is None
            self.state_ = self.estimator.__getstate__()


def test_a_refit_frees_the_old_model_once_training_begins():
    # the undo's snapshot kept the old net and its optimizer alive through
    # the refit's training (peak memory old plus new), and went into a
    # pickle taken during the fit
    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(**FAST).fit(X, y)
    watch = Watches(model, weakref.ref(model.net_))
    model.set_params(callbacks=[watch], early_stopping=False).fit(X, y)
    assert watch.freed_
    assert not [key for key in watch.state_ if "before" in key]


def test_a_callback_that_fails_to_start_is_not_dropped_by_partial_fit():
    X, y = make_categorical(n_samples=300)
    model = DeepFMClassifier(**FAST).partial_fit(X, y, classes=[0, 1])
    model.set_params(callbacks=[FailsToStart()])
    for _ in range(2):  # the next call went on without it, silently
        with pytest.raises(RuntimeError, match="checkpoint"):
            model.partial_fit(X, y)
