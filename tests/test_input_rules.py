"""No silent surprises: one input rule whatever the container, what fit
decided made visible, the scikit-learn knobs users reach for, and a clear
error wherever the input cannot be read."""

import io
import re
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import make_column_transformer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils.class_weight import compute_class_weight
from skorch.callbacks import Callback, ProgressBar

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor
from sklearn_deepfm.datasets import load_adult

from .conftest import FAST, make_categorical


@pytest.fixture(scope="module")
def adult():
    X, y = load_adult(return_X_y=True)
    X, _, y, _ = train_test_split(X, y, train_size=4000, stratify=y, random_state=0)
    return X.reset_index(drop=True), y.to_numpy()


def _columns(X):
    return (
        list(X.select_dtypes("number").columns),
        list(X.select_dtypes("category").columns),
    )


# one rule for every container -----------------------------------------------
def test_ordinal_encoder_missing_code_keeps_columns_categorical(adult):
    X, y = adult
    assert X["workclass"].isna().any()  # missing values in the training rows
    encoder = OrdinalEncoder(encoded_missing_value=-1, dtype=np.int64)
    _, categorical = _columns(X)
    codes = encoder.fit_transform(X[categorical])
    assert (codes == -1).any()
    model = DeepFMClassifier(**FAST).fit(codes, y)
    assert model.is_categorical_.all()
    # the -1 code is the unknown row, like a category never seen
    layout = model.input_layout_.fields[categorical.index("workclass")]
    assert -1 not in layout.categories
    missing = codes.copy()
    missing[:, 0] = -1
    unseen = codes.copy()
    unseen[:, 0] = 999
    assert_allclose(model.predict_proba(missing), model.predict_proba(unseen))


def test_several_negative_integers_read_as_numeric_with_a_warning():
    X, y = make_categorical(n_samples=300)
    X = X - 3  # codes 0..5 become -3..2: a quantity, or codes?
    with pytest.warns(UserWarning, match="3 distinct negative values") as caught:
        model = DeepFMClassifier(**FAST).fit(X, y)
    assert not model.is_categorical_.any()
    # the advice keeps the negative codes apart (listed in
    # categorical_features, the advice before, they all read as missing)
    assert "pass the column as strings" in str(caught[0].message)
    advised = DeepFMClassifier(**FAST).fit(X.astype(str), y)
    rows = [np.flatnonzero(X[:, 0] == code)[0] for code in (-3, -2)]
    proba = advised.predict_proba(X[rows].astype(str))
    assert abs(proba[0, 1] - proba[1, 1]) > 1e-4


def test_high_cardinality_integers_are_flagged_once():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 5, 400), rng.permutation(400)])
    y = rng.integers(0, 2, 400)
    with pytest.warns(UserWarning) as record:
        DeepFMClassifier(**FAST).fit(X, y)
    messages = [
        str(w.message) for w in record if "categorical_features" in str(w.message)
    ]
    assert len(messages) == 1 and "column 1" in messages[0]
    assert "400 distinct integers" in messages[0]


@pytest.mark.parametrize("form", ["toarray", "pandas_output", "get_dummies"])
def test_dense_one_hot_gets_the_fields_of_sparse_one_hot(adult, form):
    X, y = adult
    numeric, categorical = _columns(X)
    X = X.copy()
    X[numeric] = StandardScaler().fit_transform(X[numeric])
    sparse = make_column_transformer(
        ("passthrough", numeric),
        (OneHotEncoder(handle_unknown="ignore"), categorical),
    ).fit_transform(X)
    reference = DeepFMClassifier(**FAST).fit(sparse, y)
    assert reference.n_fields_ == 14
    if form == "toarray":
        dense = sparse.toarray()
    elif form == "pandas_output":
        dense = (
            make_column_transformer(
                ("passthrough", numeric),
                (
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    categorical,
                ),
            )
            .set_output(transform="pandas")
            .fit_transform(X)
        )
    else:
        dense = pd.get_dummies(X, columns=categorical)
    model = DeepFMClassifier(**FAST).fit(dense, y)
    assert model.n_fields_ == 14
    kinds = {field.kind for field in model.input_layout_.fields}
    assert kinds == {"numeric", "indicator"}
    auc_dense = roc_auc_score(y, model.decision_function(dense))
    auc_sparse = roc_auc_score(y, reference.decision_function(sparse))
    assert abs(auc_dense - auc_sparse) < 0.02
    # infinity in a block is an error, as in every numeric column
    block = next(f for f in model.input_layout_.fields if f.kind == "indicator")
    if hasattr(dense, "iloc"):
        bad = dense.iloc[:3].astype(float)
        bad.iloc[1, block.columns[0]] = np.inf
    else:
        bad = dense[:3].astype(float)
        bad[1, block.columns[0]] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.predict(bad)


def test_polars_dataframe_is_read_like_the_pandas_one(adult):
    pl = pytest.importorskip("polars")
    X, y = adult
    frame = X.iloc[:1500]
    polars_frame = pl.from_pandas(frame)
    from_pandas = DeepFMClassifier(**FAST).fit(frame, y[:1500])
    from_polars = DeepFMClassifier(**FAST).fit(polars_frame, y[:1500])
    assert_array_equal(from_polars.is_categorical_, from_pandas.is_categorical_)
    assert_array_equal(from_polars.feature_names_in_, frame.columns)
    assert_allclose(
        from_polars.predict_proba(polars_frame), from_pandas.predict_proba(frame)
    )
    # either container predicts for a model fitted on the other
    assert_allclose(
        from_pandas.predict_proba(polars_frame), from_pandas.predict_proba(frame)
    )


def test_string_ndarray_needs_no_encoder():
    X, y = load_adult(return_X_y=True, as_frame=False)
    X, y = X[:1500], y[:1500]
    model = DeepFMClassifier(**FAST).fit(X, y)
    frame = load_adult(return_X_y=True)[0].iloc[:1500]
    categorical = [frame[c].dtype == "category" for c in frame.columns]
    assert_array_equal(model.is_categorical_[categorical], True)
    assert np.isfinite(model.predict_proba(X)).all()


