"""``explain``: per-field and per-pair contributions that add up to the
output on every kind of input, the deep part's exact Shapley values, the
planted interaction found first, and shap's plots of the result."""

import copy
import doctest
import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import OneHotEncoder

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor, Explanation
from sklearn_deepfm.export import encode

from .conftest import FAST, make_categorical, make_first_order

# the FM and deep parts trained on every row, kept whatever the validation says
KEEP = {**FAST, "early_stopping": False}


def _assert_adds_up(explanation, output):
    """The issue's bookkeeping: base + values == output within 1e-5 of the
    output's scale (float32), and values == rows of interaction_values."""
    total = explanation.base_values + explanation.values.sum(axis=1)
    assert total.shape == output.shape
    assert_allclose(total, output, rtol=1e-5, atol=1e-5 * np.abs(output).max())
    assert_allclose(explanation.values, explanation.interaction_values.sum(axis=2))
    pairs = explanation.interaction_values
    assert_array_equal(pairs, np.swapaxes(pairs, 1, 2))
    assert_array_equal(
        explanation.base_values,
        explanation.base_values[:1].repeat(len(explanation), axis=0),
    )


def _dataframe(n_samples=800, random_state=0):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(random_state)
    X = pd.DataFrame(
        {
            "city": rng.choice(["paris", "rome", "oslo", "lima"], n_samples),
            "device": pd.Categorical(rng.choice(["ios", "android"], n_samples)),
            "age": rng.normal(40, 12, n_samples),
            "visits": rng.integers(0, 5, n_samples),
        }
    )
    logit = (X["city"] == "rome") * (X["device"] == "ios") * 2.0 + X["age"] / 40 - 1
    y = (logit + rng.normal(scale=0.5, size=n_samples) > 0).astype(int)
    return X, y.to_numpy()


def _one_hot(n_samples=800):
    X, y = make_categorical(n_samples=n_samples)
    return OneHotEncoder().fit_transform(X), y


def _mixed_numeric(n_samples=800):
    X, y = make_categorical(n_samples=n_samples)
    rng = np.random.default_rng(1)
    numeric = rng.normal(size=(n_samples, 2)) * [1.0, 30.0] + [0.0, 100.0]
    return np.column_stack([X, numeric]), y


def _multi_hot(n_samples=800):
    """A sparse matrix whose first five columns are one multi-valued field."""
    X, y = make_categorical(n_samples=n_samples)
    rng = np.random.default_rng(2)
    tags = (rng.random((n_samples, 5)) < 0.4).astype(float)
    X = sp.hstack([sp.csr_matrix(tags), OneHotEncoder().fit_transform(X)]).tocsr()
    fields = ["tags"] * 5 + [f"f{j // 6}" for j in range(X.shape[1] - 5)]
    return X, y, fields


INPUTS = {
    "dataframe": lambda: (*_dataframe(), {}),
    "sparse one-hot": lambda: (*_one_hot(), {}),
    "label-encoded": lambda: (*make_categorical(n_samples=800), {}),
    "mixed numeric": lambda: (*_mixed_numeric(), {}),
    "multi-hot fields": lambda: (
        *_multi_hot()[:2],
        {"fields": _multi_hot()[2]},
    ),
    "bfloat16 deep part": lambda: (
        *make_categorical(n_samples=800),
        {"mixed_precision": True},
    ),
}


@pytest.mark.parametrize("kind", INPUTS)
def test_contributions_add_up_to_the_logit_on_every_input(kind):
    X, y, params = INPUTS[kind]()
    model = DeepFMClassifier(**KEEP, **params).fit(X, y)
    explanation = model.explain(X[:200], random_state=0)
    n_fields = model.n_fields_
    assert explanation.values.shape == (200, n_fields)
    assert explanation.interaction_values.shape == (200, n_fields, n_fields)
    assert explanation.base_values.shape == (200,)
    assert explanation.data.shape == (200, n_fields)
    assert len(explanation.feature_names) == n_fields
    _assert_adds_up(explanation, model.decision_function(X[:200]))


