"""Tests of sklearn_deepfm.datasets: synthetic CTR data and the Adult loader."""

import sys
from importlib.resources import files

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import OneHotEncoder

from sklearn_deepfm.datasets import (
    ctr_cardinalities,
    load_adult,
    make_ctr_classification,
    stream_ctr_classification,
)

# ---------------------------------------------------------------------------
# make_ctr_classification
# ---------------------------------------------------------------------------


def _one_hot_auc(X, y, n_train):
    """Test AUC of a logistic regression on one-hot X (first-order only)."""
    encoder = OneHotEncoder(handle_unknown="ignore").fit(X[:n_train])
    model = LogisticRegression(max_iter=500).fit(
        encoder.transform(X[:n_train]), y[:n_train]
    )
    scores = model.predict_proba(encoder.transform(X[n_train:]))[:, 1]
    return roc_auc_score(y[n_train:], scores)


@pytest.mark.parametrize(
    "cardinalities, expected",
    [(7, [7, 7, 7, 7]), ([2, 30, 5, 400], [2, 30, 5, 400])],
)
def test_make_ctr_shapes_dtypes_and_ranges(cardinalities, expected):
    X, y = make_ctr_classification(
        3000, 4, cardinalities, zipf_exponent=0.5, random_state=0
    )
    assert X.shape == (3000, 4)
    assert X.dtype == np.int64
    assert y.shape == (3000,)
    assert y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    assert X.min() >= 0
    for f, cardinality in enumerate(expected):
        assert X[:, f].max() < cardinality
    # small fields show all their categories in 3000 rows
    assert X[:, 0].max() == expected[0] - 1


def test_make_ctr_proba_is_consistent_with_labels():
    X, y, proba = make_ctr_classification(20000, return_proba=True, random_state=1)
    assert proba.shape == (20000,)
    assert proba.dtype == np.float64
    assert np.all((proba > 0) & (proba < 1))
    assert abs(y.mean() - proba.mean()) < 0.015
    # rows with a high true probability click more often
    high = proba > np.median(proba)
    assert y[high].mean() > y[~high].mean() + 0.1


@pytest.mark.parametrize("base_rate", [0.03, 0.25, 0.7])
def test_make_ctr_base_rate(base_rate):
    _, y, proba = make_ctr_classification(
        20000, 5, 50, base_rate=base_rate, return_proba=True, random_state=2
    )
    assert abs(proba.mean() - base_rate) < 0.02
    assert abs(y.mean() - base_rate) < 0.025


def test_make_ctr_is_deterministic():
    kwargs = dict(n_samples=2000, n_fields=5, cardinalities=40, return_proba=True)
    first = make_ctr_classification(random_state=3, **kwargs)
    again = make_ctr_classification(random_state=3, **kwargs)
    other = make_ctr_classification(random_state=4, **kwargs)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert not np.allclose(first[2], other[2])
    from_instance = make_ctr_classification(
        random_state=np.random.RandomState(3), **kwargs
    )
    np.testing.assert_array_equal(first[0], from_instance[0])


def test_make_ctr_smaller_sample_is_a_prefix():
    # 70,000 rows cross the internal chunk boundary (65,536 rows)
    kwargs = dict(n_fields=3, cardinalities=[5, 50, 500], return_proba=True)
    X, y, proba = make_ctr_classification(70000, random_state=5, **kwargs)
    for n in (7, 100, 66000):
        X_n, y_n, proba_n = make_ctr_classification(n, random_state=5, **kwargs)
        np.testing.assert_array_equal(X_n, X[:n])
        np.testing.assert_array_equal(y_n, y[:n])
        # bit for bit: a float32 matrix product rounded a row by the row count
        np.testing.assert_array_equal(proba_n, proba[:n])


