"""The displays of sklearn_deepfm.plotting: computed arrays, scikit-learn's
Display conventions, and the rendered figures."""

import doctest
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor
from sklearn_deepfm.plotting import FieldInteractionDisplay, LearningCurveDisplay

from .conftest import FAST, make_categorical, make_first_order

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.image import imread  # noqa: E402

pd = pytest.importorskip("pandas")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _planted(n_samples=1500, random_state=0):
    """Five label-encoded fields; the label is an interaction of fields 0 and 1."""
    rng = np.random.default_rng(random_state)
    X = rng.integers(0, 6, size=(n_samples, 5))
    signal = 2.0 * (X[:, 0] == X[:, 1]) + 0.5 * (X[:, 2] % 2) - 0.8
    y = (signal + rng.normal(scale=0.5, size=n_samples) > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def planted():
    X, y = _planted()
    # no early stopping: the full model trains for every epoch
    model = DeepFMClassifier(
        hidden_units=(16,),
        lr=0.02,
        batch_size=128,
        max_epochs=6,
        early_stopping=False,
        random_state=0,
    ).fit(X, y)
    return model, X, y


@pytest.fixture(scope="module")
def early_stopped():
    X, y = make_categorical(n_samples=1200)
    model = DeepFMClassifier(**{**FAST, "max_epochs": 8, "early_stopping": True})
    return model.fit(X, y)


def _save_and_read(figure, path):
    figure.savefig(path)
    image = imread(path)
    width, height = figure.get_size_inches() * figure.dpi
    assert image.shape[:2] == (round(height), round(width))
    # something was drawn: the image is not a single colour
    assert image.reshape(-1, image.shape[-1]).std(axis=0).max() > 0
    return image


# learning curves -----------------------------------------------------------
def test_learning_curve_with_early_stopping(early_stopped, tmp_path):
    model = early_stopped
    history = model.history_
    display = LearningCurveDisplay.from_estimator(model)

    n_epochs = len(history)
    assert_array_equal(display.epochs, np.arange(1, n_epochs + 1))
    assert_allclose(display.train_loss, history[:, "train_loss"])
    assert_allclose(display.valid_loss, history[:, "valid_loss"])
    assert display.train_loss.shape == display.valid_loss.shape == (n_epochs,)
    assert 1 <= display.best_epoch <= n_epochs

    assert display.ax_.get_xlabel() == "epoch"
    assert display.ax_.get_ylabel() == "log loss"
    assert display.figure_ is display.ax_.figure
    assert set(display.lines_) == {"train_loss", "valid_loss"}
    assert_allclose(display.lines_["train_loss"].get_ydata(), display.train_loss)
    assert_allclose(display.lines_["valid_loss"].get_xdata(), display.epochs)
    assert display.best_epoch_line_.get_xdata()[0] == display.best_epoch
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    expected = ["training", "validation", f"best epoch ({display.best_epoch})"]
    # the recipe solves the first-order part: no warm-up epochs to shade
    assert display.warmup_epochs is None and display.warmup_span_ is None
    assert legend == expected
    _save_and_read(display.figure_, tmp_path / "learning_curve.png")


def test_learning_curve_best_epoch_is_the_lowest_validation_loss(early_stopped):
    history = early_stopped.history_
    display = LearningCurveDisplay.from_history(history)
    if "best_epoch" in history[-1]:
        expected = history[-1, "best_epoch"]
    else:
        expected = int(np.argmin(history[:, "valid_loss"])) + 1
    assert display.best_epoch == expected


def test_learning_curve_without_validation_has_only_the_training_loss(tmp_path):
    X, y = make_categorical(n_samples=300)
    model = DeepFMClassifier(**{**FAST, "early_stopping": False}).fit(X, y)
    display = LearningCurveDisplay.from_estimator(model, name="DeepFM")
    assert display.valid_loss is None and display.best_epoch is None
    assert display.best_epoch_line_ is None and display.warmup_span_ is None
    assert list(display.lines_) == ["train_loss"]
    assert display.train_loss.shape == (FAST["max_epochs"],)
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert legend == ["DeepFM, training"]
    _save_and_read(display.figure_, tmp_path / "training_only.png")


def test_learning_curve_of_a_regressor_in_a_pipeline_on_given_axes():
    X, y = make_categorical(n_samples=300)
    target = X[:, 0] + np.where(X[:, 1] == X[:, 2], 3.0, 0.0)
    pipe = make_pipeline(OneHotEncoder(), DeepFMRegressor(**FAST)).fit(X, target)
    figure, (left, right) = plt.subplots(1, 2)
    display = LearningCurveDisplay.from_estimator(pipe, ax=right, color="k")
    assert display.ax_ is right and display.figure_ is figure
    assert not left.lines
    assert display.ax_.get_ylabel() == "squared error (standardised target)"
    assert display.lines_["train_loss"].get_color() == "k"


def test_learning_curve_plot_from_arrays_redraws_on_new_axes():
    display = LearningCurveDisplay(
        epochs=np.arange(1, 4),
        train_loss=np.array([0.7, 0.5, 0.4]),
        valid_loss=np.array([0.6, 0.55, 0.58]),
        best_epoch=2,
        warmup_epochs=1,
        estimator_name="model",
    )
    _, ax = plt.subplots()
    assert display.plot(ax=ax) is display
    assert display.ax_ is ax
    first_axes = display.ax_
    display.plot()
    assert display.ax_ is not first_axes
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert legend == [
        "model, training",
        "model, validation",
        "model, best epoch (2)",
        "linear warm-up",
    ]
    # a second display on the same axes keeps the first's legend entries (it
    # replaced them), and label= names the curves as name= does (it crashed)
    other = LearningCurveDisplay(
        epochs=np.arange(1, 4),
        train_loss=np.array([0.6, 0.4, 0.3]),
        valid_loss=np.array([0.62, 0.5, 0.52]),
        best_epoch=2,
    )
    other.plot(ax=display.ax_, label="other", color="C3")
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    first = {"model, training", "model, validation", "model, best epoch (2)"}
    assert set(legend[:-3]) == first | {"linear warm-up"}
    assert legend[-3:] == [
        "other, training",
        "other, validation",
        "other, best epoch (2)",
    ]
    assert other.lines_["train_loss"].get_color() == "C3"


# field interaction map -----------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True])
def test_planted_interaction_is_the_largest_cell(planted, weighted, tmp_path):
    model, X, _ = planted
    display = FieldInteractionDisplay.from_estimator(
        model, X if weighted else None, include_values=True
    )
    interactions = display.interactions
    assert interactions.shape == (5, 5)
    assert np.isnan(np.diag(interactions)).all()
    off_diagonal = ~np.eye(5, dtype=bool)
    assert (interactions[off_diagonal] >= 0).all()
    assert_allclose(interactions, interactions.T)
    largest = np.unravel_index(np.nanargmax(interactions), interactions.shape)
    assert sorted(largest) == [0, 1]

    names = [f"field {f}" for f in range(5)]
    assert display.field_names == names
    ax = display.ax_
    assert [label.get_text() for label in ax.get_xticklabels()] == names
    assert [label.get_text() for label in ax.get_yticklabels()] == names
    assert ax.get_xlabel() == ax.get_ylabel() == "field"
    assert display.figure_ is ax.figure
    assert display.im_.get_array().shape == (5, 5)
    label = display.colorbar_.ax.get_ylabel()
    assert label.startswith("mean") and ("weighted" in label) == weighted
    assert display.text_.shape == (5, 5)
    assert display.text_[0, 0] is None
    assert display.text_[0, 1].get_text() == format(interactions[0, 1], ".2g")
    _save_and_read(display.figure_, tmp_path / f"interactions_{weighted}.png")


def _brute_force(model, X, rows_of_field):
    """Weighted mean of |<v_i, v_j>| over pairs, from explicit loops."""
    vectors = model.net_.module_.embedding.weight.detach().cpu().numpy()
    n_fields = len(rows_of_field)
    expected = np.full((n_fields, n_fields), np.nan)
    for f in range(n_fields):
        for g in range(n_fields):
            if f == g:
                continue
            total = weight_sum = 0.0
            for i, count_i in rows_of_field[f].items():
                for j, count_j in rows_of_field[g].items():
                    weight = count_i * count_j
                    total += weight * abs(float(vectors[i] @ vectors[j]))
                    weight_sum += weight
            expected[f, g] = total / weight_sum
    return expected


def test_interactions_of_a_dataframe_skip_the_unknown_rows():
    rng = np.random.default_rng(0)
    n_samples = 400
    frame = pd.DataFrame(
        {
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n_samples)),
            "size": rng.integers(0, 4, n_samples),
            "price": rng.normal(size=n_samples),
        }
    )
    y = ((frame["colour"] == "red") ^ (frame["size"] > 1)).astype(int)
    model = DeepFMClassifier(**FAST, early_stopping=False).fit(frame, y)
    display = FieldInteractionDisplay.from_estimator(model, frame)
    assert display.field_names == ["colour", "size", "price"]

    # embedding rows: colour = unknown + 3 categories, size = unknown + 4, price
    offsets = [field.offset for field in model.input_layout_.fields]
    assert_array_equal(offsets, [0, 4, 9])
    counts = [
        {
            1 + c: int((frame["colour"] == label).sum())
            for c, label in enumerate(["blue", "green", "red"])
        },
        {5 + s: int(np.sum(frame["size"] == s)) for s in range(4)},
        {9: 1},
    ]
    expected = _brute_force(model, frame, counts)
    assert_allclose(display.interactions, expected, rtol=1e-6)

    # the unknown rows (0 and 4) do not enter the map
    weight = model.net_.module_.embedding.weight
    with torch.no_grad():
        weight[[0, 4]] = 100.0
    again = FieldInteractionDisplay.from_estimator(model, frame)
    assert_allclose(again.interactions, display.interactions)

    unweighted = FieldInteractionDisplay.from_estimator(model).interactions
    plain = [{row: 1 for row in counts[0]}, {row: 1 for row in counts[1]}, {9: 1}]
    assert_allclose(unweighted, _brute_force(model, frame, plain), rtol=1e-6)


