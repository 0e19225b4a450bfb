"""The default training recipe against what users compare it with.

Library defaults only (``random_state`` set).  The recipe solves the
first-order part as a LogisticRegression and keeps the interactions only
when the validation rows show they help, so on a real table it must not end
below ``LogisticRegression()`` on the same one-hot features, and where the
planted effects are pairwise and higher-order it must beat it.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skorch.callbacks import Callback

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor
from sklearn_deepfm import _base as base
from sklearn_deepfm._linear import Refit, fit_linear
from sklearn_deepfm._net import DeepFMNet
from sklearn_deepfm.datasets import load_adult, make_ctr_classification


def _planted(interaction_strength, nonlinear_strength):
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
    deepfm, linear, model = _planted(interaction_strength=1.0, nonlinear_strength=1.0)
    assert model.interactions_kept_
    assert deepfm > linear + 0.01


def test_defaults_do_not_lose_to_logistic_regression_on_linear_data():
    deepfm, linear, _ = _planted(interaction_strength=0.0, nonlinear_strength=0.0)
    assert deepfm >= linear - 0.002


@pytest.mark.parametrize("seed", [0, 1])
def test_defaults_hold_the_logistic_regression_floor_on_adult(seed):
    pytest.importorskip("pandas")
    X, y = load_adult(return_X_y=True)
    X, _, y, _ = train_test_split(X, y, train_size=8000, stratify=y, random_state=seed)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    numeric = X.select_dtypes("number").columns
    categorical = X.select_dtypes("category").columns
    linear = make_pipeline(
        make_column_transformer(
            (StandardScaler(), numeric),
            (OneHotEncoder(handle_unknown="ignore"), categorical),
        ),
        LogisticRegression(max_iter=1000),
    ).fit(X_train, y_train)
    deepfm = DeepFMClassifier(random_state=seed).fit(X_train, y_train)
    p_deepfm = deepfm.predict_proba(X_test)[:, 1]
    p_linear = linear.predict_proba(X_test)[:, 1]
    assert roc_auc_score(y_test, p_deepfm) >= roc_auc_score(y_test, p_linear) - 0.002
    assert log_loss(y_test, p_deepfm) <= log_loss(y_test, p_linear) + 0.005
    assert np.isfinite(p_deepfm).all()


def test_verbose_fit_says_whether_and_why_the_interactions_were_kept(capsys):
    X, y = make_ctr_classification(
        n_samples=3000,
        n_fields=4,
        cardinalities=10,
        interaction_strength=0.0,
        nonlinear_strength=0.0,
        random_state=0,
    )
    model = DeepFMClassifier(hidden_units=(16,), random_state=0, verbose=1)
    model.fit(X, y)
    out = capsys.readouterr().out
    verdict = "kept" if model.interactions_kept_ else "dropped"
    assert f"DeepFMClassifier: interactions {verdict}:" in out
    gain = model.history_[-1, "interactions_gain"]
    error = model.history_[-1, "interactions_gain_error"]
    assert f"by {gain:.5f} (standard error {error:.5f})" in out
    assert model.interactions_kept_ == (gain > error)
    if not model.interactions_kept_:
        assert "embedding_dim, do not change its predictions" in out
    model.set_params(verbose=0).fit(X, y)
    assert "interactions" not in capsys.readouterr().out


def test_verbose_fit_prints_every_epoch_up_to_the_one_that_stopped_training(capsys):
    # training ends by a callback raising in on_epoch_end, before skorch's
    # PrintLog (always called last) prints that epoch's row
    X, y = make_ctr_classification(
        n_samples=3000, n_fields=4, cardinalities=10, random_state=0
    )
    model = DeepFMClassifier(
        hidden_units=(16,),
        max_epochs=50,
        callbacks=[Callback()],  # the first training is the model: one table
        random_state=0,
        verbose=1,
    ).fit(X, y)
    assert len(model.history_) < 50  # stopped by the schedule, not max_epochs
    out = capsys.readouterr().out
    rows = re.findall(r"^ +(\d+) +\d+ +(?:\+ +)?[\d.]+ +[\d.]+", out, re.M)
    assert [int(epoch) for epoch in rows] == list(range(1, len(model.history_) + 1))


def _one_hot_rows(n_rows, n_fields, n_values, scale, seed=0):
    """A one-hot design of ``n_fields`` random fields of ``n_values``
    categories, labels from additive effects of standard deviation
    ``scale``, and unit weights."""
    rng = np.random.default_rng(seed)
    columns = rng.integers(0, n_values, (n_rows, n_fields))
    columns += np.arange(n_fields) * n_values
    A = sp.csr_matrix(
        (
            np.ones(columns.size, dtype=np.float32),
            columns.ravel(),
            np.arange(0, columns.size + 1, n_fields),
        ),
        shape=(n_rows, n_fields * n_values),
    )
    logit = scale * rng.normal(size=n_fields * n_values)[columns].sum(axis=1)
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return A, y, np.ones(n_rows, dtype=np.float32)


@pytest.mark.parametrize("stop_when_worse", [False, True])
def test_values_of_c_solved_side_by_side_give_the_same_linear_part(stop_when_worse):
    # the C sweep on two threads returns the model of the sweep on one
    A, y, weight = _one_hot_rows(3000, 6, 20, 0.5)
    train = (A[:2400], y[:2400], weight[:2400])
    valid = (A[2400:], y[2400:], weight[2400:])
    found = [
        fit_linear(
            "binary",
            train,
            valid,
            random_state=0,
            stop_when_worse=stop_when_worse,
            n_threads=n_threads,
        )
        for n_threads in (1, 2)
    ]
    assert found[0][2] == found[1][2]  # C
    for one, two in zip(found[0], found[1], strict=True):
        assert_array_equal(one, two)


def test_the_refit_runs_beside_the_last_value_of_c_and_is_the_refit_after_it():
    # strong effects on many rows: the sweep reaches C=3, alone in the last
    # pair of values, and the refit on every row at the best C so far runs
    # beside it; it is the refit that one thread solves after the sweep
    A, y, weight = _one_hot_rows(6000, 4, 10, 1.5)
    train = (A[:4800], y[:4800], weight[:4800])
    valid = (A[4800:], y[4800:], weight[4800:])
    found, solved_during = {}, {}
    for n_threads in (1, 2):
        calls = []

        def solve(rows, C, start, calls=calls):
            calls.append(C)
            return fit_linear("binary", rows, None, C=C, start=start)[:2]

        refit = Refit(lambda: (A, y, weight), lambda w, b: (w, b), solve)
        sweep = fit_linear("binary", train, valid, n_threads=n_threads, refit=refit)
        solved_during[n_threads] = list(calls)
        found[n_threads] = (sweep[2], *refit.solution(sweep[2], sweep[0], sweep[1]))
        assert calls == [sweep[2]]  # one refit, at the chosen C
    assert solved_during == {1: [], 2: [1.0]}
    assert found[1][0] == found[2][0] == 1.0
    for one, two in zip(found[1][1:], found[2][1:], strict=True):
        assert_allclose(one, two, rtol=1e-6, atol=1e-7)


def test_a_refit_from_the_sweeps_solution_reaches_the_optimum():
    # the start changes how many Newton steps the refit takes, not where it
    # ends: scikit-learn's model at a tight tolerance, at least as nearly as
    # the refit from zero (newton-cg's tolerance, 1e-4, leaves both a few
    # thousandths away in the raw outputs), from a start 0.5 away
    A, y, weight = _one_hot_rows(4000, 6, 20, 0.5, seed=1)
    exact = LogisticRegression(C=0.3, tol=1e-10, max_iter=1000).fit(A, y)

    def distance(fitted):
        return np.abs(
            A @ fitted[0][:, 0] + fitted[1] - exact.decision_function(A)
        ).max()

    swept = fit_linear("binary", (A[:3600], y[:3600], weight[:3600]), C=0.3)
    start = fit_linear("binary", (A, y, weight), C=0.3, start=swept[:2])
    zero = fit_linear("binary", (A, y, weight), C=0.3)
    assert distance(swept) > 0.3
    assert distance(start) <= distance(zero) < 0.01


class RecordsTheHoldout(Callback):
    """Keep the labels of the rows the recipe validates on."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.valid_labels = X[1].y