def test_duplicate_column_names_get_scikit_learns_error():
    # the sparse-frame test read frame[name] and met a DataFrame
    X, y = make_categorical(n_samples=100)
    frame = pd.DataFrame(X, columns=["a", "a", "b", "c"])
    with pytest.raises(ValueError, match="Expected unique column names"):
        DeepFMClassifier(**FAST).fit(frame, y)


def test_other_containers_get_a_type_error():
    pa = pytest.importorskip("pyarrow")
    X, y = make_categorical(n_samples=100)
    table = pa.table({f"c{j}": X[:, j] for j in range(X.shape[1])})
    with pytest.raises(TypeError, match="pandas or polars DataFrames.*pyarrow"):
        DeepFMClassifier(**FAST).fit(table, y)


def test_dask_collections_point_to_partial_fit():
    dd = pytest.importorskip("dask.dataframe")
    X, y = make_categorical(n_samples=100)
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=2)
    with pytest.raises(TypeError, match="partial_fit"):
        DeepFMClassifier(**FAST).fit(frame, y)
    # predict points to ParallelPostFit (it named fit)
    model = DeepFMClassifier(**FAST).fit(X, y)
    with pytest.raises(TypeError, match="ParallelPostFit") as error:
        model.predict(frame)
    assert ".fit" not in str(error.value)


def _dates(kind, n):
    """``n`` dates, times or durations in the container ``kind``."""
    when = pd.Series(pd.date_range("2026-01-01", periods=n, freq="h"))
    if kind == "datetime64":
        return when
    if kind == "timedelta64":
        return when - when.iloc[0]
    if kind == "objects":  # datetime.date values in an object column
        return pd.Series(list(when.dt.date), dtype=object)
    pa = pytest.importorskip("pyarrow")
    return pd.Series(list(when.dt.time), dtype=pd.ArrowDtype(pa.time64("us")))


@pytest.mark.parametrize("kind", ["datetime64", "timedelta64", "objects", "arrow"])
def test_dates_times_and_durations_are_an_error_in_fit_and_predict(kind):
    X, y = make_categorical(n_samples=100)
    frame = pd.DataFrame(X, columns=list("abcd"))
    with_dates = frame.assign(when=_dates(kind, 100))
    with pytest.raises(TypeError, match=r"column 4 \('when'\) holds dates"):
        DeepFMClassifier(**FAST).fit(with_dates, y)
    # a column that held numbers or labels in fit
    for fitted in (np.arange(100.0), np.array(["x", "y"] * 50, dtype=object)):
        model = DeepFMClassifier(**FAST).fit(frame.assign(when=fitted), y)
        # (an object column of dates had been read as unknown labels)
        refused = r"column 4 \('when'\) (holds dates|held integer codes in fit)"
        with pytest.raises(TypeError, match=refused):
            model.predict(with_dates)
    # dates among labels are refused too (each had been a category)
    labels = pd.Series(["x", "y"] * 50, dtype=object)
    labels[::10] = _dates(kind, 100)[::10].astype(object)
    with pytest.raises(TypeError, match=r"column 4 \('when'\) holds dates"):
        DeepFMClassifier(**FAST).fit(frame.assign(when=labels), y)


@pytest.mark.parametrize(
    "value",
    [
        pd.Period("2026-01", "M"),
        np.datetime64("2026-01-01"),
        np.timedelta64(3, "h"),
        pd.Timedelta(hours=3),
    ],
    ids=repr,
)
def test_date_objects_among_labels_are_refused_and_nat_is_missing(value):
    # each had been a category beside strings, or an unknown label at
    # predict; np.timedelta64, a signed integer to NumPy, had been the code 3
    X, y = make_categorical(n_samples=100)
    labels = np.array(["x", "y"] * 50, dtype=object)
    frame = pd.DataFrame(X, columns=list("abcd")).assign(when=labels)
    mixed = labels.copy()
    mixed[::10] = value
    with pytest.raises(TypeError, match=r"column 4 \('when'\) holds dates"):
        DeepFMClassifier(**FAST).fit(frame.assign(when=mixed), y)
    codes = np.empty((100, 2), dtype=object)
    codes[:, 0], codes[:, 1] = X[:, 0], value
    with pytest.raises(TypeError, match="column 1 holds"):
        DeepFMClassifier(**FAST).fit(codes, y)
    model = DeepFMClassifier(**FAST).fit(frame, y)
    column = np.empty(100, dtype=object)
    column[:] = [value] * 100
    with pytest.raises(TypeError, match=r"column 4 \('when'\) holds dates"):
        model.predict(frame.assign(when=column))
    # nor are they numbers where fit saw numbers
    numbers = DeepFMClassifier(**FAST).fit(codes[:, :1].astype(float), y)
    with pytest.raises(TypeError, match="column 0 held (numbers|integer codes) in"):
        numbers.predict(column.reshape(-1, 1))
    # NaT is missing, as to pandas: it was a category, and a batch of NaT
    # alone met a KeyError at predict; an object array of it was refused
    nat = labels.copy()
    nat[::10] = pd.NaT
    model = DeepFMClassifier(**FAST).fit(frame.assign(when=nat), y)
    assert list(model.input_layout_.fields[4].categories) == ["x", "y"]
    missing = frame.assign(when=None)
    for not_a_time in (pd.NaT, np.datetime64("NaT"), np.timedelta64("NaT")):
        column = np.empty(100, dtype=object)
        column[:] = [not_a_time] * 100
        assert_array_equal(
            model.decision_function(
                frame.assign(when=pd.Series(column, dtype=object))[:1]
            ),
            model.decision_function(missing[:1]),
        )
    none = labels.copy()
    none[::10] = None
    for given in (frame.assign(when=nat), frame.assign(when=nat).to_numpy()):
        assert_array_equal(
            DeepFMClassifier(**FAST).fit(given, y).decision_function(given),
            DeepFMClassifier(**FAST)
            .fit(frame.assign(when=none), y)
            .decision_function(frame.assign(when=none)),
        )