def test_make_ctr_category_frequencies_are_long_tailed():
    X, _ = make_ctr_classification(20000, 2, 1000, random_state=6)
    counts = np.sort(np.bincount(X[:, 0], minlength=1000))[::-1]
    assert counts[0] / counts.sum() > 0.05  # the top category is common
    assert counts[:100].sum() / counts.sum() > 0.5  # 10% of codes, most rows
    assert np.count_nonzero(counts) < 1000  # some rare codes never appear
    X, _ = make_ctr_classification(20000, 2, 10, zipf_exponent=0, random_state=6)
    shares = np.bincount(X[:, 0], minlength=10) / 20000
    np.testing.assert_allclose(shares, 0.1, atol=0.015)


def test_make_ctr_interactions_matter():
    """A first-order model stays clearly below the Bayes-optimal AUC."""
    X, y, proba = make_ctr_classification(20000, return_proba=True, random_state=7)
    bayes_auc = roc_auc_score(y[15000:], proba[15000:])
    linear_auc = _one_hot_auc(X, y, 15000)
    assert bayes_auc > 0.8
    assert 0.55 < linear_auc < bayes_auc - 0.08


def test_make_ctr_first_order_only_is_learnable():
    """Without interactions, the same linear model gets close to Bayes."""
    X, y, proba = make_ctr_classification(
        20000,
        interaction_strength=0,
        nonlinear_strength=0,
        first_order_strength=1.5,
        return_proba=True,
        random_state=7,
    )
    bayes_auc = roc_auc_score(y[15000:], proba[15000:])
    assert _one_hot_auc(X, y, 15000) > bayes_auc - 0.05


def test_make_ctr_without_effects_gives_constant_proba():
    _, _, proba = make_ctr_classification(
        500,
        first_order_strength=0,
        interaction_strength=0,
        nonlinear_strength=0,
        base_rate=0.1,
        return_proba=True,
        random_state=0,
    )
    np.testing.assert_allclose(proba, 0.1)


@pytest.mark.parametrize("n_fields", [1, 2])
def test_make_ctr_few_fields(n_fields):
    X, y, proba = make_ctr_classification(
        1000, n_fields, 20, return_proba=True, random_state=0
    )
    assert X.shape == (1000, n_fields)
    assert np.all(np.isfinite(proba))
    assert np.ptp(proba) > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(cardinalities=[10, 10]), r"one entry per field \(n_fields=3\)"),
        (dict(cardinalities=[[10, 10, 10]]), "1-D array-like"),
        (dict(cardinalities=[10.0, 10.0, 10.0]), "must contain integers"),
        (dict(cardinalities=[10, 1, 10]), "field 1 has cardinality 1"),
        (dict(cardinalities=0), "at least 2 categories"),
        (dict(n_samples=0), "n_samples must be an integer >= 1"),
        (dict(n_fields=0), "n_fields must be an integer >= 1"),
        (dict(n_fields=True), "n_fields must be an integer"),
        (dict(n_factors=2.5), "n_factors must be an integer"),
        (dict(base_rate=1.0), "base_rate must be a finite number strictly"),
        (dict(base_rate=0), "base_rate must be a finite number strictly"),
        (dict(interaction_strength=-1), "interaction_strength must be .* >= 0"),
        (dict(nonlinear_strength=np.nan), "nonlinear_strength must be a finite"),
        (dict(zipf_exponent=-0.5), "zipf_exponent must be .* >= 0"),
    ],
)
def test_make_ctr_validation(kwargs, match):
    params = dict(n_samples=10, n_fields=3, cardinalities=10, random_state=0)
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_ctr_classification(**params)


def test_make_ctr_accepts_numpy_integers():
    cards = np.array([3, 4], dtype=np.int32)
    X, _ = make_ctr_classification(np.int64(50), np.int32(2), cards, random_state=0)
    assert X.shape == (50, 2)


# ---------------------------------------------------------------------------
# ctr_cardinalities
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_fields, total", [(26, 285_000), (26, 1_400_000), (3, 7)])
def test_ctr_cardinalities_sum_and_bounds(n_fields, total):
    cards = ctr_cardinalities(n_fields, total, random_state=0)
    assert cards.shape == (n_fields,)
    assert cards.dtype == np.int64
    assert cards.sum() == total
    assert cards.min() >= 2


