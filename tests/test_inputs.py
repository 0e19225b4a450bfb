"""Every input kind a user brings: sparse matrices from scikit-learn's
encoders, label-encoded arrays and DataFrames, with unknown categories."""

import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction import DictVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor, DeepFMWarning

from .conftest import FAST, make_categorical


@pytest.fixture
def no_densify(monkeypatch):
    """Make every way of densifying a scipy sparse matrix fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("a sparse matrix was densified")

    classes = {sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array}
    for cls in list(classes):
        classes.update(cls.__mro__)
    for cls in classes:
        for method in ("toarray", "todense", "__array__"):
            if method in vars(cls):
                monkeypatch.setattr(cls, method, refuse)


def test_onehot_pipeline_infers_one_field_per_encoder_column(no_densify):
    X, y = make_categorical(n_fields=5)
    pipe = make_pipeline(
        OneHotEncoder(handle_unknown="ignore"), DeepFMClassifier(**FAST)
    )
    pipe.fit(X, y)
    model = pipe[-1]
    n_categories = [len(c) for c in pipe[0].categories_]
    assert model.n_fields_ == 5
    assert_array_equal(model.fields_, np.repeat(np.arange(5), n_categories))
    assert pipe.score(X, y) > 0.7


def test_column_transformer_fields_match_input_columns(no_densify):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 500),
            "city": rng.choice(["paris", "rome", "oslo", "lima"], 500),
            "income": rng.lognormal(3, 1, 500),
            "device": rng.choice(["ios", "android", "web"], 500),
        }
    )
    y = ((frame.city == "rome") ^ (frame.age > 40)).astype(int)
    encode = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "device"]),
        ],
        sparse_threshold=1.0,
    )
    pipe = make_pipeline(encode, DeepFMClassifier(**FAST)).fit(frame, y)
    assert_array_equal(pipe[-1].fields_, [0, 1, 2, 2, 2, 2, 3, 3, 3])
    unseen = frame.head(3).assign(city="tokyo", device="tv")
    assert np.isfinite(pipe.predict_proba(unseen)).all()


def test_multi_hot_dict_vectorizer_input(no_densify):
    rng = np.random.default_rng(0)
    tags = ["a", "b", "c", "d", "e", "f"]
    records = [
        {"user": f"u{rng.integers(20)}", **{t: 1 for t in rng.choice(tags, 3)}}
        for _ in range(400)
    ]
    y = np.array([int(r.get("a", 0) and r["user"] < "u1") for r in records])
    pipe = make_pipeline(DictVectorizer(), DeepFMClassifier(**FAST))
    pipe.fit(records, y)
    proba = pipe.predict_proba(records[:10])
    assert proba.shape == (10, 2)
    assert_allclose(proba.sum(axis=1), 1)


@pytest.mark.parametrize(
    "to_sparse",
    [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.lil_matrix],
)
def test_every_sparse_format_gives_the_same_model(to_sparse, no_densify):
    X, y = make_categorical()
    onehot = OneHotEncoder().fit_transform(X).tocsr()
    reference = DeepFMClassifier(**FAST).fit(onehot, y).predict_proba(onehot)
    converted = to_sparse(onehot)
    proba = DeepFMClassifier(**FAST).fit(converted, y).predict_proba(converted)
    assert_allclose(proba, reference, rtol=1e-6)


def test_onehot_and_label_encoded_forms_train_alike():
    X, y = make_categorical(n_samples=1500)
    onehot = OneHotEncoder().fit_transform(X)
    from_codes = DeepFMClassifier(**FAST).fit(X, y)
    from_onehot = DeepFMClassifier(**FAST).fit(onehot, y)
    assert from_codes.n_fields_ == from_onehot.n_fields_ == X.shape[1]
    assert abs(from_codes.score(X, y) - from_onehot.score(onehot, y)) < 0.05


def test_explicit_fields_override_inference():
    X, y = make_categorical()
    onehot = OneHotEncoder().fit_transform(X)
    fields = np.zeros(onehot.shape[1], dtype=int)  # everything in one field
    model = DeepFMClassifier(fields=fields, **FAST).fit(onehot, y)
    assert model.n_fields_ == 1
    names = np.array(["left"] * 12 + ["right"] * (onehot.shape[1] - 12))
    model = DeepFMClassifier(fields=names, **FAST).fit(onehot, y)
    assert model.n_fields_ == 2
    with pytest.raises(ValueError, match="one field label per column"):
        DeepFMClassifier(fields=fields[:-1], **FAST).fit(onehot, y)
    # labels of any hashable kind, numbered in order of first appearance
    halves = [12, onehot.shape[1] - 12]
    # named as they print, by their repr where two print alike (shap takes
    # a column by name); NaN one label, however many NaN objects
    cases = (
        (("oh", 1), ("oh", 2), ["('oh', 1)", "('oh', 2)"]),
        (None, "b", ["None", "b"]),
        (0, "0", ["0", "'0'"]),
        (None, "None", ["None", "'None'"]),
        (3, "a", ["3", "a"]),
    )
    for left, right, names in cases:
        labels = [left] * halves[0] + [right] * halves[1]
        model = DeepFMClassifier(fields=labels, **FAST).fit(onehot, y)
        assert_array_equal(model.fields_, [0] * halves[0] + [1] * halves[1])
        assert model.explain(onehot[:1]).feature_names == names
    labels = np.array([np.nan] * halves[0] + [1.0] * halves[1])
    model = DeepFMClassifier(fields=labels, **FAST).fit(onehot, y)
    assert_array_equal(model.fields_, [0] * halves[0] + [1] * halves[1])
    # fields reads a dense input as a sparse matrix: strings cannot be one
    # (SciPy's "does not support dtype object" said nothing of fields)
    words = pd.DataFrame({"a": ["x", "y"] * 50, "b": [0, 1] * 50})
    with pytest.raises(ValueError, match="fields= reads X as a sparse matrix"):
        DeepFMClassifier(fields=[0, 0], **FAST).fit(words, y[:100])


def test_real_valued_sparse_columns_are_fields_of_their_own():
    rng = np.random.default_rng(0)
    onehot = OneHotEncoder().fit_transform(rng.integers(0, 3, size=(300, 2)))
    numbers = sp.csr_matrix(rng.normal(size=(300, 2)))
    X = sp.hstack([numbers, onehot]).tocsr()
    y = (X[:, 0].toarray().ravel() > 0).astype(int)
    model = DeepFMClassifier(**FAST).fit(X, y)
    assert_array_equal(model.fields_, [0, 1, 2, 2, 2, 3, 3, 3])
    assert model.score(X, y) > 0.8


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float64, np.float32])
def test_label_encoded_arrays_are_categorical(dtype):
    X, y = make_categorical()
    model = DeepFMClassifier(**FAST).fit(X.astype(dtype), y)
    assert model.is_categorical_.all()
    assert model.score(X.astype(dtype), y) > 0.7


def test_ordinal_encoder_unknown_value_and_unseen_codes():
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(8)], dtype=object)
    raw = words[rng.integers(0, 8, size=(400, 3))]
    y = (raw[:, 0] == raw[:, 1]).astype(int)
    pipe = make_pipeline(
        OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
        DeepFMClassifier(**FAST),
    ).fit(raw, y)
    unseen = np.array([["never", "seen", "w1"], ["w1", "w1", "x"]], dtype=object)
    proba = pipe.predict_proba(unseen)
    assert np.isfinite(proba).all()
    model = pipe[-1]
    # codes never seen in fit, negative codes and NaN all share the unknown row
    codes = np.array([[99.0, -1, np.nan], [-1, np.nan, 1e6]])
    assert np.isfinite(model.predict_proba(codes)).all()
    same = model.predict_proba(np.array([[99.0, -1, np.nan], [-5, 1e6, -1]]))
    assert_allclose(same[0], same[1])


def test_non_integer_values_of_codes_warn_once_as_unknown_categories():
    # A column of whole floats reads as codes; partial_dependence's grid then
    # sends non-integer values, each an unknown category: say so, once a call
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(20, 60, 3000).astype(float),
            "job": rng.integers(0, 5, 3000),
        }
    )
    y = (frame["age"] % 3 == 0).to_numpy().astype(int)  # no order: codes alone
    model = DeepFMClassifier(**FAST).fit(frame, y)
    assert model.is_categorical_.all() and model.n_fields_ == 2
    grid = pd.concat([frame] * 3, ignore_index=True)  # 9,000 rows: 3 blocks
    grid.loc[:, "age"] = np.arange(9000) % 7 + 20.5
    with pytest.warns(
        UserWarning, match=r"9000 value\(s\) of .*age.* such as 20\.5"
    ) as record:
        proba = model.predict_proba(grid)
    assert len(record) == 1 and record[0].filename == __file__  # the caller's line
    # through scikit-learn's tools too (it pointed inside pipeline.py)
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    pipe = make_pipeline(FunctionTransformer(), clone(model)).fit(frame, y)
    with pytest.warns(UserWarning, match="not whole numbers") as record:
        pipe.predict(grid)
    assert record[0].filename == __file__
    # in joblib's workers, where no user's line is: the scikit-learn tool's
    # (not threading's)
    from sklearn.utils.parallel import Parallel, delayed

    with pytest.warns(UserWarning, match="not whole numbers") as record:
        Parallel(n_jobs=2, backend="threading")(
            delayed(model.predict_proba)(part) for part in (grid[:10], grid[10:20])
        )
    assert record and all(os.sep + "sklearn" + os.sep in r.filename for r in record)
    # at the caller's line, module= no longer tells them apart: their category
    assert issubclass(record[0].category, DeepFMWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeepFMWarning)
        model.predict_proba(grid)
    unknown = grid.assign(age=np.nan)
    assert_allclose(proba, model.predict_proba(unknown))
    # unseen whole numbers, negatives and missing values are unknown silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict_proba(frame.assign(age=[99.0, -1.0, np.nan] * 1000))
    from sklearn.inspection import partial_dependence

    with pytest.warns(UserWarning, match="custom_values of whole numbers"):
        partial_dependence(model, frame, ["age"], grid_resolution=5)


def test_integer_float_and_dataframe_codes_predict_alike():
    # Integer codes skip the float conversion and dense input is encoded in
    # row blocks; neither may change a row's encoding.  10,000 rows span
    # several blocks, with unseen, negative and huge codes spread among them.
    X, y = make_categorical()
    model = DeepFMClassifier(**FAST).fit(X, y)
    rng = np.random.default_rng(1)
    codes = rng.integers(-3, X.max() + 4, size=(10_000, X.shape[1]))
    codes[rng.random(codes.shape) < 0.01] = np.iinfo(np.int64).max
    expected = model.predict_proba(codes.astype(np.float64))
    assert_allclose(model.predict_proba(codes), expected)
    assert_allclose(model.predict_proba(codes.astype(np.int32)), expected)
    assert_allclose(model.predict_proba(np.asfortranarray(codes)), expected)
    assert_allclose(model.predict_proba(pd.DataFrame(codes)), expected)
    # each row alone, as the first row of its own input, predicts the same
    for i in (0, 4_095, 4_096, 9_999):
        assert_allclose(model.predict_proba(codes[i : i + 1]), expected[i : i + 1])


def test_large_sparse_codes_behave_like_small_codes():
    # Hashed ids (huge, sparse codes) take another lookup path than small codes;
    # both must give the same rows, with unseen, negative, fractional and NaN
    # codes unknown.
    X, y = make_categorical()
    hashed = X.astype(np.float64) * 7_919_000_003 + 12_345
    small = DeepFMClassifier(**FAST).fit(X, y)
    large = DeepFMClassifier(**FAST).fit(hashed, y)
    assert_allclose(large.predict_proba(hashed), small.predict_proba(X))
    odd_small = np.array([[99.0, -1, np.nan, 2.5], [1, 2, 3, 4]])
    odd_large = np.array(
        [[1e15, -1, np.nan, 12_345.5], np.array([1, 2, 3, 4]) * 7_919_000_003 + 12_345]
    )
    assert_allclose(large.predict_proba(odd_large), small.predict_proba(odd_small))
    # many rows at once take a hash lookup rather than a binary search
    many_large, many_small = np.tile(odd_large, (50, 1)), np.tile(odd_small, (50, 1))
    assert_allclose(large.predict_proba(many_large), small.predict_proba(many_small))


def test_a_list_of_rows_mixing_numbers_and_text_reads_as_its_object_array():
    # NumPy makes every cell of such a list text: the float column had become
    # a thousand categories; scikit-learn's encoders keep the list as objects
    rng = np.random.default_rng(0)
    size = rng.normal(size=1_000)
    city = rng.choice(["oslo", "rome"], 1_000)
    y = ((size > 0) ^ (city == "rome")).astype(int)
    rows = [[float(a), b] for a, b in zip(size, city, strict=True)]
    objects = np.array(rows, dtype=object)
    from_list = DeepFMClassifier(**FAST).fit(rows, y)
    from_objects = DeepFMClassifier(**FAST).fit(objects, y)
    kinds = [field.kind for field in from_list.input_layout_.fields]
    assert kinds == ["numeric", "categorical"]
    assert_array_equal(from_list.predict_proba(rows), from_objects.predict_proba(rows))
    assert_array_equal(
        from_objects.predict_proba(rows), from_objects.predict_proba(objects)
    )


def test_hashed_integer_codes_give_the_rows_of_their_float_values():
    # Hashed codes are looked up by a hash of their own kind (int64 keys for
    # integer codes, float64 for the others) and column by column, the other
    # columns by row blocks: the same codes give the same rows in every dtype,
    # after a later partial_fit has learnt new codes, and after a pickle.
    X, y = make_categorical(n_samples=2_000)
    X[1_000:, :2] += 6  # the second call brings codes the first never saw
    ids = X[:, :2] * 7_919_000_003 + 12_345
    mixed = np.column_stack([ids, X[:, 2:]])  # two hashed, two tabled columns
    model = DeepFMClassifier(**FAST)
    model.partial_fit(mixed[:1_000], y[:1_000], classes=[0, 1])
    rng = np.random.default_rng(1)
    codes = mixed[rng.integers(0, 2_000, size=10_000)]
    codes[rng.random(codes.shape) < 0.02] = -1
    codes[rng.random(codes.shape) < 0.02] = 99 * 7_919_000_003  # never seen
    model.predict_proba(codes)  # hashes the codes of the first call
    model.partial_fit(mixed[1_000:], y[1_000:])
    expected = model.predict_proba(codes.astype(np.float64))
    assert_allclose(model.predict_proba(codes), expected)
    # uint64: the negative codes wrap to 2**64 - 1, a code never seen
    assert_allclose(model.predict_proba(codes.astype(np.uint64)), expected)
    assert_allclose(model.predict_proba(pd.DataFrame(codes)), expected)
    restored = pickle.loads(pickle.dumps(model))
    assert_allclose(restored.predict_proba(codes), expected)
    # the codes learnt by the second call are found, not read as unknown
    late = codes[:, 0] >= 6 * 7_919_000_003 + 12_345
    late &= codes[:, 0] < 99 * 7_919_000_003
    unknown = codes[late].copy()
    unknown[:, 0] = -1
    assert np.abs(expected[late] - model.predict_proba(unknown)).max() > 1e-3


def test_floats_reaching_2_to_the_53_are_numbers_under_auto():
    # every float from 2**53 on is whole: amounts in wei had been refused as
    # codes too large to tell apart, with advice for 64-bit ids
    rng = np.random.default_rng(0)
    wei = np.round(rng.gamma(2.0, 1.0, 300), 3) * 1e18
    y = (wei > 2e18).astype(int)
    colour = rng.choice(["red", "blue"], 300)
    frames = [
        pd.DataFrame({"wei": wei, "colour": colour}),
        np.column_stack([wei.astype(object), colour]),
    ]
    for X in frames:
        with pytest.warns(DeepFMWarning, match=r"floats of 2\*\*53 or more.*numeric"):
            model = DeepFMClassifier(**FAST).fit(X, y)
        assert_array_equal(model.is_categorical_, [False, True])
    # the same amounts as integers are refused, with both ways out
    ints = pd.DataFrame({"wei": wei.astype(np.int64), "colour": colour})
    with pytest.raises(ValueError, match="as strings.*categorical_features"):
        DeepFMClassifier(**FAST).fit(ints, y)


def test_python_integers_from_2_to_the_53_in_an_object_column_are_exact_labels():
    # as numbers they would be codes float64 cannot tell apart (refused): in
    # an object column they are labels, kept apart exactly
    rng = np.random.default_rng(0)
    ids = [2**60 + int(i) for i in rng.integers(0, 5, 300)]
    y = np.array([i % 2 for i in ids])
    for X in (
        pd.DataFrame({"id": pd.Series(ids, dtype=object)}),
        np.array(ids, dtype=object)[:, None],
    ):
        model = DeepFMClassifier(**FAST).fit(X, y)
        assert sorted(model.input_layout_.fields[0].categories) == sorted(set(ids))
        assert model.score(X, y) == 1.0
    # the ids from a polars integer column with a null: polars' to_numpy
    # gives floats there, and every row had read another category
    pl = pytest.importorskip("polars")
    frame = pd.DataFrame({"id": pd.Series(ids, dtype=object)})
    model = DeepFMClassifier(**FAST).fit(frame, y)
    holed = frame.copy()
    holed.loc[0, "id"] = None
    expected = model.predict_proba(holed)
    assert_allclose(expected[1:], model.predict_proba(frame)[1:])
    column = pl.Series("id", [None, *ids[1:]], dtype=pl.Int64)
    for dtype in (pl.Int64, pl.UInt64):
        assert_allclose(model.predict_proba(column.cast(dtype).to_frame()), expected)


def test_codes_above_2_to_the_53_are_refused_rather_than_merged():
    # 64-bit hashed ids: float64, in which codes are held, would merge 2**60
    # and 2**60 + 1 into one category; as strings they stay apart
    X, y = make_categorical()
    ids = (2**60 + X[:, 0].astype(np.int64)).reshape(-1, 1)
    # 2**53 + 1 reads as 2**53 in float64: the boundary is refused too
    with pytest.raises(ValueError, match=r"2\*\*53 or more"):
        DeepFMClassifier(**FAST).fit(np.where(ids > 2**60, 2**53 + 1, 0), y)
    with pytest.raises(ValueError, match=r"2\*\*53 or more.*as strings"):
        DeepFMClassifier(**FAST).fit(ids, y)
    frame = pd.DataFrame({"id": ids[:, 0]})
    with pytest.raises(ValueError, match=r"2\*\*53 or more"):
        DeepFMClassifier(**FAST).fit(frame, y)
    model = DeepFMClassifier(**FAST).fit(frame.astype(str), y)
    assert model.input_layout_.fields[0].n_embeddings == len(np.unique(ids)) + 1
    tags = pd.DataFrame({"tags": pd.Series([[int(i)] for i in ids[:, 0]])})
    with pytest.raises(ValueError, match=r"2\*\*53 or more"):
        DeepFMClassifier(**FAST).fit(tags, y)


def test_a_text_vectorizer_block_read_as_thousands_of_fields_warns():
    # real-valued columns are fields of their own: a TF-IDF block of 1,500
    # columns made a deep part 1,500 fields wide (predicting 20,000 rows of
    # 4,000 such columns took 2.4 GB); declared one field, it is one
    X = sp.random(300, 1500, density=0.01, random_state=0, format="csr")
    y = np.arange(300) % 2
    with pytest.warns(UserWarning, match="read as 1,4[0-9][0-9] fields.*fields="):
        DeepFMClassifier(**FAST).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model = DeepFMClassifier(fields=[0] * 1500, **FAST).fit(X, y)
    assert model.n_fields_ == 1


def test_unscaled_values_of_a_sparse_matrix_warn():
    # used as they are: raw numbers beside one-hot columns (a DictVectorizer of
    # mixed dicts) kept the first-order solve from converging
    X, y = make_categorical(n_samples=300)
    onehot = OneHotEncoder().fit_transform(X)
    income = np.random.default_rng(0).uniform(0, 1e5, size=(300, 1))
    raw = sp.hstack([onehot, sp.csr_matrix(income)]).tocsr()
    with pytest.warns(UserWarning, match="1 column\\(s\\) of the sparse matrix"):
        DeepFMClassifier(**FAST).fit(raw, y)
    scaled = sp.hstack([onehot, sp.csr_matrix(income / 1e5)]).tocsr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        DeepFMClassifier(**FAST).fit(scaled, y)


def test_mixed_numeric_and_categorical_columns():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, size=(500, 2))
    amount = rng.normal(size=(500, 1)) * 100 + 50
    X = np.hstack([codes, amount])
    y = ((codes[:, 0] == 2) | (amount[:, 0] > 80)).astype(int)
    model = DeepFMClassifier(**FAST).fit(X, y)
    assert_array_equal(model.is_categorical_, [True, True, False])
    assert model.score(X, y) > 0.8


def test_categorical_features_overrides():
    X, y = make_categorical()
    as_numbers = DeepFMClassifier(categorical_features=None, **FAST).fit(X, y)
    assert not as_numbers.is_categorical_.any()
    by_index = DeepFMClassifier(categorical_features=[0, 2], **FAST).fit(X, y)
    assert_array_equal(by_index.is_categorical_, [True, False, True, False])
    mask = np.array([False, True, False, True])
    by_mask = DeepFMClassifier(categorical_features=mask, **FAST).fit(X, y)
    assert_array_equal(by_mask.is_categorical_, mask)
    # an empty list marks no column, as for HistGradientBoostingClassifier
    none_marked = DeepFMClassifier(categorical_features=[], **FAST).fit(X, y)
    assert not none_marked.is_categorical_.any()
    # they apply to dense columns: ignored for a sparse matrix, with a warning
    with pytest.warns(UserWarning, match="ignored for a sparse matrix"):
        DeepFMClassifier(categorical_features=[0], **FAST).fit(sp.csr_matrix(X), y)
    # indices outside [0, n_features), negative ones included, as for HGB
    for wrong in ([-1], [4]):
        with pytest.raises(ValueError, match="must lie in \\[0, 4\\)"):
            DeepFMClassifier(categorical_features=wrong, **FAST).fit(X, y)


@pytest.mark.parametrize("constant", [0.1, 0.5])
def test_a_numeric_column_or_target_that_does_not_vary_has_the_scale_one(constant):
    # numpy gives 50 copies of 0.1 a deviation of 2.8e-17, not 0: a later 0.2
    # was 7e15 deviations away, and a constant target scaled every output to 0
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 3, 50), np.full(50, constant)])
    y = rng.integers(0, 2, 50)
    model = DeepFMClassifier(**FAST).fit(X, y)
    assert model.input_layout_.fields[1].scale == 1.0
    assert np.isfinite(model.predict_proba(np.array([[0, constant + 0.1]]))).all()
    regressor = DeepFMRegressor(**FAST).partial_fit(X, np.full(50, constant))
    target = X[:, 0] * 2.0
    for _ in range(20):
        regressor.partial_fit(X, target)
    assert np.ptp(regressor.predict(X)) > 0.5


def test_nan_in_numeric_column_names_the_column():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = np.arange(50) % 2
    model = DeepFMClassifier(**FAST).fit(X, y)
    X_bad = X.copy()
    X_bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN in numeric column 2"):
        model.predict(X_bad)
    # marking a real-valued column categorical, advised before, is refused
    with pytest.raises(ValueError, match="SimpleImputer") as caught:
        model.predict(X_bad)
    assert "categorical" not in str(caught.value)
    X_bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="infinity in numeric column 2"):
        model.predict(X_bad)
    counts = np.abs(np.round(X * 3))
    codes = DeepFMClassifier(**FAST, categorical_features=[]).fit(counts, y)
    with pytest.raises(ValueError, match="mark the column as categorical"):
        codes.predict(np.where(np.isinf(X_bad), np.nan, counts))
    # not with negative values, which a categorical column reads as missing
    signed = DeepFMClassifier(**FAST, categorical_features=[]).fit(np.round(X * 3), y)
    with pytest.raises(ValueError, match="SimpleImputer") as caught:
        signed.predict(np.where(np.isinf(X_bad), np.nan, np.round(X * 3)))
    assert "categorical" not in str(caught.value)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.loc[5, "c"] = np.inf
    with pytest.raises(ValueError, match="column 2 \\('c'\\)"):
        DeepFMClassifier(**FAST).fit(frame, y)


def _frame(n, rng):
    return pd.DataFrame(
        {
            "country": pd.Categorical(rng.choice(["fr", "de", "it"], n)),
            "browser": rng.choice(["chrome", "firefox", "safari"], n).astype(object),
            "plan": pd.array(rng.choice(["free", "pro"], n), dtype="string"),
            "mobile": rng.random(n) > 0.5,
            "visits": rng.integers(0, 4, n),
            "spend": rng.gamma(2.0, 10.0, n),
        }
    )


def test_dataframe_with_categorical_and_numeric_columns():
    rng = np.random.default_rng(0)
    frame = _frame(600, rng)
    y = ((frame.country == "fr") & frame.mobile | (frame.spend > 30)).astype(int)
    model = DeepFMClassifier(**FAST).fit(frame, y)
    assert_array_equal(model.feature_names_in_, frame.columns)
    assert_array_equal(model.is_categorical_, [True, True, True, True, True, False])
    assert model.score(frame, y) > 0.8

    unseen = _frame(4, rng)
    unseen["country"] = pd.Categorical(["jp", None, "fr", "xx"])
    unseen.loc[1, "browser"] = None
    unseen["plan"] = pd.array(["enterprise", None, "pro", "free"], dtype="string")
    assert np.isfinite(model.predict_proba(unseen)).all()


def test_dataframe_categorical_features_by_name():
    rng = np.random.default_rng(0)
    frame = _frame(300, rng)
    y = (frame.visits > 1).astype(int)
    model = DeepFMClassifier(categorical_features=["spend"], **FAST)
    with pytest.raises(ValueError, match="non-integer"):
        model.fit(frame, y)
    model = DeepFMClassifier(categorical_features="from_dtype", **FAST).fit(frame, y)
    assert_array_equal(model.is_categorical_, [True, True, True, True, False, False])


def test_regressor_takes_every_input_kind():
    X, _ = make_categorical()
    rng = np.random.default_rng(0)
    y = X[:, 0] * 2.0 + (X[:, 1] == X[:, 2]) * 3.0 + rng.normal(scale=0.1, size=len(X))
    for inputs in (
        X,
        OneHotEncoder().fit_transform(X),
        pd.DataFrame(X).astype("category"),
    ):
        model = DeepFMRegressor(hidden_units=(32,), max_epochs=40, random_state=0)
        assert model.fit(inputs, y).score(inputs, y) > 0.8


def test_an_object_column_of_booleans_reads_as_the_bool_column_it_came_from():
    # a get_dummies block of booleans beside text: df.to_numpy() and
    # df.astype(object) made each of its columns a field of two labels,
    # where the frame has one indicator field (predictions 0.012 apart)
    rng = np.random.default_rng(0)
    size = rng.choice(["s", "m", "l"], 600)
    colour = rng.choice(["red", "blue", "green"], 600)
    frame = pd.concat(
        [pd.Series(size, name="size"), pd.get_dummies(pd.Series(colour), prefix="c")],
        axis=1,
    )
    y = ((size == "s") ^ (colour == "red")).astype(int)
    expected = DeepFMClassifier(**FAST).fit(frame, y)
    assert [f.kind for f in expected.input_layout_.fields] == [
        "categorical",
        "indicator",
    ]
    rows = frame.to_numpy()
    rows[:, 1] = [np.bool_(value) for value in rows[:, 1]]  # NumPy's, as zip gives
    for given in (rows, frame.astype(object), rows.tolist()):
        model = DeepFMClassifier(**FAST).fit(given, y)
        assert [f.kind for f in model.input_layout_.fields] == [
            "categorical",
            "indicator",
        ]
        assert_allclose(model.predict_proba(given), expected.predict_proba(frame))


def test_hashable_values_in_an_object_array_are_labels_as_in_a_frame():
    # enum members and pd.cut's Intervals were refused from df.to_numpy()
    import enum

    class Plan(enum.Enum):
        BASIC = 1
        PRO = 2

    rng = np.random.default_rng(0)
    age = rng.integers(18, 80, 400)
    plan = rng.choice([Plan.BASIC, Plan.PRO], 400)
    frame = pd.DataFrame({"plan": plan, "ages": pd.cut(age, [0, 30, 50, 100])})
    y = ((age > 40) ^ (plan == Plan.PRO)).astype(int)
    expected = DeepFMClassifier(**FAST).fit(frame.astype(object), y)
    model = DeepFMClassifier(**FAST).fit(frame.astype(object).to_numpy(), y)
    assert_allclose(
        model.predict_proba(frame.astype(object).to_numpy()),
        expected.predict_proba(frame.astype(object)),
    )


def test_fields_read_a_frame_of_numbers_whatever_its_types():
    # nullable, Arrow and bool-beside-float frames were refused as "not
    # numbers" in fit, and with scipy's "dtype object" at predict
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    colour = rng.choice(["red", "green", "blue"], 400)
    price = rng.gamma(2.0, 1.0, 400).round(2)
    y = ((colour == "red") ^ (price > 2)).astype(int)
    dummies = pd.get_dummies(pd.Series(colour, name="colour"))
    frame = pd.concat([dummies.astype(float), pd.Series(price, name="price")], axis=1)
    fields = ["colour"] * 3 + ["price"]
    expected = DeepFMClassifier(fields=fields, **FAST).fit(frame, y)
    for other in (
        frame.convert_dtypes(dtype_backend="numpy_nullable"),
        frame.convert_dtypes(dtype_backend="pyarrow"),
        pd.concat([dummies, pd.Series(price, name="price")], axis=1),
        frame.astype({column: "category" for column in dummies.columns}),
    ):
        model = DeepFMClassifier(fields=fields, **FAST).fit(other, y)
        assert_allclose(model.predict_proba(other), expected.predict_proba(frame))
        assert_allclose(expected.predict_proba(other), expected.predict_proba(frame))
    texts = frame.assign(price=price.astype(str))
    with pytest.raises(ValueError, match="not numbers"):
        DeepFMClassifier(fields=fields, **FAST).fit(texts, y)
    with pytest.raises(ValueError, match="sparse matrix of numbers.*not numbers"):
        expected.predict(texts)
    stream = DeepFMClassifier(fields=fields, **FAST).partial_fit(
        frame, y, classes=[0, 1]
    )
    with pytest.raises(ValueError, match="sparse matrix of numbers.*not numbers"):
        stream.partial_fit(texts, y)