def test_polars_dates_times_and_durations_are_an_error_in_fit_and_predict():
    pl = pytest.importorskip("polars")
    X, y = make_categorical(n_samples=100)
    frame = pl.DataFrame(X, schema=list("abcd"))
    model = DeepFMClassifier(**FAST).fit(frame.with_columns(when=pl.lit(1.5)), y)
    when = pl.datetime_range(
        pl.datetime(2026, 1, 1), pl.datetime(2026, 1, 6), "1h", eager=True
    )[:100]
    for dates in (when, when.dt.time(), when - when[0]):
        with_dates = frame.with_columns(when=dates)
        with pytest.raises(TypeError, match=r"column 4 \('when'\) holds dates"):
            DeepFMClassifier(**FAST).fit(with_dates, y)
        with pytest.raises(TypeError, match=r"column 4 \('when'\) holds dates"):
            model.predict(with_dates)


def test_polars_records_and_lazy_frames_are_refused_with_advice():
    # a struct's fields had been read as a list ("wrap single values in a
    # list"), and a LazyFrame failed in NumPy ("Expected 2D array")
    pl = pytest.importorskip("polars")
    X, y = make_categorical(n_samples=100)
    frame = pl.DataFrame(X, schema=list("abcd"))
    records = frame.with_columns(s=pl.struct(pl.col("a"), pl.col("b")))
    with pytest.raises(TypeError, match=r"column 4 \('s'\) holds records.*unnest"):
        DeepFMClassifier(**FAST).fit(records, y)
    for fitted in (pl.lit(1.5), pl.col("a"), pl.col("a").cast(pl.String)):
        model = DeepFMClassifier(**FAST).fit(frame.with_columns(s=fitted), y)
        with pytest.raises(TypeError, match=r"column 4 \('s'\) holds records"):
            model.predict(records)
    for method in (DeepFMClassifier(**FAST).fit, model.predict):
        with pytest.raises(TypeError, match="polars LazyFrame. Call .collect"):
            method(frame.lazy(), *([y] if method.__name__ == "fit" else []))


def test_complex_columns_are_refused_as_scikit_learn_refuses_them():
    # a pandas complex column was read as labels, one category per value
    X, y = make_categorical(n_samples=100)
    frame = pd.DataFrame(X, columns=list("abcd")).assign(z=np.linspace(0, 1, 100))
    with pytest.raises(ValueError, match=r"Complex data not supported: column 4"):
        DeepFMClassifier(**FAST).fit(frame.assign(z=frame["z"] + 1j), y)
    model = DeepFMClassifier(**FAST).fit(frame, y)
    for column in ("a", "z"):  # codes and numbers: the imaginary part dropped
        with pytest.raises(ValueError, match="Complex data not supported"):
            model.predict(frame.assign(**{column: frame[column] + 1j}))


def test_an_arrow_decimal_column_is_a_number_as_in_polars():
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    price = rng.gamma(2.0, 10.0, 300).round(2)
    y = (price > 20).astype(int)
    as_float = pd.DataFrame({"price": price})
    decimal = pd.Series(price.astype(str)).astype(pd.ArrowDtype(pa.decimal128(10, 2)))
    as_decimal = pd.DataFrame({"price": decimal})
    expected = DeepFMClassifier(**FAST).fit(as_float, y).predict_proba(as_float)
    # and Python's Decimal objects, as pandas reads the type from Parquet
    # (to_pandas, read_parquet): they were one category per price
    objects = decimal.astype(object)
    assert isinstance(objects[0], Decimal)
    for X in (as_decimal, pd.DataFrame({"price": objects}), objects.to_frame()):
        model = DeepFMClassifier(**FAST).fit(X, y)
        assert model.input_layout_.fields[0].kind == "numeric"
        assert_allclose(model.predict_proba(X), expected, rtol=1e-5)
        assert_allclose(model.predict_proba(as_float), expected, rtol=1e-5)
    codes = DeepFMClassifier(**FAST).fit(objects.to_numpy()[:, None], y)
    assert codes.input_layout_.fields[0].kind == "numeric"


def test_a_polars_column_of_codes_given_labels_or_lists_names_both_kinds():
    pl = pytest.importorskip("polars")
    X, y = make_categorical(n_samples=100)
    frame = pl.DataFrame(X, schema=list("abcd"))
    model = DeepFMClassifier(**FAST).fit(frame, y)
    for now, cells in (("labels", ["x"] * 100), ("lists", [[1]] * 100)):
        with pytest.raises(
            TypeError, match=f"held integer codes in fit and holds {now}"
        ):
            model.predict(frame.with_columns(a=pl.Series(cells)))


@pytest.mark.parametrize("column", [0, 3])
def test_infinity_is_an_error_in_fit_and_predict(column):
    X, y = make_categorical(n_samples=200)
    X = X.astype(float)
    X[:, 3] += 0.5  # column 3 is numeric, the others codes
    bad = X.copy()
    bad[5, column] = np.inf
    with pytest.raises(ValueError, match=f"infinity in.*column {column}"):
        DeepFMClassifier(**FAST).fit(bad, y)
    model = DeepFMClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match=f"infinity in.*column {column}"):
        model.predict(bad)


def test_rows_setting_two_columns_of_a_dense_one_hot_block_warn():
    # two rare flags never set together in fit look like one one-hot block
    rng = np.random.default_rng(1)
    a = rng.random(1000) < 0.05
    b = (rng.random(1000) < 0.05) & ~a
    y = (rng.random(1000) < np.where(a | b, 0.8, 0.3)).astype(int)
    frame = pd.DataFrame({"a": a, "b": b, "x": rng.integers(0, 3, 1000)})
    model = DeepFMClassifier(**FAST).fit(frame, y)
    assert model.input_layout_.fields[0].kind == "indicator"
    both = pd.DataFrame({"a": [True, True], "b": [False, True], "x": [0, 0]})
    with pytest.warns(UserWarning, match="1 row\\(s\\) set several 0/1 columns"):
        model.predict(both)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.explain(both)
    assert sum("several 0/1 columns" in str(w.message) for w in caught) == 1
    separate = DeepFMClassifier(**{**FAST, "categorical_features": None})
    assert separate.fit(frame, y).n_fields_ == 3
    # strings in one of the block's columns: the error names it (a bare
    # "strings are not numbers" had named none)
    text = both.assign(b=["False", "True"])
    with pytest.raises(TypeError, match="column 'b' of the one-hot block.*'False'"):
        model.predict(text)