def test_ctr_cardinalities_spread():
    cards = ctr_cardinalities(26, 285_000, random_state=0)
    assert 10_000 <= cards.max() <= 150_000
    assert cards.min() <= 100
    assert np.sum((cards >= 10) & (cards <= 1000)) >= 8
    # shuffled: the largest field is not always the last one
    positions = {
        int(np.argmax(ctr_cardinalities(26, 285_000, random_state=s))) for s in range(5)
    }
    assert len(positions) > 1


def test_ctr_cardinalities_is_deterministic():
    a = ctr_cardinalities(10, 5000, random_state=1)
    np.testing.assert_array_equal(a, ctr_cardinalities(10, 5000, random_state=1))
    assert not np.array_equal(a, ctr_cardinalities(10, 5000, random_state=2))


@pytest.mark.parametrize(
    "args, match",
    [
        ((26, 51), r"total must be at least 2 \* n_fields = 52"),
        ((0, 100), "n_fields must be an integer >= 1"),
        ((3, 10.5), "total must be an integer"),
    ],
)
def test_ctr_cardinalities_validation(args, match):
    with pytest.raises(ValueError, match=match):
        ctr_cardinalities(*args)


# ---------------------------------------------------------------------------
# load_adult
# ---------------------------------------------------------------------------

NUMERIC = [
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
]
CATEGORICAL = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
]
FEATURES = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
]


@pytest.fixture(scope="module")
def adult_train():
    pytest.importorskip("pandas")
    return load_adult()


@pytest.fixture(scope="module")
def adult_test():
    pytest.importorskip("pandas")
    return load_adult(subset="test")


def test_load_adult_train_bunch(adult_train):
    bunch = adult_train
    assert bunch.data.shape == (32561, 14)
    assert bunch.feature_names == FEATURES
    assert list(bunch.data.columns) == FEATURES
    assert bunch.categorical_features == CATEGORICAL
    assert list(bunch.target_names) == ["<=50K", ">50K"]
    assert bunch.frame.shape == (32561, 15)
    assert list(bunch.frame.columns) == [*FEATURES, "income_>50K"]
    assert bunch.target.name == "income_>50K"
    assert "CC BY 4.0" in bunch.DESCR
    assert "10.24432/C5XW20" in bunch.DESCR


def test_load_adult_dtypes(adult_train):
    data = adult_train.data
    for name in NUMERIC:
        assert data[name].dtype == np.int64, name
    for name in CATEGORICAL:
        assert data[name].dtype == "category", name
    assert adult_train.target.dtype == np.int64
    assert data["sex"].cat.categories.tolist() == ["Female", "Male"]
    assert data["age"].between(17, 90).all()
    assert (data["education-num"].between(1, 16)).all()


def test_load_adult_missing_values(adult_train, adult_test):
    missing = adult_train.data.isna().sum()
    assert missing.to_dict() == {
        **dict.fromkeys(FEATURES, 0),
        "workclass": 1836,
        "occupation": 1843,
        "native-country": 583,
    }
    assert adult_test.data.isna().sum()[["workclass", "occupation"]].gt(0).all()
    for name in CATEGORICAL:
        assert "?" not in adult_train.data[name].cat.categories


def test_load_adult_targets(adult_train, adult_test):
    assert adult_train.target.sum() == 7841
    assert adult_test.target.sum() == 3846
    assert set(adult_test.target.unique()) == {0, 1}
    assert 0.23 < adult_train.target.mean() < 0.25


def test_load_adult_test_subset(adult_train, adult_test):
    assert adult_test.data.shape == (16281, 14)
    # the comment line is skipped: the first record is a 25-year-old
    assert adult_test.data["age"].iloc[0] == 25
    for name in CATEGORICAL:
        assert adult_test.data[name].cat.categories.equals(
            adult_train.data[name].cat.categories
        ), name