def test_the_holdout_keeps_a_row_of_every_class():
    # 3 positives in 3,000 rows: a stratified 10% gave them no validation
    # row, and the keep decisions were taken on negatives alone
    rng = np.random.default_rng(0)
    X = rng.integers(0, 20, size=(3000, 4))
    y = np.zeros(3000, dtype=int)
    y[[5, 1200, 2900]] = 1
    holdout = RecordsTheHoldout()
    model = DeepFMClassifier(
        hidden_units=(8,), max_epochs=2, callbacks=[holdout], random_state=0
    ).fit(X, y)
    assert model.net_.history[0, "valid_loss"] > 0
    assert (holdout.valid_labels == 1).sum() == 1
    assert len(holdout.valid_labels) == 301
    # and the other way round: a class of 2 rows keeps one to train on
    y3 = rng.integers(0, 2, 3000)
    y3[[7, 8]] = 2
    model = DeepFMClassifier(
        hidden_units=(8,), max_epochs=2, validation_fraction=0.9, random_state=0
    ).fit(X, y3)
    assert model.predict_proba(X).shape == (3000, 3)


def test_a_rare_class_stays_in_the_linear_solves_subsample(monkeypatch):
    # over LINEAR_MAX_ROWS the linear part is solved on a random subset: a
    # class of 3 rows in 6,000 (5 in 1,000,000 at the real bound) could be
    # missing from it, and the solve then failed with an IndexError
    monkeypatch.setattr(base, "LINEAR_MAX_ROWS", 1000)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 5, size=(6000, 3))
    y = rng.integers(0, 2, 6000)
    y[:3] = 2
    for seed in range(3):
        model = DeepFMClassifier(hidden_units=(8,), max_epochs=2, random_state=seed)
        proba = model.fit(X, y).predict_proba(X[:3])
        assert proba.shape == (3, 3) and np.isfinite(proba).all()