def test_a_frame_of_pandas_sparse_columns_is_read_as_the_sparse_matrix():
    X, y = make_categorical(n_samples=300)
    onehot = OneHotEncoder().fit(X)
    matrix = onehot.transform(X)
    names = onehot.get_feature_names_out()
    frame = pd.DataFrame.sparse.from_spmatrix(matrix, columns=names)
    from_frame = DeepFMClassifier(**FAST).fit(frame, y)
    from_matrix = DeepFMClassifier(**FAST).fit(matrix, y)
    # sparse fields, not one dense one-hot block per field
    assert from_frame.input_layout_.sparse
    assert_array_equal(from_frame.feature_names_in_, names)
    assert_array_equal(
        from_frame.predict_proba(frame), from_matrix.predict_proba(matrix)
    )
    with pytest.warns(UserWarning, match="fitted without feature names"):
        served = from_matrix.predict_proba(frame)  # as LogisticRegression warns
    assert_array_equal(served, from_matrix.predict_proba(matrix))
    with pytest.raises(ValueError, match="feature names"):
        from_frame.predict(frame.rename(columns={names[0]: "other"}))
    # read column by column as before: a model of dense columns, columns
    # named as categorical, and a fill value other than 0
    dense = frame.sparse.to_dense()
    from_dense = DeepFMClassifier(**FAST).fit(dense, y)
    assert_array_equal(from_dense.predict_proba(frame), from_dense.predict_proba(dense))
    named = DeepFMClassifier(**{**FAST, "categorical_features": list(names[:2])})
    assert not named.fit(frame, y).input_layout_.sparse
    filled = dense.astype(pd.SparseDtype(float, np.nan))
    assert_array_equal(
        DeepFMClassifier(**FAST).fit(filled, y).predict_proba(filled),
        from_dense.predict_proba(dense),
    )
    # values other than 0 and 1 (integer codes, amounts) are read by the
    # columns' rule too: as the matrix's values, code 3 was three times code 1
    rng = np.random.default_rng(0)
    codes = pd.DataFrame({"a": rng.integers(0, 4, 300), "b": rng.integers(0, 5, 300)})
    sparse_codes = codes.astype(pd.SparseDtype(np.int64, 0))
    from_codes = DeepFMClassifier(**FAST).fit(codes, y)
    fitted = DeepFMClassifier(**FAST).fit(sparse_codes, y)
    assert not fitted.input_layout_.sparse
    assert_array_equal(fitted.is_categorical_, [True, True])
    assert_array_equal(
        fitted.predict_proba(sparse_codes), from_codes.predict_proba(codes)
    )


def test_sparse_matrix_to_a_model_fitted_on_dense_columns():
    X, y = make_categorical(n_samples=200)
    model = DeepFMClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="fitted on dense columns.*sparse matrix"):
        model.predict(sp.csr_matrix(X))


# what fit decided ------------------------------------------------------------
def test_input_layout_shows_every_field_and_verbose_prints_it(adult, capsys):
    X, y = adult
    model = DeepFMClassifier(**{**FAST, "max_epochs": 1, "verbose": 1}).fit(X, y)
    layout = model.input_layout_
    # 14 columns, and the whole-number quantities also read as numbers
    numbers = [field for field in layout.fields if field.number_of is not None]
    assert layout.n_fields == 14 + len(numbers) and not layout.sparse
    assert {field.names[0] for field in numbers} >= {"age", "hours-per-week"}
    assert "numeric, the number of field 0's categories" in str(layout)
    workclass = layout.fields[list(X.columns).index("workclass")]
    assert workclass.kind == "categorical"
    assert list(workclass.categories) == sorted(X["workclass"].dropna().unique())
    assert workclass.n_embeddings == len(workclass.categories) + 1
    text = str(layout)
    assert "'workclass': categorical, 8 categories + 1 unknown row" in text
    out = capsys.readouterr().out
    assert text in out and out.index(text) < out.index("train_loss")


def test_verbose_log_to_a_file_has_no_colour_codes(capsys):
    X, y = make_categorical(n_samples=1200)
    DeepFMClassifier(**{**FAST, "verbose": 1}).fit(X, y)
    out = capsys.readouterr().out  # captured: not a terminal
    assert "valid_loss" in out
    assert not re.search(r"\x1b\[", out)


def test_progress_bar_reaches_the_end_of_every_epoch(monkeypatch, capsys):
    X, y = make_categorical(n_samples=1500)
    settings = {**FAST, "early_stopping": True, "max_epochs": 3}
    # in a log (standard error captured): one line per epoch
    model = DeepFMClassifier(callbacks=[ProgressBar()], **settings).fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == len(model.history_)
    for line in lines:
        done, total = re.search(r"\| (\d+)/(\d+) \[", line).groups()
        assert done == total

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    # on a terminal: tqdm's bar
    monkeypatch.setattr("sys.stderr", Terminal())
    model = DeepFMClassifier(callbacks=[ProgressBar()], **settings).fit(X, y)
    bar = dict(model.net_.callbacks_)["ProgressBar"].pbar_
    assert bar.total is not None and bar.n == bar.total


def test_html_repr_links_to_the_api_page():
    html = DeepFMClassifier()._repr_html_()
    assert "generated/sklearn_deepfm.DeepFMClassifier.html" in html
    assert "generated/sklearn_deepfm.DeepFMRegressor.html" in (
        DeepFMRegressor()._repr_html_()
    )