def test_a_multi_valued_field_gets_one_value_and_pairs_as_one_vector():
    X, y, fields = _multi_hot()
    model = DeepFMClassifier(**KEEP, fields=fields).fit(X, y)
    assert model.input_layout_.fields[0].kind == "multivalued"
    explanation = model.explain(X[:100], random_state=0)
    assert explanation.values.shape == (100, model.n_fields_)
    inputs = encode(model, X[:100])
    with torch.no_grad():
        _, vectors = model.net_.module_.field_vectors(**inputs)
    vectors = vectors.double().numpy()
    # the pair (tags, g) is the FM term of the pooled tag vector and g's vector
    for g in range(1, model.n_fields_):
        pair = (vectors[:, 0] * vectors[:, g]).sum(-1)
        assert_allclose(explanation.interaction_values[:, 0, g] * 2, pair, atol=1e-6)
        assert_allclose(explanation.interaction_values[:, g, 0] * 2, pair, atol=1e-6)
    _assert_adds_up(explanation, model.decision_function(X[:100]))


def test_one_row_is_explained_as_among_others():
    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(**KEEP).fit(X, y)
    alone = model.explain(X[7:8])
    among = model.explain(X)[7]
    assert alone.values.shape == (1, 4)
    _assert_adds_up(alone, model.decision_function(X[7:8]))
    assert_allclose(alone.interaction_values, among.interaction_values, atol=1e-6)
    assert_allclose(alone.base_values, among.base_values)


def test_partial_fit_model_with_categories_learnt_later():
    X, y = make_categorical(n_samples=900)
    model = DeepFMClassifier(**FAST)
    model.partial_fit(X[:400] % 4, y[:400], classes=[0, 1])
    model.partial_fit(X[400:], y[400:])  # codes 4 and 5 first seen here
    explanation = model.explain(X)
    _assert_adds_up(explanation, model.decision_function(X))


def test_multiclass_has_a_trailing_class_axis():
    X, y = make_categorical(n_samples=900)
    y = np.array(["low", "mid", "high"])[(X[:, 0] + y) % 3]
    model = DeepFMClassifier(**KEEP).fit(X, y)
    explanation = model.explain(X[:50])
    assert explanation.values.shape == (50, 4, 3)
    assert explanation.base_values.shape == (50, 3)
    assert explanation.interaction_values.shape == (50, 4, 4, 3)
    assert explanation.output_names == list(model.classes_)
    _assert_adds_up(explanation, model.decision_function(X[:50]))


def test_regressor_explains_predictions_in_target_units():
    X, y = make_categorical(n_samples=900)
    target = 1000.0 + 250.0 * (X[:, 0] == X[:, 1]) + 40.0 * X[:, 2]
    model = DeepFMRegressor(**KEEP).fit(X, target)
    explanation = model.explain(X[:100])
    _assert_adds_up(explanation, model.predict(X[:100]))
    # the base is the prediction of a row without fields, near the mean
    assert abs(explanation.base_values[0] - target.mean()) < 2 * target.std()


def _brute_force_deep_shares(model, X):
    """Shapley values of the deep part over fields, from every subset of
    fields, the absent fields' pooled embeddings zero; written with loops
    and factorials, in float64."""
    inputs = encode(model, X)
    module = model.net_.module_
    mlp = copy.deepcopy(module.mlp).double().eval()
    with torch.no_grad():
        embedded = module.embedding.weight.double()[inputs["indices"].long()]
        if "values" in inputs:
            embedded = embedded * inputs["values"].double()[..., None]
        n_rows, n_fields = embedded.shape[:2]

        def value(subset):
            mask = torch.zeros(n_fields, 1, dtype=torch.float64)
            mask[list(subset)] = 1.0
            return mlp((embedded * mask).flatten(1))[:, 0].numpy()

        values = {
            subset: value(subset)
            for size in range(n_fields + 1)
            for subset in itertools.combinations(range(n_fields), size)
        }
    shares = np.zeros((n_rows, n_fields))
    for f in range(n_fields):
        others = [g for g in range(n_fields) if g != f]
        for size in range(n_fields):
            weight = (
                math.factorial(size)
                * math.factorial(n_fields - size - 1)
                / math.factorial(n_fields)
            )
            for subset in itertools.combinations(others, size):
                joined = tuple(sorted((*subset, f)))
                shares[:, f] += weight * (values[joined] - values[subset])
    return shares, values[()]