def test_a_warm_fit_does_not_report_crosses_it_did_not_try(capsys):
    X, y = make_ctr_classification(
        n_samples=2000,
        n_fields=4,
        cardinalities=10,
        interaction_strength=3.0,
        nonlinear_strength=3.0,
        first_order_strength=0.5,
        random_state=0,
    )
    model = DeepFMClassifier(
        hidden_units=(16,), max_epochs=3, warm_start=True, verbose=1, random_state=0
    ).fit(X, y)
    assert "pairwise crosses" in capsys.readouterr().out  # tried in a first fit
    model.fit(X, y)
    out = capsys.readouterr().out
    assert "interactions" in out and "pairwise crosses" not in out


def test_a_warm_fit_that_solves_the_first_order_part_records_its_c():
    # a first fit that learnt it by gradient steps has no C; the warm fit's
    # recipe drops the interactions of an additive target and solves it
    rng = np.random.RandomState(0)
    X = pd.DataFrame(
        {"a": rng.choice(list("abcdefgh"), 3000), "b": rng.choice(list("uvw"), 3000)}
    )
    y = (rng.rand(3000) < np.where(X.a.isin(["a", "b", "c"]), 0.6, 0.3)).astype(int)
    model = DeepFMClassifier(
        hidden_units=(16,),
        max_epochs=3,
        early_stopping=False,
        warm_start=True,
        random_state=0,
    ).fit(X, y)
    assert model.linear_C_ is None
    model.set_params(early_stopping=True).fit(X, y)
    assert not model.interactions_kept_
    assert model.linear_C_ == 1.0