# the knobs users reach for ---------------------------------------------------
def test_unknown_parameters_name_the_estimator_and_the_knob():
    with pytest.raises(TypeError, match=r"DeepFMClassifier\.__init__"):
        DeepFMClassifier(weight_decay=1e-4)
    with pytest.raises(TypeError, match=r"DeepFMRegressor\.__init__"):
        DeepFMRegressor(class_weight="balanced")
    with pytest.raises(ValueError, match="for estimator DeepFMClassifier.*alpha"):
        DeepFMClassifier().set_params(optimizer__weight_decay=1e-4)


def test_alpha_penalises_the_weights():
    X, y = make_categorical()
    plain = DeepFMClassifier(**FAST).fit(X, y)
    penalised = DeepFMClassifier(alpha=0.1, **FAST).fit(X, y)
    assert penalised.net_.get_params()["optimizer__weight_decay"] == 0.1
    norm = [
        sum(float((p.detach() ** 2).sum()) for p in m.net_.module_.mlp.parameters())
        for m in (plain, penalised)
    ]
    assert norm[1] < norm[0]


def test_class_weight_is_sample_weight_by_class():
    X, y = make_categorical(n_samples=800)
    weights = {0: 1.0, 1: 3.0}
    by_class = DeepFMClassifier(class_weight=weights, **FAST).fit(X, y)
    by_sample = DeepFMClassifier(**FAST).fit(
        X, y, sample_weight=np.where(y == 1, 3.0, 1.0)
    )
    assert_allclose(by_class.predict_proba(X), by_sample.predict_proba(X))
    plain = DeepFMClassifier(**FAST).fit(X, y)
    assert by_class.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()
    balanced = DeepFMClassifier(class_weight="balanced", **FAST).fit(X, y)
    assert np.isfinite(balanced.predict_proba(X)).all()
    # the class weights count in the checks of the weights: all zero is
    # sample_weight's error (not "training diverged"), 1e308 is scaled
    zero = DeepFMClassifier(class_weight={0: 0.0, 1: 0.0}, **FAST)
    with pytest.raises(ValueError, match="give every row a weight of 0"):
        zero.fit(X, y)
    with pytest.raises(ValueError, match="give every row a weight of 0"):
        zero.partial_fit(X, y, classes=[0, 1])
    huge = DeepFMClassifier(class_weight={0: 1e308, 1: 1.5e308}, **FAST)
    assert np.isfinite(huge.fit(X, y).predict_proba(X)).all()
    # negative or NaN weights are refused, as negative sample weights are (a
    # negative one trained on negative row weights: P = 1 for every row)
    for bad in (-0.1, np.nan):
        model = DeepFMClassifier(class_weight={0: bad, 1: 1.0}, **FAST)
        with pytest.raises(ValueError, match="finite, non-negative weight"):
            model.fit(X, y)
        with pytest.raises(ValueError, match="finite, non-negative weight"):
            model.partial_fit(X, y, classes=[0, 1])


def test_balanced_class_weight_counts_the_classes_by_sample_weight():
    # as LogisticRegression: rows of weight 0 count nowhere, and weighted
    # rows count by their weight (every row had counted once)
    X, y = make_categorical(n_samples=600)
    weights = np.where(y == 0, 2.0, 1.0)
    weights[:150] = 0.0
    expected = compute_class_weight(
        "balanced", classes=np.unique(y), y=y, sample_weight=weights
    )
    by_dict = DeepFMClassifier(class_weight=dict(enumerate(expected)), **FAST)
    balanced = DeepFMClassifier(class_weight="balanced", **FAST)
    assert_allclose(
        balanced.fit(X, y, sample_weight=weights).predict_proba(X),
        by_dict.fit(X, y, sample_weight=weights).predict_proba(X),
    )
    # without weights it is scikit-learn's count of the rows
    plain = compute_class_weight("balanced", classes=np.unique(y), y=y)
    assert_allclose(
        balanced.fit(X, y).predict_proba(X),
        by_dict.set_params(class_weight=dict(enumerate(plain)))
        .fit(X, y)
        .predict_proba(X),
    )


def test_warm_start_continues_from_the_previous_fit():
    X, y = make_categorical(n_samples=1200)
    model = DeepFMClassifier(warm_start=True, **FAST).fit(X, y)
    n_epochs = len(model.history_)
    first_loss = model.history_[-1, "train_loss"]
    layout = model.input_layout_
    model.fit(X, y)
    assert model.input_layout_ is layout  # the layout of the first fit is kept
    # the history goes on, as MLPClassifier's loss_curve_ does
    assert len(model.history_) > n_epochs
    assert model.history_[n_epochs, "train_loss"] < first_loss * 1.05
    assert model.history_[n_epochs, "train_loss"] < model.history_[0, "train_loss"]
    with pytest.raises(ValueError, match="classes of the previous fit"):
        model.fit(X, np.where(y == 1, 2, 0))


@pytest.mark.parametrize("Estimator", [DeepFMClassifier, DeepFMRegressor])
def test_a_warm_fit_keeps_the_columns_it_was_fitted_on(Estimator):
    # as MLPClassifier's: other columns are an error that leaves the model be
    X, y = make_categorical(n_samples=300)
    frame = pd.DataFrame(X, columns=list("abcd"))
    model = Estimator(warm_start=True, **FAST).fit(frame, y)
    before = model.predict(frame)
    wider = frame.assign(e=1.0)
    for other in (wider, frame[["b", "a", "c", "d"]], wider.to_numpy()):
        with pytest.raises(ValueError, match="feature names|expecting 4 features"):
            with warnings.catch_warnings():
                # an array: "X does not have valid feature names", as for MLP
                warnings.simplefilter("ignore", UserWarning)
                model.fit(other, y)
        assert model.n_features_in_ == 4
        assert_array_equal(model.feature_names_in_, list("abcd"))
        assert_array_equal(model.predict(frame), before)