def test_load_adult_all_subset(adult_train, adult_test):
    X, y = load_adult(subset="all", return_X_y=True)
    assert X.shape == (48842, 14)
    assert y.sum() == 7841 + 3846
    assert X["age"].iloc[32561] == adult_test.data["age"].iloc[0]
    assert X.index.is_unique


def test_load_adult_return_X_y(adult_train):
    X, y = load_adult(return_X_y=True)
    assert X.equals(adult_train.data)
    assert y.equals(adult_train.target)


def test_load_adult_as_arrays(adult_train):
    bunch = load_adult(as_frame=False)
    X, y = bunch.data, bunch.target
    assert isinstance(X, np.ndarray) and X.dtype == object
    assert X.shape == (32561, 14)
    assert isinstance(y, np.ndarray) and y.dtype == np.int64
    assert bunch.frame is None
    np.testing.assert_array_equal(y, adult_train.target.to_numpy())
    assert X[0].tolist()[:4] == [39, "State-gov", 77516, "Bachelors"]
    workclass = X[:, FEATURES.index("workclass")]
    is_missing = np.array([value != value for value in workclass])  # NaN
    assert is_missing.sum() == 1836


def test_load_adult_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="as_frame=False"):
        load_adult()
    X, y = load_adult(subset="test", as_frame=False, return_X_y=True)
    assert X.shape == (16281, 14)


def test_load_adult_rejects_unknown_subset():
    with pytest.raises(ValueError, match="subset must be one of 'train', 'test'"):
        load_adult(subset="validation")


def test_adult_files_ship_with_attribution():
    data = files("sklearn_deepfm.datasets").joinpath("data")
    for name in ("adult.data.gz", "adult.test.gz", "README.md", "LICENSE"):
        assert data.joinpath(name).is_file(), name
    assert "CC BY 4.0" in data.joinpath("LICENSE").read_text(encoding="utf-8")


def test_streamed_batches_are_the_rows_of_make_ctr_classification():
    from sklearn_deepfm.datasets import stream_ctr_classification

    params = {
        "n_samples": 70_000,
        "n_fields": 5,
        "cardinalities": 40,
        "random_state": 3,
    }
    X, y, proba = make_ctr_classification(return_proba=True, **params)
    batches = list(
        stream_ctr_classification(batch_size=30_000, return_proba=True, **params)
    )
    assert [len(b[1]) for b in batches] == [30_000, 30_000, 10_000]
    np.testing.assert_array_equal(np.vstack([b[0] for b in batches]), X)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    np.testing.assert_array_equal(np.concatenate([b[2] for b in batches]), proba)


def test_the_stream_checks_its_arguments_and_seed_at_the_call():
    # a generator function had checked them, and read the global random
    # state, only when the first batch was drawn
    with pytest.raises(ValueError, match="n_samples"):
        stream_ctr_classification(n_samples=-1)
    with pytest.raises(ValueError, match="batch_size"):
        stream_ctr_classification(batch_size=0)
    with pytest.raises(ValueError, match="base_rate"):
        stream_ctr_classification(base_rate=2.0)
    seed = np.random.RandomState(0)
    stream = stream_ctr_classification(n_samples=50, n_fields=3, random_state=seed)
    seed.rand(10)  # the caller goes on drawing before the first batch
    X, _ = next(stream)
    expected, _ = make_ctr_classification(
        n_samples=50, n_fields=3, random_state=np.random.RandomState(0)
    )
    np.testing.assert_array_equal(X, expected)


def test_flags_must_be_booleans():
    # the string "False" is true: it flipped what was returned
    with pytest.raises(ValueError, match="as_frame must be a bool"):
        load_adult(as_frame="False")
    with pytest.raises(ValueError, match="return_X_y must be a bool"):
        load_adult(return_X_y="False")
    with pytest.raises(ValueError, match="return_proba must be a bool"):
        make_ctr_classification(n_samples=10, return_proba="False")
    with pytest.raises(ValueError, match="return_proba must be a bool"):
        stream_ctr_classification(n_samples=10, return_proba="no")
    assert len(make_ctr_classification(n_samples=10, return_proba=np.True_)) == 3