def test_interactions_of_one_hot_input_in_a_pipeline():
    X, y = make_categorical(n_samples=400)
    model = DeepFMClassifier(**FAST, early_stopping=False)
    pipe = make_pipeline(OneHotEncoder(), model).fit(X, y)
    display = FieldInteractionDisplay.from_estimator(pipe, X)
    assert model.n_fields_ == 4
    assert display.interactions.shape == (4, 4)
    assert display.field_names == ["field 0", "field 1", "field 2", "field 3"]
    # frequency weights come from the one-hot matrix the model sees
    onehot = pipe[0].transform(X)
    counts = np.asarray(onehot.sum(axis=0)).ravel()
    rows = [
        {j: counts[j] for j in np.flatnonzero(model.fields_ == f)} for f in range(4)
    ]
    assert_allclose(display.interactions, _brute_force(model, X, rows), rtol=1e-6)

    named = FieldInteractionDisplay.from_estimator(pipe, field_names=list("abcd"))
    assert [t.get_text() for t in named.ax_.get_xticklabels()] == list("abcd")


def test_interactions_name_the_fields_given_by_label():
    X, y = make_categorical(n_samples=300)
    onehot = OneHotEncoder(sparse_output=True).fit_transform(X)
    labels = np.repeat(["site", "ad", "device", "hour"], 6)
    model = DeepFMClassifier(**FAST, fields=labels).fit(onehot, y)
    display = FieldInteractionDisplay.from_estimator(model, onehot)
    assert display.field_names == ["site", "ad", "device", "hour"]
    assert sp.issparse(onehot)


