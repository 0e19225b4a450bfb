"""Data larger than memory: partial_fit chunk by chunk, a vocabulary that
learns from the stream, and dask-ml's Incremental on a Dask cluster."""

import io
import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import roc_auc_score

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor
from sklearn_deepfm.datasets import make_ctr_classification

from .conftest import make_categorical

SMALL = {"hidden_units": (32,), "random_state": 0, "batch_size": 128, "n_jobs": 1}


def _chunks(X, y, n_chunks):
    return zip(np.array_split(X, n_chunks), np.array_split(y, n_chunks), strict=True)


def test_partial_fit_over_chunks_reaches_one_fit_of_the_same_epochs():
    X, y = make_ctr_classification(
        n_samples=30_000,
        n_fields=6,
        cardinalities=30,
        interaction_strength=1.0,
        nonlinear_strength=1.0,
        random_state=0,
    )
    X_train, y_train, X_test, y_test = X[:24_000], y[:24_000], X[24_000:], y[24_000:]
    params = {"random_state": 0, "batch_size": 256, "n_jobs": 1}
    streamed = DeepFMClassifier(**params)
    for _ in range(3):
        for X_chunk, y_chunk in _chunks(X_train, y_train, 6):
            streamed.partial_fit(X_chunk, y_chunk, classes=[0, 1])
    assert len(streamed.history_) == 18  # one pass per call
    at_once = DeepFMClassifier(early_stopping=False, max_epochs=3, **params)
    at_once.fit(X_train, y_train)
    auc_streamed = roc_auc_score(y_test, streamed.decision_function(X_test))
    auc_at_once = roc_auc_score(y_test, at_once.decision_function(X_test))
    assert auc_streamed >= auc_at_once - 0.005


def test_a_category_first_seen_in_a_later_chunk_is_learned():
    X, y = make_categorical(n_samples=3000, n_categories=6)
    new = X[:, 0] == 5
    y = np.where(new, 1, y)  # category 5 of field 0 always clicks
    first, later = ~new, new | (np.arange(len(y)) % 2 == 0)
    model = DeepFMClassifier(**SMALL)
    model.partial_fit(X[first], y[first], classes=[0, 1])
    layout = model.input_layout_
    assert 5 not in layout.fields[0].categories
    probe = X[new][:50]
    unknown = probe.copy()
    unknown[:, 0] = 99  # never seen: the unknown row
    assert_allclose(model.predict_proba(probe), model.predict_proba(unknown))
    for _ in range(3):
        model.partial_fit(X[later], y[later])
    assert 5 in model.input_layout_.fields[0].categories
    assert model.input_layout_.n_embeddings == layout.n_embeddings + 1
    learned = model.predict_proba(probe)[:, 1]
    assert learned.mean() > model.predict_proba(unknown)[:, 1].mean() + 0.1
    assert learned.mean() > 0.8


def test_string_categories_grow_too_and_memory_follows_the_vocabulary():
    rng = np.random.default_rng(0)
    model = DeepFMRegressor(**SMALL)
    for chunk in range(4):
        frame = pd.DataFrame(
            {
                "user": [f"u{i}" for i in rng.integers(0, 50 * (chunk + 1), 500)],
                "x": rng.normal(size=500),
            }
        )
        model.partial_fit(frame, rng.normal(size=500))
    users = model.input_layout_.fields[0]
    assert len(users.categories) > 150
    weights = model.net_.module_.embedding.weight
    assert weights.shape[0] == model.input_layout_.n_embeddings


def test_pickling_between_calls_gives_the_same_model():
    X, y = make_categorical(n_samples=2000)
    chunks = list(_chunks(X, y, 4))
    straight = DeepFMClassifier(**SMALL)
    for X_chunk, y_chunk in chunks:
        straight.partial_fit(X_chunk, y_chunk, classes=[0, 1])
    resumed = DeepFMClassifier(**SMALL)
    for X_chunk, y_chunk in chunks:
        resumed = pickle.loads(pickle.dumps(resumed))
        resumed.partial_fit(X_chunk, y_chunk, classes=[0, 1])
    assert_array_equal(resumed.predict_proba(X), straight.predict_proba(X))