def _first_order(model, X):
    inputs = encode(model, X)
    weights = model.net_.module_.linear.weight.weight.detach().double()
    terms = weights[inputs["indices"].long()][..., 0]
    if "values" in inputs:
        terms = terms * inputs["values"].double()
    return terms.numpy()


@pytest.mark.parametrize("n_permutations", ["auto", "exact"])
def test_deep_share_is_the_exact_shapley_value(n_permutations):
    # six fields (five label-encoded, one numeric), two hidden layers with
    # batch norm: a deep part far from additive
    X, y = _mixed_numeric(n_samples=800)
    X = X[:, :6]
    model = DeepFMClassifier(
        **{**KEEP, "hidden_units": (32, 16), "batch_norm": True, "max_epochs": 8}
    ).fit(X, y)
    assert model.n_fields_ == 6
    explanation = model.explain(X[:40], n_permutations=n_permutations)
    assert explanation.method == "exact"
    diagonal = np.diagonal(explanation.interaction_values, axis1=1, axis2=2)
    deep = diagonal - _first_order(model, X[:40])
    expected, empty = _brute_force_deep_shares(model, X[:40])
    assert np.abs(expected).max() > 1e-2  # the deep part does something
    assert_allclose(deep, expected, atol=1e-5)
    bias = model.net_.module_.linear.bias.item()
    assert_allclose(explanation.base_values, bias + empty, atol=1e-6)


def test_sampled_deep_share_adds_up_and_approaches_the_exact_one():
    X, y = make_categorical(n_samples=900, n_fields=8)
    model = DeepFMClassifier(**{**KEEP, "hidden_units": (32, 16)}).fit(X, y)
    rows = X[:100]
    exact = model.explain(rows, n_permutations="exact")
    few = model.explain(rows, n_permutations=2, random_state=0)
    many = model.explain(rows, n_permutations=24, random_state=0)
    auto = model.explain(rows, random_state=0)
    assert (few.method, few.n_permutations) == ("permutation", 2)
    assert (many.method, many.n_permutations) == ("permutation", 24)
    assert (auto.method, auto.n_permutations) == ("permutation", 8)
    for explanation in (exact, few, many, auto):
        _assert_adds_up(explanation, model.decision_function(rows))
    error_few = np.abs(few.values - exact.values).mean()
    error_many = np.abs(many.values - exact.values).mean()
    assert 0 < error_many < error_few
    # only the diagonal (the deep share) depends on the sampling
    off_diagonal = ~np.eye(8, dtype=bool)
    assert_array_equal(
        few.interaction_values[:, off_diagonal],
        exact.interaction_values[:, off_diagonal],
    )
    again = model.explain(rows, n_permutations=2, random_state=0)
    other = model.explain(rows, n_permutations=2, random_state=1)
    assert_array_equal(again.values, few.values)
    assert not np.array_equal(other.values, few.values)