def test_max_features_per_field_keeps_the_most_frequent(planted):
    model, X, _ = planted
    full = FieldInteractionDisplay.from_estimator(model, X).interactions
    capped = FieldInteractionDisplay.from_estimator(
        model, X, max_features_per_field=6
    ).interactions
    assert_allclose(capped, full)  # 6 categories per field: nothing dropped
    small = FieldInteractionDisplay.from_estimator(
        model, None, max_features_per_field=2
    ).interactions
    assert small.shape == (5, 5) and np.isfinite(small[~np.eye(5, dtype=bool)]).all()
    # floats, strings and booleans failed deep inside, or were read as 1
    for wrong in (0, 2.5, 3.0, "5", True):
        with pytest.raises(ValueError, match="max_features_per_field"):
            FieldInteractionDisplay.from_estimator(model, max_features_per_field=wrong)
    with pytest.raises(ValueError, match="field_names"):
        FieldInteractionDisplay.from_estimator(model, field_names=["a", "b"])


def test_interactions_from_an_explanation_are_its_mean_absolute_pair_terms(
    planted, tmp_path
):
    model, X, _ = planted
    explanation = model.explain(X[:300])
    display = FieldInteractionDisplay.from_explanation(explanation, include_values=True)
    pairs = explanation.interaction_values
    expected = np.full((5, 5), np.nan)
    for f in range(5):
        for g in range(5):
            if f != g:  # half of the pair's term on each side of the diagonal
                expected[f, g] = np.abs(pairs[:, f, g] + pairs[:, g, f]).mean()
    assert_allclose(display.interactions, expected)
    largest = np.unravel_index(np.nanargmax(display.interactions), (5, 5))
    assert sorted(largest) == [0, 1]
    assert display.field_names == explanation.feature_names
    assert display.colorbar_.ax.get_ylabel() == "mean |pair term|"
    _save_and_read(display.figure_, tmp_path / "explained.png")
    named = FieldInteractionDisplay.from_explanation(explanation, field_names="abcde")
    assert named.field_names == list("abcde")
    with pytest.raises(ValueError, match="field_names"):
        FieldInteractionDisplay.from_explanation(explanation, field_names=["a"])