def test_partial_fit_follows_scikit_learn_conventions():
    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(**SMALL)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    model.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="differs from the classes of the first"):
        model.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"not in classes \[0, 1\]"):
        model.partial_fit(X, np.where(y == 1, 3, 0))
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match="Unknown label type"):  # NumPy's error
        DeepFMClassifier(**SMALL).partial_fit(X, y, classes=[0, 1, None])
    # fit starts afresh
    refit = model.fit(X, y)
    assert len(refit.history_) <= refit.max_epochs
    assert refit.history_[0, "epoch"] == 1


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_class_missing_from_the_first_call_is_learnt_by_the_stream(n_classes):
    # the first call's prior set the output bias: a class it lacked started
    # at log(1e-6) = -13.8, and 10,000 more rows left its probability near 0
    rng = np.random.default_rng(0)
    X = rng.integers(0, 6, size=(10_000, 4))
    y = rng.integers(0, n_classes, 10_000)
    model = DeepFMClassifier(hidden_units=(16,), batch_size=256, random_state=0)
    first = np.flatnonzero(y != n_classes - 1)[:50]
    model.partial_fit(X[first], y[first], classes=np.arange(n_classes))
    for X_part, y_part in zip(
        np.array_split(X, 20), np.array_split(y, 20), strict=True
    ):
        model.partial_fit(X_part, y_part)
    late = model.predict_proba(rng.integers(0, 6, size=(2000, 4)))[:, -1].mean()
    assert abs(late - 1 / n_classes) < 0.15


def test_partial_fit_weighs_rows_across_calls():
    # each call's weights were divided by that call's mean, so weights in
    # one-row calls (or in calls of one class) changed nothing at all
    rng = np.random.default_rng(0)
    X = rng.integers(0, 6, size=(300, 4))
    y = (rng.random(300) < 0.3).astype(int)
    means = {}
    for weight in (1.0, 10.0):
        model = DeepFMClassifier(hidden_units=(16,), batch_size=1, random_state=0)
        for i in range(len(X)):
            sample_weight = [weight if y[i] else 1.0]
            model.partial_fit(X[i : i + 1], y[i : i + 1], [0, 1], sample_weight)
        means[weight] = model.predict_proba(X)[:, 1].mean()
    assert means[10.0] > means[1.0] + 0.1
    # class_weight is a weight like any other
    model = DeepFMClassifier(
        hidden_units=(16,), batch_size=1, random_state=0, class_weight={0: 1, 1: 10}
    )
    for i in range(len(X)):
        model.partial_fit(X[i : i + 1], y[i : i + 1], [0, 1])
    assert_allclose(model.predict_proba(X)[:, 1].mean(), means[10.0], rtol=1e-5)
    # weights that sum to infinity keep their ratios across calls
    runs = []
    for scale in (1.0, 1e307):
        model = DeepFMClassifier(hidden_units=(16,), random_state=0)
        model.partial_fit(X[:200], y[:200], [0, 1], np.full(200, scale))
        # (10 rows of 1e307 sum to less than infinity: no unit of their own)
        model.partial_fit(X[200:210], y[200:210], sample_weight=np.full(10, scale))
        runs.append(model.predict_proba(X))
    assert_allclose(runs[1], runs[0], atol=1e-6)
    # a dict that leaves a class at 1, in a call without the classes it names,
    # as SGDClassifier takes it
    model = DeepFMClassifier(hidden_units=(16,), class_weight={1: 2, 2: 5})
    model.partial_fit(X[y == 0][:50], y[y == 0][:50], classes=[0, 1, 2])
    model.partial_fit(X, np.where(np.arange(300) % 7 == 0, 2, y))