def test_n_jobs_sets_torch_threads_during_fit_and_restores_them():
    seen = []

    class Threads(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    X, y = make_categorical(n_samples=200)
    model = DeepFMClassifier(n_jobs=1, callbacks=[Threads()], **FAST).fit(X, y)
    assert set(seen) == {1}
    assert torch.get_num_threads() == before
    model.predict(X)
    assert torch.get_num_threads() == before
    # set after fit, where scikit-learn's check does not run: 0 was one
    # thread, 2.5 torch's error, as joblib refuses them at predict
    for bad in (0, 2.5):
        model.set_params(n_jobs=bad)
        for method in (model.predict, model.explain):
            with pytest.raises(ValueError, match="n_jobs"):
                method(X)
    assert torch.get_num_threads() == before


# clear errors ---------------------------------------------------------------
def test_device_change_on_a_fitted_model_is_honoured():
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    X, y = make_categorical(n_samples=200)
    model = DeepFMClassifier(**FAST).fit(X, y)
    model.set_params(device="cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        model.predict(X)
    model.set_params(device="cpu")
    assert model.predict(X).shape == (200,)


def test_early_stopping_with_a_one_member_class_says_what_to_do():
    X, y = make_categorical(n_samples=1200)
    y = y.copy()
    y[0] = 2  # a class with one member
    # no validation_fraction can put one row on both sides: not advised
    with pytest.raises(
        ValueError, match="validation_fraction.*early_stopping=False"
    ) as e:
        DeepFMClassifier(**{**FAST, "early_stopping": True}).fit(X, y)
    assert "change validation_fraction" not in str(e.value)
    assert "merge the rarest classes" in str(e.value)
    # where another fraction would do, it is advised
    tiny = DeepFMClassifier(
        **{**FAST, "early_stopping": True, "validation_fraction": 0.001}
    )
    with pytest.raises(ValueError, match="change validation_fraction"):
        tiny.fit(X[:8], np.array([0, 1, 2] * 2 + [0, 1]))
    model = DeepFMClassifier(**{**FAST, "early_stopping": False}).fit(X, y)
    assert_array_equal(model.classes_, [0, 1, 2])
    # 'auto' fits it, as at 999 rows and as LogisticRegression does, saying so
    with pytest.warns(UserWarning, match="early_stopping='auto' is off"):
        model = DeepFMClassifier(**FAST).fit(X, y)
    assert_array_equal(model.classes_, [0, 1, 2])
    assert model.linear_C_ is None  # no recipe
    # too few training rows for the classes: the same advice, not sklearn's
    many = np.arange(1200) % 120
    with pytest.raises(ValueError, match="training rows 60 row\\(s\\) for 120"):
        DeepFMClassifier(
            **{**FAST, "early_stopping": True, "validation_fraction": 0.95}
        ).fit(X, many)


# the rough edges a new user hit (issue 21) ----------------------------------
def test_an_entirely_missing_column_warns_and_names_it():
    X = pd.DataFrame(
        {"empty": [np.nan] * 60, "city": ["a", "b", "c"] * 20, "none": [None] * 60}
    )
    y = np.array([0, 1, 1] * 20)
    with pytest.warns(UserWarning, match="column 0 \\('empty'\\), column 2"):
        DeepFMClassifier(**FAST).fit(X, y)


def test_pandas_na_in_a_string_column_is_missing_in_fit_predict_and_partial_fit():
    rng = np.random.default_rng(0)
    cities = rng.choice(["a", "b", "c"], 600).astype(object)
    missing = rng.random(600) < 0.3
    cities[missing] = None
    y = np.where(missing, rng.random(600) < 0.9, rng.random(600) < 0.2).astype(int)
    X = pd.DataFrame({"city": pd.Series(cities, dtype="string")})
    model = DeepFMClassifier(**FAST).fit(X, y)
    assert list(model.input_layout_.fields[0].categories) == ["a", "b", "c"]
    row = int(np.flatnonzero(missing)[0])
    alone = model.predict_proba(X.iloc[[row]])[0, 1]
    # the unknown row, as in a batch of any size, as None in an object column
    assert alone == pytest.approx(model.predict_proba(X)[row, 1], rel=1e-6)
    as_none = pd.DataFrame({"city": pd.Series([None], dtype=object)})
    assert alone == pytest.approx(model.predict_proba(as_none)[0, 1], rel=1e-6)
    stream = DeepFMClassifier(**FAST)
    for part in np.array_split(np.arange(600), 3):
        stream.partial_fit(X.iloc[part], y[part], classes=[0, 1])
    assert list(stream.input_layout_.fields[0].categories) == ["a", "b", "c"]


def test_pandas_na_in_an_object_array_is_missing_as_in_the_frame():
    # df.to_numpy() of nullable columns holds pd.NA: fit had refused it as a
    # value of type NAType, and predict read it as a label of a codes column
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(
        {
            "colour": pd.array(rng.choice(["red", "blue", None], n), dtype="string"),
            "code": pd.array(
                np.where(rng.random(n) < 0.1, None, rng.integers(0, 4, n)),
                dtype="Int64",
            ),
            "size": pd.array(rng.normal(size=n), dtype="Float64"),
        }
    )
    y = rng.integers(0, 2, n)
    cells = X.to_numpy()
    assert any(value is pd.NA for value in cells.ravel())
    from_frame = DeepFMClassifier(**FAST).fit(X, y)
    from_cells = DeepFMClassifier(**FAST).fit(cells, y)
    assert_array_equal(from_cells.is_categorical_, [True, True, False])
    expected = from_frame.predict_proba(X)
    assert_allclose(from_cells.predict_proba(cells), expected)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        assert_allclose(from_frame.predict_proba(cells), expected)


def test_an_object_column_of_floats_is_numeric_in_a_frame_as_in_an_array():
    # pd.DataFrame(object array) had made one category per price
    rng = np.random.default_rng(0)
    price = np.round(rng.gamma(2.0, 10.0, 500), 2)
    cells = np.column_stack([price.astype(object), rng.choice(["a", "b"], 500)])
    y = (price > 20).astype(int)
    from_cells = DeepFMClassifier(**FAST).fit(cells, y)
    from_frame = DeepFMClassifier(**FAST).fit(pd.DataFrame(cells), y)
    assert_array_equal(from_cells.is_categorical_, [False, True])
    assert_array_equal(from_frame.is_categorical_, [False, True])
    assert_allclose(
        from_frame.predict_proba(pd.DataFrame(cells)), from_cells.predict_proba(cells)
    )
    # Decimals beside ints (a Decimal column's fillna(0)): pandas infers
    # "mixed-integer", as for ints beside strings, which are no numbers
    decimals = [Decimal(str(p)) for p in price]
    decimals[::10] = [0] * len(decimals[::10])
    frame = pd.DataFrame({"price": pd.Series(decimals, dtype=object), "c": cells[:, 1]})
    assert_array_equal(
        DeepFMClassifier(**FAST).fit(frame, y).is_categorical_, [False, True]
    )
    words = frame.assign(price=[str(p) if i % 2 else 1 for i, p in enumerate(price)])
    with pytest.raises(TypeError, match="string labels and numbers"):
        DeepFMClassifier(**FAST).fit(words, y)


def test_a_lone_surrogate_names_the_column_and_the_value():
    X = pd.DataFrame(
        {"city": pd.Series(["caf\udce9", "b", "c"] * 20, dtype=object), "n": 1.0}
    )
    y = np.array([0, 1, 1] * 20)
    with pytest.raises(ValueError, match="column 0 \\('city'\\).*'caf\\\\udce9'"):
        DeepFMClassifier(**FAST).fit(X, y)


def test_numbers_where_fit_saw_string_labels_are_refused():
    # pandas reads a column of digits as integers in one chunk of a CSV and
    # as strings in another (one 'A1' among them): 4 went to the unknown row
    # where '4' had one, as two categories
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, 300)
    X = pd.DataFrame({"zip": codes.astype(str), "n": rng.normal(size=300)})
    y = (codes >= 3).astype(int)
    model = DeepFMClassifier(**FAST).fit(X, y)
    as_numbers = X.assign(zip=codes)
    with pytest.raises(TypeError, match="held string labels in fit and holds numbers"):
        model.predict(as_numbers)
    with pytest.raises(TypeError, match="held string labels in fit and holds numbers"):
        DeepFMClassifier(**FAST).partial_fit(X, y, classes=[0, 1]).partial_fit(
            as_numbers, y
        )
    # an object column of Python numbers too, and the other way round:
    # strings where fit saw numbers as labels (a category of integers)
    for objects in (codes.astype(object), [*codes.astype(float)[:-1], None]):
        with pytest.raises(TypeError, match="held string labels in fit"):
            model.predict(X.assign(zip=pd.Series(objects, dtype=object)))
    numbers = X.assign(zip=pd.Categorical(codes))
    fitted = DeepFMClassifier(**FAST).fit(numbers, y)
    for strings in (pd.Categorical(codes.astype(str)), codes.astype(str)):
        with pytest.raises(TypeError, match="held numbers as labels in fit"):
            fitted.predict(numbers.assign(zip=strings))
    for cells in (["2", 2.0] * 150, ["2", Decimal("2")] * 150):  # 'mixed'
        with pytest.raises(TypeError, match="held string labels in fit"):
            model.predict(X.assign(zip=pd.Series(cells, dtype=object)))
    mixed = pd.Series([*codes[:-1], "A1"], dtype=object)  # ints and one string
    with pytest.raises(TypeError, match="holds string labels now, such as 'A1'"):
        fitted.predict(numbers.assign(zip=mixed))
    # a chunk in which the column holds no value at all is read as missing
    missing = X.assign(zip=np.nan)
    assert_array_equal(
        model.predict_proba(missing), model.predict_proba(X.assign(zip=None))
    )


def test_bytes_where_fit_saw_strings_and_strings_where_it_saw_booleans_are_refused():
    # a Parquet file written without its UTF-8 mark reads as bytes, and
    # 'True' is no boolean: each went to the unknown row without a word
    pl = pytest.importorskip("polars")
    rng = np.random.default_rng(0)
    flags = rng.integers(0, 2, 300).astype(bool)
    cities = np.array(["paris", "oslo"])[flags.astype(int)]
    y = flags.astype(int)
    X = pd.DataFrame({"city": cities, "flag": pd.Series(flags, dtype=object)})
    X.loc[0, "flag"] = None  # an object column of booleans, as pandas makes it
    model = DeepFMClassifier(**FAST).fit(X, y)
    as_bytes = X.assign(city=[city.encode() for city in cities])
    for other in (as_bytes, pl.from_pandas(as_bytes)):
        with pytest.raises(
            TypeError, match="held string labels in fit and holds bytes"
        ):
            model.predict(other)
    with pytest.raises(TypeError, match="held booleans in fit and holds labels"):
        model.predict(X.assign(flag=X["flag"].astype(str)))
    # a column of the bool type read as 0/1 codes: its error had said
    # "held integer codes"
    typed = DeepFMClassifier(**FAST).fit(X.assign(flag=flags), y)
    with pytest.raises(TypeError, match="held booleans in fit and holds labels"):
        typed.predict(X.assign(flag=flags.astype(str)))
    # as Python compares them, the numbers 0 and 1 are the booleans
    assert_array_equal(
        model.predict_proba(X.assign(flag=X["flag"].map({True: 1, False: 0}))),
        model.predict_proba(X),
    )
    # NumPy's bytes against its strings, either way
    codes = np.column_stack([cities])
    on_bytes = DeepFMClassifier(**FAST).fit(codes.astype("S"), y)
    with pytest.raises(TypeError, match="held bytes in fit and holds string labels"):
        on_bytes.predict(codes)
    with pytest.raises(TypeError, match="held string labels in fit and holds bytes"):
        DeepFMClassifier(**FAST).fit(codes, y).predict(codes.astype("S"))
    # in one column in fit, as scikit-learn's encoders refuse the mix: 4 and
    # '4' (pd.concat of two chunks) were two categories, b'red' and 'red' too
    for cells, kinds in [
        ([4, "4", "a"], "string labels and numbers"),
        ([b"red", "red"], "string labels and bytes"),
        ([True, "x"], "string labels and booleans"),
    ]:
        column = pd.Series(cells * 100, dtype=object)
        with pytest.raises(TypeError, match=f"holds {kinds}, such as"):
            DeepFMClassifier(**FAST).fit(pd.DataFrame({"c": column}), y[: len(column)])
    # NumPy's float32 NaN and Decimal's among strings are missing, not numbers
    for nan in (np.float32("nan"), Decimal("NaN")):
        column = pd.Series(["a", nan, "b"] * 100, dtype=object)
        fitted = DeepFMClassifier(**FAST).fit(pd.DataFrame({"c": column}), y)
        assert list(fitted.input_layout_.fields[0].categories) == ["a", "b"]
    # a stream whose first call held no value meets the mix in a later call:
    # refused before any field grows ('4' and 4 had been learnt)
    empty = pd.DataFrame({"c": pd.Series([None] * 300, dtype=object), "d": cities})
    stream = DeepFMClassifier(**FAST).partial_fit(empty, y, classes=[0, 1])
    mixed = empty.assign(c=pd.Series(["4", 4, "5"] * 100, dtype=object), d="rome")
    with pytest.raises(TypeError, match="holds string labels and numbers"):
        stream.partial_fit(mixed, y)
    assert list(stream.input_layout_.fields[1].categories) == ["oslo", "paris"]
    # bytes where fit saw strings, in lists too
    tags = pl.DataFrame({"tags": [["a", "b"], ["c"]] * 50})
    lists = DeepFMClassifier(**FAST).fit(tags, [0, 1] * 50)
    with pytest.raises(
        TypeError, match="held lists of string labels in fit and holds bytes"
    ):
        lists.predict(pl.DataFrame({"tags": [[b"a"]]}))


def _arrow_dictionaries(X, column):
    """``X`` with ``column`` as an Arrow dictionary of strings (none without
    pyarrow)."""
    try:
        import pyarrow as pa
    except ImportError:
        return []
    dictionary = pd.ArrowDtype(pa.dictionary(pa.int32(), pa.string()))
    return [X.assign(**{column: X[column].astype(str).astype(dictionary)})]


def test_strings_where_fit_saw_integers_name_the_column_and_both_kinds():
    X = pd.DataFrame({"code": [1, 2, 3] * 20, "amount": np.linspace(0, 1, 60)})
    y = np.array([0, 1, 1] * 20)
    model = DeepFMClassifier(**FAST).fit(X, y)
    # digits too: parsed, '01', '1.0' and '1' were all the code 1
    # a column with no value is missing whatever type a reader gave it
    # (polars types a CSV chunk's empty column String): it was refused
    missing = model.predict_proba(X.assign(code=np.nan))
    for empty in (
        pd.Series([None] * 60, dtype="string"),
        pd.Series([None] * 60, dtype="str"),
    ):
        assert_array_equal(model.predict_proba(X.assign(code=empty)), missing)
    # codes as a category whose unused categories include a string read as
    # the codes they are (refused as labels by the first rule of this test)
    other = pd.Categorical(X["code"], categories=[0, 1, 2, 3, "other"])
    assert_array_equal(
        model.predict_proba(X.assign(code=other)), model.predict_proba(X)
    )
    for digits in (
        X.astype({"code": str}),
        X.assign(code=pd.Series(["01", "1.0", "1"] * 20, dtype=object)),
        X.astype({"code": str}).to_numpy(),
        # a category (or an Arrow dictionary) of digits: pandas infers the
        # type 'categorical', and '02' was parsed as the code 2
        X.assign(code=pd.Categorical(["01", "1.0", "1"] * 20)),
        X.assign(code=X["code"].astype(str).astype("category")),
        *_arrow_dictionaries(X, "code"),
    ):
        with pytest.raises(
            TypeError, match="held integer codes in fit and holds labels"
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # (no names)
                model.predict(digits)
    for column, kind in (("code", "integer codes"), ("amount", "numbers")):
        changed = X.astype({column: object})
        changed.loc[0, column] = pd.NA  # missing: the example is the label
        changed.loc[1, column] = "three"
        with pytest.raises(
            TypeError,
            match=f"'{column}'\\) held {kind} in fit and holds labels now, such "
            "as 'three'",
        ):
            model.predict(changed)


def test_the_advice_for_digit_labels_read_as_floats_restores_fits_labels():
    # digit labels read with a NaN beside them are floats: astype(str), the
    # advice, wrote 1.0 as '1.0', a label fit never saw (silently unknown)
    rng = np.random.default_rng(0)
    jobs = rng.choice(["1", "2", "4", ">4", "never"], 600).astype(object)
    y = np.isin(jobs, ["1", "never"]).astype(int)
    X = pd.DataFrame({"last_job": jobs, "city": rng.choice(["a", "b"], 600)})
    model = DeepFMClassifier(**FAST).fit(X, y)
    request = X[X["last_job"].isin(["1", "2", "4"])][:20].copy()
    request.loc[request.index[0], "last_job"] = None
    floats = request.assign(last_job=request["last_job"].astype(float))
    with pytest.raises(TypeError, match=r"astype\('Int64'\)\.astype\('string'\)"):
        model.predict(floats)
    advised = floats.assign(
        last_job=floats["last_job"].astype("Int64").astype("string")
    )
    assert_array_equal(model.predict_proba(advised), model.predict_proba(request))
    # zero-padded labels, which no conversion of the numbers gives back: the
    # column read as text is advised, naming fit's label
    padded = DeepFMClassifier(**FAST).fit(
        X.assign(last_job=X["last_job"].replace({"1": "01", "2": "02"})), y
    )
    with pytest.raises(TypeError, match=r"fit's label for [124] is '0[12]'.*as text"):
        padded.predict(floats)