def test_interactions_of_a_model_left_linear_are_zero_with_a_warning():
    # the recipe dropped the FM and deep parts: the map showed the unused
    # embeddings as "learned interactions"
    X, y = make_first_order()
    model = DeepFMClassifier(**{**FAST, "early_stopping": True}).fit(X, y)
    assert not model.interactions_kept_ and not model.crosses_kept_
    with pytest.warns(UserWarning, match="interactions_kept_ is False"):
        display = FieldInteractionDisplay.from_estimator(model, X)
    off_diagonal = ~np.eye(4, dtype=bool)
    assert_array_equal(display.interactions[off_diagonal], 0.0)
    explained = FieldInteractionDisplay.from_explanation(model.explain(X[:100]))
    assert_array_equal(explained.interactions[off_diagonal], 0.0)


def test_display_plot_options():
    display = FieldInteractionDisplay(
        np.array([[np.nan, 0.5], [0.5, np.nan]]), ["a", "b"]
    )
    _, ax = plt.subplots()
    out = display.plot(ax=ax, colorbar=False, cmap="magma", xticks_rotation=45)
    assert out is display and display.ax_ is ax
    assert display.colorbar_ is None and display.text_ is None
    assert display.im_.get_cmap().name == "magma"
    assert display.ax_.get_xticklabels()[0].get_rotation() == 45


# errors and the optional dependency ----------------------------------------
@pytest.mark.parametrize("display", [LearningCurveDisplay, FieldInteractionDisplay])
def test_errors_on_unfitted_or_foreign_estimators(display):
    with pytest.raises(NotFittedError):
        display.from_estimator(DeepFMClassifier())
    X, y = make_categorical(n_samples=100)
    with pytest.raises(TypeError, match="DeepFMClassifier or DeepFMRegressor"):
        display.from_estimator(LogisticRegression().fit(X, y))


def test_plotting_imports_without_matplotlib_and_says_how_to_install_it():
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "from sklearn_deepfm.plotting import LearningCurveDisplay\n"
        "display = LearningCurveDisplay(epochs=[1], train_loss=[0.5])\n"
        "try:\n"
        "    display.plot()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "requires matplotlib" in result.stdout
    assert "pip install" in result.stdout


def test_docstring_examples():
    from sklearn_deepfm.plotting import _interaction, _learning_curve

    for module in (_learning_curve, _interaction):
        failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert attempted > 0 and failed == 0