def test_classes_keep_the_type_scikit_learn_gives_them():
    # partial_fit's classes as SGDClassifier reads them (an object array was
    # kept as objects); a warm fit keeps the first fit's, as MLPClassifier's
    from sklearn.linear_model import SGDClassifier

    X, y = make_categorical(n_samples=300)
    labels = np.array(["no", "yes"], dtype=object)[y]
    for classes in (
        np.array(["no", "yes"], dtype=object),
        pd.Series(["no", "yes"], dtype="string"),
        pd.Categorical(["no", "yes"]),
    ):
        stream = DeepFMClassifier(hidden_units=(8,), random_state=0)
        stream.partial_fit(X, labels, classes=classes)
        sgd = SGDClassifier().partial_fit(X, labels, classes=classes)
        assert stream.classes_.dtype == sgd.classes_.dtype
        assert stream.predict(X).dtype == sgd.predict(X).dtype
    warm = DeepFMClassifier(hidden_units=(8,), max_epochs=2, warm_start=True)
    warm.fit(X, y).fit(X, y.astype(float))
    assert warm.classes_.dtype == y.dtype and warm.predict(X).dtype == y.dtype


@pytest.mark.parametrize("then", ["partial_fit", "warm fit"])
def test_training_on_after_a_fit_that_dropped_the_interactions_starts_them_afresh(
    then,
):
    # a target that is a table of pairs: the recipe ends at the crossed linear
    # model alone (share 1); partial_fit and a warm fit turned the dropped FM
    # and deep parts back on as trained, on top of a model fitted to be the
    # whole model
    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        {column: rng.integers(0, 30, 4000).astype(str) for column in ("a", "b")}
    )
    table = rng.normal(size=(30, 30)) * 3
    y = table[X.a.astype(int), X.b.astype(int)] + rng.normal(size=4000) * 0.3
    model = DeepFMRegressor(max_epochs=5, random_state=0).fit(X, y)
    assert model.crosses_share_ == 1 and not model.interactions_kept_
    before = np.mean((model.predict(X) - y) ** 2)
    if then == "partial_fit":
        model.partial_fit(X[:200], y[:200])
        # at fit's learning rate, not the one the schedule had cut it to
        assert [g["lr"] for g in model.net_.optimizer_.param_groups] == [model.lr]
    else:
        model.set_params(warm_start=True, early_stopping=False, max_epochs=1)
        model.fit(X[:200], y[:200])
    assert model.interactions_kept_
    assert np.mean((model.predict(X) - y) ** 2) < 1.1 * before