def _planted_pair(seed, n_samples=2000, n_fields=6, n_categories=6):
    """Label-encoded fields; the logit holds one pair interaction (random
    signs of the categories of two random fields) and small main effects."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, n_categories, size=(n_samples, n_fields))
    f, g = sorted(rng.choice(n_fields, size=2, replace=False))
    signs = rng.choice([-1.0, 1.0], size=(2, n_categories))
    main = rng.normal(scale=0.3, size=(n_fields, n_categories))
    logit = 2.0 * signs[0, X[:, f]] * signs[1, X[:, g]]
    logit += main[np.arange(n_fields), X].sum(axis=1)
    y = (rng.random(n_samples) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y, (int(f), int(g))


def test_planted_pair_ranks_first_by_mean_absolute_pair_term():
    found = 0
    for seed in range(20):
        X, y, planted = _planted_pair(seed)
        model = DeepFMClassifier(
            hidden_units=(16,),
            lr=0.02,
            batch_size=128,
            max_epochs=4,
            early_stopping=False,
            random_state=seed,
        ).fit(X, y)
        strength = model.explain(X[:500], random_state=seed).pair_strength()
        upper = np.triu_indices_from(strength, k=1)
        strongest = np.argmax(strength[upper])
        found += (upper[0][strongest], upper[1][strongest]) == planted
    assert found >= 19


def test_model_left_linear_has_no_pair_or_deep_terms():
    # first-order data only: the recipe drops the FM and deep parts
    X, y = make_first_order()
    model = DeepFMClassifier(hidden_units=(32,), random_state=0).fit(X, y)
    assert model.interactions_kept_ is False
    explanation = model.explain(X[:100], n_permutations=2)
    assert (explanation.method, explanation.n_permutations) == ("exact", None)
    off_diagonal = ~np.eye(4, dtype=bool)
    assert_array_equal(explanation.interaction_values[:, off_diagonal], 0.0)
    # the diagonal is the first-order term alone, the base the bias alone
    assert_allclose(explanation.values, _first_order(model, X[:100]))
    assert_allclose(explanation.base_values, model.net_.module_.linear.bias.item())
    _assert_adds_up(explanation, model.decision_function(X[:100]))


def test_data_and_feature_names():
    X, y = _dataframe()
    X.loc[0, "city"] = "tokyo"  # never seen in fit: still shown as given
    model = DeepFMClassifier(**KEEP).fit(X.iloc[1:], y[1:])
    explanation = model.explain(X.iloc[:5])
    assert explanation.feature_names == ["city", "device", "age", "visits"]
    assert explanation.data.dtype == object
    assert list(explanation.data[:, 0]) == list(X["city"].iloc[:5])
    assert list(explanation.data[:, 1]) == list(X["device"].iloc[:5])
    assert_allclose(explanation.data[:, 2].astype(float), X["age"].iloc[:5])

    X, y = make_categorical(n_samples=600)
    one_hot = OneHotEncoder(handle_unknown="ignore").fit(X)
    model = DeepFMClassifier(**KEEP).fit(one_hot.transform(X), y)
    rows = one_hot.transform(np.vstack([X[:2], [[99, 0, 0, 0]]]))
    explanation = model.explain(rows)
    assert explanation.feature_names == [f"field {f}" for f in range(4)]
    names = one_hot.get_feature_names_out()  # the model saw no names: x0..x23
    assert explanation.data[0, 1] == f"x{list(names).index(f'x1_{X[0, 1]}')}"
    assert explanation.data[2, 0] is None  # no column of the field is set

    X, y, fields = _multi_hot()
    model = DeepFMClassifier(**KEEP, fields=fields).fit(X, y)
    explanation = model.explain(X[:20])
    assert explanation.feature_names[0] == "tags"
    # the fitted labels, whatever is set since, or done to the list given
    assert model.set_params(fields=None).explain(X[:1]).feature_names[0] == "tags"
    fields[:] = ["other"] * len(fields)
    assert model.explain(X[:1]).feature_names[0] == "tags"
    active = X[:20, :5].toarray() > 0
    for row in range(20):
        expected = ", ".join(f"x{j}" for j in np.flatnonzero(active[row])) or None
        assert explanation.data[row, 0] == expected


def test_rows_of_an_explanation():
    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(**KEEP).fit(X, y)
    explanation = model.explain(X[:10])
    assert isinstance(explanation, Explanation)
    assert len(explanation) == 10
    assert "10 row(s) x 4 field(s)" in repr(explanation)
    part = explanation[2:5]
    assert_array_equal(part.values, explanation.values[2:5])
    assert_array_equal(part.data, explanation.data[2:5])
    assert explanation[-1].values.shape == (1, 4)
    assert_array_equal(explanation[-1].values, explanation.values[-1:])
    assert_array_equal(explanation[-10].values, explanation.values[:1])
    for row in (10, -11):  # as a NumPy array's: what ends a for loop
        with pytest.raises(IndexError, match="out of range"):
            explanation[row]
    # a 0-d array is its int (it dropped the row axis); bools, None and
    # tuples, which NumPy reads as axes, are refused
    assert_array_equal(explanation[np.asarray(2)].values, explanation.values[2:3])
    for key in (True, np.bool_(True), np.asarray(True), None, (slice(None), 0)):
        with pytest.raises(TypeError, match="indexed by rows"):
            explanation[key]
    rows = list(explanation[:3])
    assert len(rows) == 3
    assert_array_equal(rows[2].values, explanation.values[2:3])
    strength = explanation.pair_strength()
    assert np.isnan(np.diag(strength)).all()
    with pytest.raises(ValueError, match="no row"):  # NumPy's reshape error
        explanation[explanation.values[:, 0] > 1e9].pair_strength()
    assert_allclose(
        strength[0, 1], 2 * np.abs(explanation.interaction_values[:, 0, 1]).mean()
    )


def test_explain_errors():
    X, y = make_categorical(n_samples=300)
    with pytest.raises(NotFittedError):
        DeepFMClassifier().explain(X)
    model = DeepFMClassifier(**KEEP).fit(X, y)
    for bad in (0, -2, 1.5, "all", True):
        with pytest.raises(ValueError, match="n_permutations"):
            model.explain(X, n_permutations=bad)
    with pytest.raises(ValueError, match="expecting 4 features"):
        model.explain(X[:, :3])


def test_to_shap_without_shap_says_how_to_install_it(monkeypatch):
    X, y = make_categorical(n_samples=300)
    explanation = DeepFMClassifier(**KEEP).fit(X, y).explain(X[:5])
    monkeypatch.setitem(__import__("sys").modules, "shap", None)
    with pytest.raises(ImportError, match=r"sklearn-deepfm\[explain\]"):
        explanation.to_shap()


def test_to_shap_round_trip_and_shap_plots(tmp_path):
    shap = pytest.importorskip("shap")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = _dataframe()
    model = DeepFMClassifier(**KEEP).fit(X, y)
    explanation = model.explain(X.iloc[:100], random_state=0)
    shap_values = explanation.to_shap()
    assert isinstance(shap_values, shap.Explanation)
    assert_array_equal(shap_values.values, explanation.values)
    assert_array_equal(shap_values.base_values, explanation.base_values)
    assert list(shap_values.feature_names) == explanation.feature_names
    assert_array_equal(shap_values.display_data, explanation.data)
    # numbers as they are, labels by position: colours for the beeswarm
    data = np.asarray(shap_values.data, dtype=float)
    assert_allclose(data[:, 2], X["age"].iloc[:100])
    assert set(np.unique(data[:, 0])) <= {0.0, 1.0, 2.0, 3.0}
    try:
        shap.plots.waterfall(shap_values[0], show=False)
        plt.savefig(tmp_path / "waterfall.png")
        plt.close("all")
        shap.plots.beeswarm(shap_values, show=False)
        plt.savefig(tmp_path / "beeswarm.png")
    finally:
        plt.close("all")
    assert (tmp_path / "waterfall.png").stat().st_size > 0
    assert (tmp_path / "beeswarm.png").stat().st_size > 0

    X, y = make_categorical(n_samples=900)
    multiclass = DeepFMClassifier(**KEEP).fit(X, (X[:, 0] + y) % 3)
    shap_values = multiclass.explain(X[:50]).to_shap()
    assert shap_values.values.shape == (50, 4, 3)
    try:
        shap.plots.waterfall(shap_values[0, :, 2], show=False)
    finally:
        plt.close("all")


def _tagged(n_samples=300):
    """A DataFrame with a multi-valued ``tags`` column (an empty list in
    row 1, a missing cell in row 2) and a three-class target."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    tags = [
        [str(t) for t in rng.choice(["news", "sport", "tech"], k, replace=False)]
        for k in rng.integers(0, 4, n_samples)
    ]
    tags[0], tags[1], tags[2] = ["news", "tech"], [], None
    X = pd.DataFrame(
        {
            "user": rng.choice(["ann", "bob", "cy"], n_samples),
            "tags": pd.Series(tags, dtype=object),
        }
    )
    return X, rng.choice(["lo", "mid", "hi"], n_samples)