def test_a_single_validation_row_makes_no_difference_clear():
    # 3 rows hold out 1: no standard error can be estimated from one row,
    # so no gain is clear and the model stays linear, without numpy's
    # degrees-of-freedom warnings
    rng = np.random.default_rng(0)
    X, target = rng.integers(0, 3, size=(3, 2)), rng.normal(size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = DeepFMRegressor(
            hidden_units=(8,), max_epochs=3, early_stopping=True, random_state=0
        ).fit(X, target)
    assert not model.interactions_kept_
    assert model.history_[-1, "interactions_gain_error"] == np.inf


@pytest.mark.parametrize("nth_solve", [2, 3], ids=["crossed sweep", "crossed refit"])
def test_ctrl_c_in_the_crossed_solves_leaves_the_model_as_it_stands(
    monkeypatch, nth_solve
):
    # the solves between the two trainings were outside the handling of
    # Ctrl-C: history_ was missing, and crosses_kept_ said True with no
    # crosses in the model
    X, y = make_ctr_classification(
        n_samples=3000, n_fields=4, interaction_strength=2.0, random_state=0
    )
    solve, calls = base.fit_linear, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == nth_solve:
            raise KeyboardInterrupt
        return solve(*args, **kwargs)

    monkeypatch.setattr(base, "fit_linear", interrupted)
    model = DeepFMClassifier(hidden_units=(16,), max_epochs=4, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert len(calls) == nth_solve
    assert model.history_ is model.net_.history and len(model.history_) >= 1
    assert not model.crosses_kept_ and model.crosses_share_ == 0
    assert model.net_.module_.crosses.pairs.shape[0] == 0
    assert np.isfinite(model.predict_proba(X)).all()


def test_ctrl_c_at_the_second_trainings_mix_keeps_the_first_training(monkeypatch):
    # the mix of the second training with the crossed model ran after the
    # handling of Ctrl-C: the model was the second training without its
    # crosses, while crosses_kept_ said True
    X, y = make_ctr_classification(
        n_samples=3000, n_fields=4, interaction_strength=2.0, random_state=0
    )
    settings = {"hidden_units": (16,), "max_epochs": 4, "random_state": 0}
    full = DeepFMClassifier(**settings).fit(X, y)
    assert full.crosses_kept_ and "retrained_epochs" in full.history_[-1]
    blend, calls = DeepFMNet.blend_linear, []

    def interrupted(self, *args):
        calls.append(1)
        if len(calls) == 2:  # the second training's
            raise KeyboardInterrupt
        return blend(self, *args)

    monkeypatch.setattr(DeepFMNet, "blend_linear", interrupted)
    model = DeepFMClassifier(**settings)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert model.crosses_kept_ and model.net_.module_.crosses.pairs.shape[0] > 0
    assert "valid_loss" in model.history_[-1]
    assert model.history_ is model.net_.history


def test_the_deep_part_gets_past_its_flat_start_on_numbers():
    # the MLP starts flat: a rise of 0.001 at epoch 2 cut the learning rate
    # and epoch 3 stopped training, and the regressor ended at Ridge's R2
    from sklearn.datasets import make_friedman1
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_friedman1(3000, noise=1.0, random_state=0)
    X_test, y_test = X[2250:], y[2250:]
    model = DeepFMRegressor(random_state=0).fit(X[:2250], y[:2250])
    ridge = make_pipeline(StandardScaler(), Ridge()).fit(X[:2250], y[:2250])
    assert model.interactions_kept_
    assert r2_score(y_test, model.predict(X_test)) > (
        r2_score(y_test, ridge.predict(X_test)) + 0.1
    )
    cuts = model.history_[:, "lr_cut"]
    assert len(cuts) == len(model.history_)


def test_small_data_trains_by_the_recipe_and_keeps_the_linear_model():
    # 'auto' trained every part for 100 epochs under 1,000 rows and
    # memorised them (log loss 1.38 against LR's 0.33 at 999 rows); on a
    # hold-out of under 50 rows the interactions are dropped whatever their
    # gain, and under 10 the crosses are not tried
    X, y = make_ctr_classification(
        n_samples=400,
        n_fields=4,
        cardinalities=6,
        interaction_strength=3.0,
        random_state=0,
    )
    model = DeepFMClassifier(random_state=1).fit(X, y)
    last = model.history_[-1]
    assert model.linear_C_ is not None  # the recipe ran
    assert last["interactions_gain"] > last["interactions_gain_error"]
    assert last["interactions_validation_rows"] == 40
    assert not model.interactions_kept_
    assert "crosses_C" in last  # tried on 40 rows
    tiny = DeepFMClassifier(random_state=1).fit(X[:60], y[:60])
    assert tiny.linear_C_ is not None and "crosses_C" not in tiny.history_[-1]


def test_small_adult_is_no_worse_than_logistic_regression():
    X, y = load_adult(return_X_y=True)
    rows = np.random.default_rng(0).permutation(len(y))
    train, test = rows[:300], rows[300:3300]
    numeric = list(X.select_dtypes("number").columns)
    categorical = [c for c in X.columns if c not in numeric]
    lr = make_pipeline(
        make_column_transformer(
            (StandardScaler(), numeric),
            (OneHotEncoder(handle_unknown="ignore"), categorical),
        ),
        LogisticRegression(max_iter=1000),
    ).fit(X.iloc[train], y[train])
    model = DeepFMClassifier(random_state=0).fit(X.iloc[train], y[train])
    losses = [
        log_loss(y[test], m.predict_proba(X.iloc[test])[:, 1]) for m in (model, lr)
    ]
    assert losses[0] < losses[1] + 0.05  # it was 1.0 above