def test_a_column_that_held_no_value_in_the_first_call_takes_later_labels():
    # read_csv gives a chunk's column of nothing but blanks as float NaN: it
    # was fixed as integer codes, and the strings of the next chunk refused
    csv = "c,n,y\n" + "".join(f",{i % 3},{i % 2}\n" for i in range(40))
    csv += "".join(f"s{i % 4},{i % 3},{i % 2}\n" for i in range(40))
    chunks = list(pd.read_csv(io.StringIO(csv), chunksize=40))
    model = DeepFMClassifier(**SMALL)
    with pytest.warns(UserWarning, match="holds no category"):
        model.partial_fit(chunks[0][["c", "n"]], chunks[0].y, classes=[0, 1])
    model.partial_fit(chunks[1][["c", "n"]], chunks[1].y)
    categories = list(model.input_layout_.fields[0].categories)
    assert categories == ["s0", "s1", "s2", "s3"]
    # a call refused for another column turns nothing to labels (codes
    # that come next are codes), and lists are refused as ever
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2

    def chunk(c):
        return pd.DataFrame({"c": c, "x": rng.normal(size=40)})

    model = DeepFMClassifier(**SMALL)
    with pytest.warns(UserWarning, match="holds no category"):
        model.partial_fit(chunk(np.full(40, np.nan)), y, classes=[0, 1])
    refused = chunk([f"s{i % 3}" for i in range(40)])
    refused.loc[0, "x"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.partial_fit(refused, y)
    model.partial_fit(chunk(np.arange(40) % 3), y)
    assert list(model.input_layout_.fields[0].categories) == [0, 1, 2]
    for cells, now in (
        ([f"s{i % 3}" for i in range(40)], "labels"),
        ([["a"]] * 40, "lists"),
    ):
        with pytest.raises(
            TypeError, match=f"held integer codes in fit and holds {now}"
        ):
            model.partial_fit(chunk(cells), y)
    # the same first chunk of nulls as objects (arrow, polars, pandas None)
    # reads as labels and takes the codes that come: every later float was
    # a category of its own, and codes were learnt beside their digits
    for nulls in (
        pd.Series([None] * 40, dtype=object),
        pd.Series([None] * 40, dtype="string[pyarrow]"),
    ):
        model = DeepFMClassifier(**SMALL)
        with pytest.warns(UserWarning, match="holds no category"):
            model.partial_fit(chunk(nulls), y, classes=[0, 1])
        model.partial_fit(chunk(np.arange(40) % 3), y)
        assert list(model.input_layout_.fields[0].categories) == [0, 1, 2]
        for cells in ([f"{i % 3}" for i in range(40)], np.arange(40) + 0.5):
            with pytest.raises((TypeError, ValueError), match="codes|non-integer"):
                model.partial_fit(chunk(cells), y)
    # fitted on such a column, predict reads any label as unknown
    fitted = DeepFMClassifier(**SMALL)
    with pytest.warns(UserWarning, match="holds no category"):
        fitted.fit(chunks[0][["c", "n"]], chunks[0].y)
    assert_array_equal(
        fitted.predict_proba(chunks[1][["c", "n"]]),
        fitted.predict_proba(chunks[1][["c", "n"]].assign(c=np.nan)),
    )


def test_a_partial_fit_call_that_fails_on_a_number_learns_no_category():
    # the categories were learnt first, then the number refused: a stream
    # that skips bad chunks had untrained rows for the skipped categories
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.choice(["u", "v"], 50), "p": rng.normal(size=50)})
    y = rng.integers(0, 2, 50)
    model = DeepFMClassifier(**SMALL).partial_fit(X, y, classes=[0, 1])
    probe = pd.DataFrame({"a": ["new"], "p": [0.0]})
    before = model.predict_proba(probe)
    bad = pd.DataFrame({"a": ["new", "u"], "p": [0.1, np.nan]})
    with pytest.raises(ValueError, match="NaN in numeric column 1"):
        model.partial_fit(bad, [0, 1])
    assert list(model.input_layout_.fields[0].categories) == ["u", "v"]
    assert_array_equal(model.predict_proba(probe), before)


def test_partial_fit_reads_alpha_at_every_call_as_mlp_does():
    X, y = make_categorical(n_samples=600)
    runs = []
    for alpha in (0.0, 0.0, 1.0):
        model = DeepFMClassifier(**SMALL).partial_fit(X, y, classes=[0, 1])
        model.set_params(alpha=alpha).partial_fit(X, y)
        groups = model.net_.optimizer_.param_groups
        assert {group["weight_decay"] for group in groups} == {alpha}
        runs.append(model.decision_function(X))
    assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])


def test_partial_fit_reads_verbose_and_a_set_batch_size_at_every_call(capsys):
    # as MLPClassifier.partial_fit: both stayed those of the first call
    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(**{**SMALL, "batch_size": 64})
    model.partial_fit(X, y, classes=[0, 1])
    assert len(model.history_[-1, "batches"]) == 10 and capsys.readouterr().out == ""
    model.set_params(verbose=1, batch_size=300).partial_fit(X, y)
    assert len(model.history_[-1, "batches"]) == 2
    assert capsys.readouterr().out.split()[0] == "2"  # the epoch's line
    model.set_params(verbose=0).partial_fit(X, y)
    assert capsys.readouterr().out == ""