def test_to_shap_shows_a_multi_valued_field_as_one_string_per_row(tmp_path):
    shap = pytest.importorskip("shap")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = _tagged()
    rows = X.iloc[:20]
    multiclass = DeepFMClassifier(**FAST).fit(X, y)
    shap_values = multiclass.explain(rows).to_shap()
    # a 2-D array of scalars: the lists would be one more axis to shap
    assert shap_values.display_data.shape == (20, 2)
    assert list(shap_values.display_data[:3, 1]) == ["news, tech", "", None]
    data = np.asarray(shap_values.data, dtype=float)
    assert np.isnan(data[2, 1]) and not np.isnan(data[[0, 1], 1]).any()
    # the guide's selection of a class keeps row 0's values, for every class
    for k in range(3):
        one = shap_values[0, :, k]
        assert list(one.display_data) == [rows["user"].iloc[0], "news, tech"]
        try:
            shap.plots.waterfall(one, show=False)
        finally:
            plt.close("all")

    binary = DeepFMClassifier(**FAST).fit(X, y == "hi")
    regressor = DeepFMRegressor(**FAST).fit(X, (y == "hi") * 10.0)
    for model in (binary, regressor):
        shap_values = model.explain(rows).to_shap()
        first = shap_values[0]
        assert list(first.display_data) == [rows["user"].iloc[0], "news, tech"]
        plots = [
            (shap.plots.waterfall, first),
            (shap.plots.beeswarm, shap_values),
            (shap.plots.bar, shap_values),
        ]
        for plot, shown in plots:
            try:
                plot(shown, show=False)
                plt.savefig(tmp_path / "plot.png")
            finally:
                plt.close("all")


