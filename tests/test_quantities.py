"""Whole-number columns that are quantities: read as categories and also as
a number where the target follows the order of their values, and as
categories alone where it does not (identifiers given as integer codes)."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor
from sklearn_deepfm._quantities import category_sums, is_quantity, row_statistics

from .conftest import assert_served_as_predicted

N_TRAIN = 6000


def make_table(n_samples=N_TRAIN + 2000, random_state=0):
    """``age`` (whole years; the target rises and falls with it), ``shop``
    (integer codes whose order means nothing) and ``city`` (labels)."""
    rng = np.random.default_rng(random_state)
    age = rng.integers(18, 80, n_samples)
    shop = rng.integers(0, 60, n_samples)
    city = rng.integers(0, 8, n_samples)
    shop_effect = np.random.default_rng(1).normal(size=60)
    signal = -(((age - 45) / 15.0) ** 2) + shop_effect[shop] + 0.3 * (city == 2)
    X = pd.DataFrame(
        {"age": age, "shop": shop, "city": [f"c{v}" for v in city]},
    )
    return X, signal, rng


def numbers_of(model):
    return {
        model.input_layout_.fields[field.number_of].names[0]: field.field
        for field in model.input_layout_.fields
        if field.number_of is not None
    }


@pytest.fixture(scope="module")
def age_model():
    X, signal, rng = make_table()
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-signal))).astype(int)
    model = DeepFMClassifier(hidden_units=(32,), random_state=0)
    return model.fit(X[:N_TRAIN], y[:N_TRAIN]), X[N_TRAIN:]


def test_a_quantity_is_also_a_number_and_an_identifier_is_not(age_model):
    model, _ = age_model
    assert set(numbers_of(model)) == {"age"}
    layout = model.input_layout_
    number = layout.fields[numbers_of(model)["age"]]
    assert number.kind == "numeric" and number.columns == (0,)
    assert layout.fields[0].kind == "categorical"
    # the column's field is its categories', and it counts as categorical
    assert_array_equal(model.fields_, [0, 1, 2])
    assert_array_equal(model.is_categorical_, [True, True, True])
    assert "the number of field 0's categories" in str(layout)
    assert model.n_fields_ == 4


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_regressor_and_multiclass_read_the_same_quantity(task):
    X, signal, rng = make_table()
    noisy = signal + rng.normal(scale=0.5, size=len(X))
    if task == "regression":
        model, y = DeepFMRegressor, noisy
    else:
        model, y = (
            DeepFMClassifier,
            np.digitize(noisy, np.quantile(noisy, [1 / 3, 2 / 3])),
        )
    fitted = model(hidden_units=(32,), max_epochs=3, random_state=0)
    fitted.fit(X[:N_TRAIN], y[:N_TRAIN])
    assert set(numbers_of(fitted)) == {"age"}


def test_marked_columns_and_codes_with_an_unknown_code_stay_categories():
    X, signal, rng = make_table()
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-signal))).astype(int)
    marked = DeepFMClassifier(
        categorical_features=["age", "shop", "city"], max_epochs=2, random_state=0
    ).fit(X, y)
    assert numbers_of(marked) == {}
    # -1 is an encoder's unknown code: these are codes, not a quantity
    coded = X.assign(age=np.where(np.arange(len(X)) % 50 == 0, -1, X["age"]))
    model = DeepFMClassifier(max_epochs=2, random_state=0).fit(coded, y)
    assert numbers_of(model) == {}


def test_missing_values_of_the_number_are_its_mean(age_model):
    model, X_test = age_model
    mean = model.input_layout_.fields[numbers_of(model)["age"]].mean
    missing = X_test[:5].astype({"age": float}).assign(age=np.nan)
    at_mean = X_test[:5].astype({"age": float}).assign(age=mean)
    # NaN and the (non-integer) mean both go to age's unknown category
    assert_allclose(
        model.decision_function(missing), model.decision_function(at_mean), atol=1e-6
    )
    assert np.isfinite(model.decision_function(missing)).all()


def test_the_number_is_refused_far_beyond_its_range_as_a_numeric_column(age_model):
    # a fill value such as 1e20 had given P = 1 and 1e39 an infinite logit,
    # where a numeric column refuses it and the ONNX graph gives NaN
    model, X_test = age_model
    for fill in (1e17, 1e20, 1e39):
        with pytest.raises(ValueError, match="standard deviations"):
            model.predict_proba(X_test[:3].astype({"age": float}).assign(age=fill))
    # an unseen age in range is an unknown category and a number, silently
    assert np.isfinite(model.decision_function(X_test[:3].assign(age=500))).all()


def test_the_number_is_served_saved_and_explained(age_model):
    model, X_test = age_model
    X_test = X_test.astype({"age": float}).reset_index(drop=True)
    X_test.loc[:9, "age"] = np.nan
    X_test.loc[10:19, "age"] = 95.0  # never seen: unknown category, a number
    explanation = assert_served_as_predicted(model, X_test, n_explained=50)
    assert "age (number)" in explanation.feature_names


def test_the_test_tells_an_order_from_shuffled_ones():
    """The same column with its codes in value order is a quantity every
    time; renumbered at random, it is one about as often as the test's level
    (1 / 40) says."""
    found = {"ordered": 0, "renumbered": 0}
    n_tries = 200
    for seed in range(n_tries):
        rng = np.random.default_rng(seed)
        values = rng.integers(0, 40, 5000)
        logit = (values - 20) / 6
        y = (rng.random(values.size) < 1 / (1 + np.exp(-logit))).astype(int)
        stats = row_statistics(y, np.ones(values.size), 2)
        held_out = rng.random(values.size) < 0.2
        renumbered = rng.permutation(40)[values]
        for name, codes in (("ordered", values), ("renumbered", renumbered)):
            sums = category_sums(codes + 1, 41, stats, held_out)
            found[name] += is_quantity(sums, values.size, True, seed)
    assert found["ordered"] == n_tries
    # 1/40 of 200 is 5; 12 is beyond three standard deviations
    assert found["renumbered"] <= 12


def test_every_container_reads_the_quantity_alike(age_model):
    """A numpy array and a polars DataFrame of the same rows give the same
    fields, the number included, and the same predictions as pandas."""
    model, X_test = age_model
    X, signal, rng = make_table()
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-signal))).astype(int)
    settings = {"hidden_units": (32,), "random_state": 0}
    codes = X[["age", "shop"]]
    from_array = DeepFMClassifier(**settings).fit(
        codes.to_numpy()[:N_TRAIN], y[:N_TRAIN]
    )
    from_frame = DeepFMClassifier(**settings).fit(codes[:N_TRAIN], y[:N_TRAIN])
    assert numbers_of(from_array) == {"x0": 2} and numbers_of(from_frame) == {"age": 2}
    assert_allclose(
        from_array.decision_function(X_test[["age", "shop"]].to_numpy()),
        from_frame.decision_function(X_test[["age", "shop"]]),
        atol=1e-6,
    )
    pl = pytest.importorskip("polars")
    from_polars = DeepFMClassifier(hidden_units=(32,), random_state=0)
    from_polars.fit(pl.from_pandas(X[:N_TRAIN]), y[:N_TRAIN])
    assert numbers_of(from_polars) == numbers_of(model)
    assert_allclose(
        from_polars.decision_function(pl.from_pandas(X_test)),
        model.decision_function(X_test),
        atol=1e-6,
    )


def test_missing_values_in_fit_are_left_out_of_the_test_and_the_scaling():
    X, signal, rng = make_table()
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-signal))).astype(int)
    X = X.astype({"age": float})
    X.loc[::20, "age"] = np.nan
    model = DeepFMClassifier(hidden_units=(32,), max_epochs=3, random_state=0)
    model.fit(X[:N_TRAIN], y[:N_TRAIN])
    number = model.input_layout_.fields[numbers_of(model)["age"]]
    ages = X["age"][:N_TRAIN]
    assert_allclose([number.mean, number.scale], [ages.mean(), ages.std(ddof=0)])
    assert np.isfinite(model.predict_proba(X[N_TRAIN:])).all()


def make_many_valued_table(n_samples=N_TRAIN, random_state=0):
    """``weight``, a whole number per row or nearly (the target rises with
    it), and ``visitor``, integer codes with most visitors seen once or twice
    (each has its own rate; their numbering means nothing)."""
    rng = np.random.default_rng(random_state)
    weight = rng.integers(10_000, 2_000_000, n_samples)
    visitor = rng.integers(0, n_samples, n_samples)
    visitor_effect = np.random.default_rng(1).normal(scale=2.0, size=n_samples)
    signal = 1.5 * (np.log(weight) - 13.2) + visitor_effect[visitor]
    y = (rng.random(n_samples) < 1 / (1 + np.exp(-signal))).astype(int)
    return pd.DataFrame({"weight": weight, "visitor": visitor}), y


def test_a_value_per_row_is_read_as_a_number_where_it_beats_its_categories():
    X, y = make_many_valued_table()
    model = DeepFMClassifier(hidden_units=(16,), random_state=0)
    with pytest.warns(UserWarning, match="distinct integers") as record:
        model.fit(X[:5000], y[:5000])
    # the weight's categories lost to its number in the linear model on the
    # validation rows; the visitors' did not, and 'auto' still warns of them
    assert_array_equal(model.is_categorical_, [False, True])
    assert model.input_layout_.fields[0].kind == "numeric"
    warned = " ".join(str(warning.message) for warning in record)
    assert "'visitor'" in warned and "'weight'" not in warned
    assert_served_as_predicted(model, X[5000:])


def test_a_value_per_row_stays_categories_without_early_stopping():
    X, y = make_many_valued_table(2000)
    model = DeepFMClassifier(hidden_units=(16,), early_stopping=False, max_epochs=2)
    with pytest.warns(UserWarning, match="'weight'"):
        model.fit(X, y)
    assert_array_equal(model.is_categorical_, [True, True])


def test_a_quantity_far_from_zero_is_scaled_by_its_spread():
    # the number was standardised by the sum of squares less n mean**2,
    # which cancelled: 20 values offset by 1e12 got the scale 11,585
    rng = np.random.default_rng(0)
    q = rng.integers(0, 20, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(q - 10) / 3))).astype(int)
    for offset in (0, 10**12):
        X = np.column_stack([rng.integers(0, 3, 4000), q + offset]).astype(float)
        model = DeepFMClassifier(
            max_epochs=1, early_stopping=False, random_state=0
        ).fit(X, y)
        (number,) = [f for f in model.input_layout_.fields if f.number_of is not None]
        assert number.scale == pytest.approx(np.std(q), rel=1e-6)
        assert number.mean == pytest.approx(np.mean(q) + offset, rel=1e-12)