def test_a_later_partial_fit_checks_what_it_reads_again_and_auto_is_the_first_size():
    # scikit-learn validates the first call only: batch_size=-1 trained on no
    # batch, and 'auto' set back kept the bad value
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(**{**SMALL, "batch_size": "auto"})
    model.partial_fit(X, y, classes=[0, 1])
    first = len(model.history_[-1, "batches"])
    before = model.predict_proba(X)
    for bad in ({"batch_size": -1}, {"batch_size": 0}, {"alpha": -1.0}):
        with pytest.raises(InvalidParameterError, match=next(iter(bad))):
            model.set_params(**bad).partial_fit(X, y)
        model.set_params(batch_size="auto", alpha=0.0)
        assert len(model.history_) == 1
        assert_array_equal(model.predict_proba(X), before)
    model.set_params(batch_size=7).partial_fit(X, y)
    assert len(model.history_[-1, "batches"]) == 86
    model.set_params(batch_size="auto").partial_fit(X, y)
    assert len(model.history_[-1, "batches"]) == first


def test_the_first_partial_fit_after_a_recipe_fit_keeps_the_callbacks_state():
    # the recipe's schedule leaves; the user's callbacks and skorch's went on
    # restarted (a count of epochs read 1 after 3 epochs and one call)
    from skorch.callbacks import Callback

    class Count(Callback):
        def initialize(self):
            self.epochs_ = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs_ += 1

    X, y = make_categorical(n_samples=1500)
    model = DeepFMClassifier(**SMALL, callbacks=[("count", Count())]).fit(X, y)
    count = dict(model.net_.callbacks_)["count"]
    n_epochs = len(model.history_)
    assert count.epochs_ == n_epochs
    model.partial_fit(X, y)
    assert dict(model.net_.callbacks_)["count"].epochs_ == n_epochs + 1
    assert "deepfm_schedule" not in dict(model.net_.callbacks_)
    best = min(model.history_[:-1, "train_loss"])
    assert model.history_[-1, "train_loss_best"] == (
        model.history_[-1, "train_loss"] < best
    )


def test_a_model_saved_before_the_weight_scale_was_kept_trains_on():
    # models pickled before partial_fit kept the first call's mean weight
    # lack the attribute; they take the next call's
    X, y = make_categorical(n_samples=600)
    model = DeepFMClassifier(**SMALL).partial_fit(X, y, classes=[0, 1])
    state = model.__getstate__()
    del state["_weight_scale"]
    loaded = DeepFMClassifier.__new__(DeepFMClassifier)
    loaded.__setstate__(state)
    loaded.partial_fit(X, y, sample_weight=np.full(len(y), 3.0))
    assert loaded._weight_scale == 3.0
    assert np.isfinite(loaded.predict_proba(X)).all()


def test_partial_fit_after_fit_trains_the_fitted_model_further():
    X, y = make_categorical(n_samples=1500)
    model = DeepFMClassifier(**{**SMALL, "early_stopping": True}).fit(X, y)
    n_epochs = len(model.history_)
    model.partial_fit(X, y)
    assert len(model.history_) == n_epochs + 1
    assert "valid_loss" not in model.history_[-1]
    assert np.isfinite(model.predict_proba(X)).all()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_dask_incremental_on_a_local_cluster():
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = make_categorical(n_samples=4000)
    frame = pd.DataFrame(X, columns=list("abcd")).astype("category")
    # a numeric column beside the categories
    frame["d"] = X[:, 3] + np.random.default_rng(0).normal(scale=0.1, size=len(X))
    frame_dask = dd.from_pandas(frame, npartitions=4)
    y_dask = dd.from_pandas(pd.Series(y), npartitions=4)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        search = wrappers.Incremental(
            DeepFMClassifier(**SMALL), shuffle_blocks=False, random_state=0
        )
        search.fit(frame_dask, y_dask, classes=[0, 1])
        fitted = search.estimator_
        assert len(fitted.history_) == 4  # one pass per partition
        search.partial_fit(frame_dask, y_dask, classes=[0, 1])  # a second pass
        assert len(search.estimator_.history_) == 8
        proba = search.predict_proba(frame_dask).compute()
    assert_array_equal(search.estimator_.is_categorical_, [True, True, True, False])
    assert roc_auc_score(y, proba[:, 1]) > 0.7