def test_a_multi_valued_cell_is_a_list_in_the_data_whatever_the_container():
    # arrow and polars gave arrays, and pandas' NA for a missing cell
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    pd = pytest.importorskip("pandas")
    X, y = _tagged()
    model = DeepFMClassifier(**FAST).fit(X, y == "hi")
    rows = X.iloc[:4]
    arrow = rows.assign(tags=rows["tags"].astype(pd.ArrowDtype(pa.list_(pa.string()))))
    expected = [["news", "tech"], [], None, rows["tags"].iloc[3]]
    for given in (rows, arrow, pl.from_pandas(arrow)):
        data = model.explain(given).data
        assert list(data[:, 1]) == expected
        assert all(type(cell) in (list, type(None)) for cell in data[:, 1])


def test_to_shap_data_is_nan_for_every_missing_label():
    pytest.importorskip("shap")
    pd = pytest.importorskip("pandas")
    X, y = _dataframe(n_samples=300)
    model = DeepFMClassifier(**FAST).fit(X, y)
    rows = X.iloc[:6].astype({"city": object})
    rows["city"] = ["rome", np.nan, "oslo", None, "paris", "rome"]
    strings = rows.astype({"city": "string"})  # pandas' NA marks the missing
    for frame in (rows, strings):
        city = model.explain(frame).to_shap().data[:, 0]
        # only the labels present have a position: oslo, paris, rome
        assert_array_equal(city, [2.0, np.nan, 0.0, np.nan, 1.0, 2.0])
    assert model.explain(strings).data[1, 0] is pd.NA
    # labels that read as numbers are labels: '01' and '1' two, 'nan' one
    labels = rows.assign(city=["01", "1", "nan", "inf", "1", None])
    city = model.explain(labels).to_shap().data[:, 0]
    assert_array_equal(city, [0.0, 1.0, 3.0, 2.0, 1.0, np.nan])


def test_docstring_example():
    from sklearn_deepfm import _explain

    failed, attempted = doctest.testmod(_explain, optionflags=doctest.ELLIPSIS)
    assert attempted > 0 and failed == 0
