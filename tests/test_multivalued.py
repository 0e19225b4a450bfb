"""Multi-valued fields: columns of lists (tags, genres), whatever the
container, read as one field pooled into one vector."""

import pickle
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MultiLabelBinarizer

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor, DeepFMWarning
from sklearn_deepfm.export import encode, to_torchscript

from .conftest import FAST

pd = pytest.importorskip("pandas")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens_100k"
TAGS = list("abcdefghijkl")
GENRES = ["drama", "comedy", "action", "horror", "romance"]


def make_tags(n_samples=1500, random_state=0):
    """Two list columns; the label depends on tags of both (an interaction)
    and on the number of tags."""
    rng = np.random.default_rng(random_state)
    tags = [
        sorted(rng.choice(TAGS, size=rng.integers(0, 5), replace=False))
        for _ in range(n_samples)
    ]
    genres = [
        sorted(rng.choice(GENRES, size=rng.integers(1, 3), replace=False))
        for _ in range(n_samples)
    ]
    signal = np.array(
        [
            ("a" in t) * 1.5 + ("drama" in g) * ("b" in t) * 2 - len(t) * 0.3
            for t, g in zip(tags, genres, strict=True)
        ]
    )
    y = (signal + rng.normal(scale=0.5, size=n_samples) > 0).astype(int)
    return tags, genres, y


def pandas_lists(tags, genres):
    return pd.DataFrame(
        {
            "tags": pd.Series(tags, dtype=object),
            "genres": pd.Series(genres, dtype=object),
        }
    )


def test_every_container_gives_the_same_model():
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    tags, genres, y = make_tags()
    tag_block = MultiLabelBinarizer(classes=TAGS).fit_transform(tags)
    genre_block = MultiLabelBinarizer(classes=sorted(GENRES)).fit_transform(genres)
    inputs = {
        "pandas lists": pandas_lists(tags, genres),
        "pandas tuples and arrays": pd.DataFrame(
            {
                "tags": pd.Series([tuple(t) for t in tags], dtype=object),
                "genres": pd.Series([np.array(g) for g in genres], dtype=object),
            }
        ),
        "polars": pl.DataFrame(
            {"tags": tags, "genres": genres},
            schema={"tags": pl.List(pl.String), "genres": pl.List(pl.String)},
        ),
        "pyarrow lists": pd.DataFrame(
            {
                name: pd.Series(lists, dtype=pd.ArrowDtype(pa.list_(pa.string())))
                for name, lists in (("tags", tags), ("genres", genres))
            }
        ),
        "CSR with fields=": sp.csr_matrix(np.hstack([tag_block, genre_block])),
        # NumPy failed on lists as cells ("inhomogeneous shape")
        "list of rows": [[t, g] for t, g in zip(tags, genres, strict=True)],
    }
    fields = [0] * len(TAGS) + [1] * len(GENRES)
    results = {}
    for name, X in inputs.items():
        extra = {"fields": fields} if sp.issparse(X) else {}
        model = DeepFMClassifier(**FAST, **extra).fit(X, y)
        layout = model.input_layout_
        results[name] = (
            [(f.kind, f.offset, f.n_embeddings) for f in layout.fields],
            model.predict_proba(X)[:, 1],
        )
    reference_layout, reference = results["pandas lists"]
    assert [kind for kind, _, _ in reference_layout] == ["multivalued"] * 2
    one_row = [[["a", "b"], ["drama"]]]  # (a third dimension to NumPy)
    cells = np.empty((1, 2), dtype=object)
    cells[0, 0], cells[0, 1] = one_row[0]
    assert_allclose(model.predict_proba(one_row), model.predict_proba(cells))
    for name, (layout, proba) in results.items():
        assert layout == reference_layout, name
        assert_allclose(proba, reference, atol=1e-6, err_msg=name)
    assert roc_auc_score(y, reference) > 0.8


def test_layout_shows_the_field_as_multivalued():
    tags, genres, y = make_tags(300)
    X = pandas_lists(tags, genres)
    model = DeepFMClassifier(pooling="mean", **FAST).fit(X, y)
    field = model.input_layout_.fields[0]
    assert field.kind == "multivalued" and field.pooling == "mean"
    assert list(field.categories) == TAGS
    assert field.n_embeddings == len(TAGS) + 2
    assert "multi-valued (mean of its values)" in str(model.input_layout_)
    assert model.n_fields_ == 2


def test_unseen_values_use_the_unknown_row_and_empty_lists_their_own():
    rng = np.random.default_rng(1)
    n = 2000
    tags = [
        [] if rng.random() < 0.3 else list(rng.choice(TAGS, size=2, replace=False))
        for _ in range(n)
    ]
    # an empty list is informative here: the model must learn it
    y = np.array([len(t) == 0 for t in tags]).astype(int)
    flip = rng.random(n) < 0.1
    y[flip] = 1 - y[flip]
    X = pd.DataFrame({"tags": pd.Series(tags, dtype=object)})
    model = DeepFMClassifier(pooling="mean", **FAST).fit(X, y)
    field = model.input_layout_.fields[0]
    new = pd.DataFrame(
        {"tags": pd.Series([[], ["zz"], None, ["a", "zz"], ["a"]], dtype=object)}
    )
    bags = model._encode(new).bags
    assert bags[0].indices.tolist() == [field.offset + 1]  # empty list
    assert bags[1].indices.tolist() == [field.offset]  # unseen: unknown row
    assert bags[2].indices.tolist() == [field.offset]  # missing cell
    a_row = field.first_value_row + TAGS.index("a")
    assert bags[3].indices.tolist() == [field.offset, a_row]
    assert_allclose(bags[3].data, [0.5, 0.5])  # the mean of two values
    proba = model.predict_proba(new)[:, 1]
    assert proba[0] > 0.7 and proba[4] < 0.3


def test_partial_fit_grows_the_vocabulary():
    first = pd.DataFrame(
        {"tags": pd.Series([["a"], ["b", "c"], []] * 20, dtype=object)}
    )
    second = pd.DataFrame(
        {"tags": pd.Series([["a", "new"], ["newer"], ["b"]] * 20, dtype=object)}
    )
    y = np.array([1, 0, 1] * 20)
    model = DeepFMClassifier(hidden_units=(8,), random_state=0)
    model.partial_fit(first, y, classes=[0, 1])
    before = model.decision_function(first)
    model.partial_fit(second, y)
    field = model.input_layout_.fields[0]
    assert list(field.categories) == ["a", "b", "c", "new", "newer"]
    assert model.net_.n_embeddings() == field.n_embeddings == 7
    new_row = field.first_value_row + 3
    assert new_row in model._encode(second).bags[0].indices
    # the rows learnt before moved with the growth: same model, one step on
    assert np.corrcoef(before, model.decision_function(first))[0, 1] > 0.5


@pytest.mark.parametrize("values", [["x", "y"], [7, 9]], ids=["labels", "codes"])
def test_a_field_that_held_no_value_yet_learns_its_first_values(values):
    # a stream's first batch may hold only empty or missing cells; the
    # values of a later batch decide whether they are labels or codes
    empty = pd.DataFrame({"tags": pd.Series([[], None] * 20, dtype=object)})
    y = np.array([0, 1] * 20)
    model = DeepFMClassifier(hidden_units=(8,), random_state=0)
    model.partial_fit(empty, y, classes=[0, 1])
    assert list(model.input_layout_.fields[0].categories) == []
    later = pd.DataFrame({"tags": pd.Series([values[:1], values] * 20, dtype=object)})
    assert np.isfinite(model.decision_function(later)).all()  # unknown for now
    model.partial_fit(later, y)
    assert list(model.input_layout_.fields[0].categories) == values
    assert model.net_.n_embeddings() == model.input_layout_.fields[0].n_embeddings
    # a fit on rows without values predicts a row with a value as unknown
    fitted = DeepFMClassifier(**FAST).fit(empty, y)
    one_value = later.iloc[::2]
    unknown = pd.DataFrame({"tags": pd.Series([None] * 20, dtype=object)})
    assert_allclose(
        fitted.decision_function(one_value), fitted.decision_function(unknown)
    )


@pytest.mark.parametrize("container", ["pandas", "polars"])
def test_a_column_of_no_value_becomes_multivalued_when_lists_come(container):
    # a stream's first batch held no tags (every cell None): the lists of the
    # next were refused as lists where fit had seen single labels
    tags, genres, y = make_tags(400)
    user = np.arange(400) % 7
    first = pd.DataFrame({"user": user, "tags": pd.Series([None] * 400, dtype=object)})
    later = pd.DataFrame({"user": user, "tags": pd.Series(tags, dtype=object)})
    if container == "polars":
        pl = pytest.importorskip("polars")
        first = pl.DataFrame({"user": user, "tags": [None] * 400})  # type Null
        later = pl.DataFrame({"user": user, "tags": tags})
    model = DeepFMClassifier(hidden_units=(8,), random_state=0)
    with pytest.warns(DeepFMWarning, match="holds no category"):
        model.partial_fit(first, y, classes=[0, 1])
    assert model.input_layout_.fields[1].kind == "categorical"
    for _ in range(4):
        model.partial_fit(later, y)
    field = model.input_layout_.fields[1]
    assert field.kind == "multivalued"
    assert sorted(field.categories) == sorted(set(TAGS) & set(np.concatenate(tags)))
    assert model.net_.n_embeddings() == model.input_layout_.n_embeddings
    # the tags are read (the label depends on them), one row as in a batch,
    # and the exports and a pickle agree
    assert roc_auc_score(y, model.predict_proba(later)[:, 1]) > 0.75
    expected = model.decision_function(later)
    assert_allclose(model.decision_function(later[:1]), expected[:1], rtol=1e-6)
    restored = pickle.loads(pickle.dumps(model))
    assert_allclose(restored.decision_function(later), expected)
    scripted = to_torchscript(model)
    assert_allclose(scripted(**encode(model, later)).numpy(), expected, atol=1e-5)


def test_lists_of_codes_at_predict_refuse_infinity_and_warn_of_fractions():
    # as a column of codes: both had gone to the unknown row without a word
    rng = np.random.default_rng(0)
    tags = [list(rng.integers(0, 5, rng.integers(1, 3))) for _ in range(300)]
    y = np.array([int(0 in t) for t in tags])
    model = DeepFMClassifier(**FAST).fit(
        pd.DataFrame({"t": pd.Series(tags, dtype=object)}), y
    )

    def cells(*values):
        return pd.DataFrame({"t": pd.Series([list(values)], dtype=object)})

    with pytest.raises(ValueError, match="infinity in column 0"):
        model.predict_proba(cells(1, np.inf))
    # the advice of a multi-valued column (a single column's, to read it as
    # a number, cannot apply)
    with pytest.warns(
        DeepFMWarning, match="such as 0.5, are not whole numbers.*lists of integer"
    ) as caught:
        fraction = model.decision_function(cells(1, 0.5))
    assert "categorical_features" not in str(caught[0].message)
    assert_allclose(fraction, model.decision_function(cells(1, 99)))  # unknown


def test_a_missing_value_inside_a_list_reads_as_unknown_for_codes_as_for_labels():
    rng = np.random.default_rng(0)
    codes = [list(rng.integers(0, 5, rng.integers(1, 3))) for _ in range(300)]
    y = rng.integers(0, 2, 300)
    labels = [[f"t{code}" for code in row] for row in codes]
    served = {}
    for kind, rows, probe in [
        ("labels", labels, ["t1", None]),
        ("codes", codes, [1, None]),
    ]:
        X = pd.DataFrame({"tags": pd.Series(rows, dtype=object)})
        model = DeepFMClassifier(**FAST, early_stopping=False).fit(X, y)
        probes = pd.DataFrame({"tags": pd.Series([probe, probe[:1]], dtype=object)})
        served[kind] = model.decision_function(probes)
    # the same model either way, and None is not the value beside it
    assert_allclose(served["codes"], served["labels"], rtol=1e-6)
    assert served["codes"][0] != served["codes"][1]
    # nothing but missing values in a batch, or pandas' NA among codes
    alone = pd.DataFrame({"tags": pd.Series([[None], [None, None]], dtype=object)})
    unknown = pd.DataFrame({"tags": pd.Series([[99], [98, 99]])})  # unseen codes
    assert_allclose(model.decision_function(alone), model.decision_function(unknown))
    with_na = pd.DataFrame({"tags": pd.Series([[1, pd.NA]], dtype=object)})
    assert_allclose(model.decision_function(with_na), served["codes"][:1])
    # a missing cell, as None, NaN or pandas' NA, anywhere in a batch
    cells = [None, np.nan, pd.NA]
    for position in (0, 2):
        batch = [[1]] * 3
        batch[position] = cells[position]
        found = model.decision_function(pd.DataFrame({"tags": batch}))
        for cell in cells:
            batch[position] = cell
            same = model.decision_function(pd.DataFrame({"tags": batch}))
            assert_allclose(same, found)


def test_lists_of_decimals_are_numbers_as_a_column_of_decimals_is():
    # pandas reads a Parquet decimal list as lists of Decimal objects; they
    # were labels, and the model then failed on the same values as integers
    rng = np.random.default_rng(0)
    codes = [list(rng.integers(0, 5, rng.integers(1, 3))) for _ in range(300)]
    y = rng.integers(0, 2, 300)
    decimals = [[Decimal(int(code)) for code in row] for row in codes]
    served = {}
    for kind, rows in [("codes", codes), ("decimals", decimals)]:
        X = pd.DataFrame({"tags": pd.Series(rows, dtype=object)})
        model = DeepFMClassifier(**FAST, early_stopping=False).fit(X, y)
        assert model.input_layout_.fields[0].categories.dtype.kind == "f"
        served[kind] = model.decision_function(X)
        assert_allclose(
            model.decision_function(pd.DataFrame({"tags": codes})), served[kind]
        )
    assert_allclose(served["decimals"], served["codes"])
    with pytest.raises(ValueError, match="1.5 is not a whole number"):
        model.fit(pd.DataFrame({"tags": [[Decimal("1.5")]] * 300}), y)


def test_a_polars_chunk_of_empty_cells_reads_as_missing():
    # polars types a column of nothing but nulls as Null, not as a list:
    # predict and partial_fit raised polars' own error
    pl = pytest.importorskip("polars")
    tags, genres, y = make_tags(300)
    model = DeepFMClassifier(**FAST).fit(
        pl.DataFrame({"tags": tags, "genres": genres}), y
    )
    chunk = pl.DataFrame({"tags": [None, None], "genres": [["drama"], ["comedy"]]})
    assert chunk.schema["tags"] == pl.Null
    missing = pandas_lists([None, None], [["drama"], ["comedy"]])
    assert_allclose(model.predict_proba(chunk), model.predict_proba(missing))
    model.partial_fit(chunk, [0, 1])
    assert_allclose(model.predict_proba(chunk), model.predict_proba(missing))
    # a column of nulls of another type (pl.from_pandas types [None] as
    # String) is missing too; single values are refused with advice
    for typed in (pl.String, pl.Int64):
        nulls = chunk.with_columns(pl.col("tags").cast(typed))
        assert_allclose(model.predict_proba(nulls), model.predict_proba(missing))
    single = chunk.with_columns(tags=pl.Series(["a", None]))
    with pytest.raises(TypeError, match="wrap single values in a list"):
        model.predict(single)


def test_lists_of_numbers_where_fit_saw_lists_of_string_labels_are_refused():
    # as a column of single labels: '1' and 1 were learnt as two values
    rng = np.random.default_rng(0)
    codes = [list(rng.integers(0, 5, rng.integers(1, 3))) for _ in range(200)]
    y = rng.integers(0, 2, 200)
    as_labels = pd.DataFrame({"tags": [[str(code) for code in row] for row in codes]})
    model = DeepFMClassifier(**FAST).partial_fit(as_labels, y, classes=[0, 1])
    with pytest.raises(TypeError, match="held lists of string labels in fit"):
        model.partial_fit(pd.DataFrame({"tags": codes}), y)
    # a number among strings, in one list or in another row, is refused too:
    # it went to the unknown row, and partial_fit learnt 4 beside '4'
    for mixed in ([["0", 4]], [[4], ["0"]]):
        with pytest.raises(TypeError, match="holds numbers among its values"):
            model.predict(pd.DataFrame({"tags": mixed}))
        with pytest.raises(TypeError, match="holds numbers among its values"):
            model.partial_fit(pd.DataFrame({"tags": mixed}), [0] * len(mixed))
    assert "4" in model.input_layout_.fields[0].categories
    assert 4 not in list(model.input_layout_.fields[0].categories)
    # missing values only are no numbers
    model.predict(pd.DataFrame({"tags": [[None], [np.nan]]}))
    model.predict(pd.DataFrame({"tags": [["0", None], [np.nan]]}))


def test_pickled_model_predicts_the_same():
    tags, genres, y = make_tags(400)
    X = pandas_lists(tags, genres)
    model = DeepFMRegressor(**FAST).fit(X, y.astype(float))
    loaded = pickle.loads(pickle.dumps(model))
    assert_array_equal(loaded.predict(X), model.predict(X))


def test_grid_search_over_pooling_in_a_pipeline():
    tags, genres, y = make_tags(600)
    X = pandas_lists(tags, genres)
    pipeline = make_pipeline(
        FunctionTransformer(lambda frame: frame[["tags", "genres"]]),
        DeepFMClassifier(**FAST),
    )
    search = GridSearchCV(
        pipeline, {"deepfmclassifier__pooling": ["mean", "sum"]}, cv=2
    ).fit(X, y)
    assert search.best_params_["deepfmclassifier__pooling"] in ("mean", "sum")
    assert search.predict_proba(X).shape == (600, 2)


def test_field_vectors_are_pooled_before_the_fm():
    """The FM pairs pooled field vectors (the paper's and DeepCTR's
    semantics): values of one field do not interact with each other."""
    tags, genres, y = make_tags(300)
    X = pandas_lists(tags, genres).assign(user=np.arange(300) % 7)
    model = DeepFMClassifier(**FAST, early_stopping=False).fit(X, y)
    module = model.net_.export_module()
    inputs = encode(model, X)
    first, fields = module.field_vectors(**inputs)
    assert fields.shape == (300, 3, model.embedding_dim)
    # the slot field (user, field 2) sits after the two bag fields
    user = model.input_layout_.fields[2]
    assert_allclose(
        fields[:, 2].numpy(),
        module.embedding.weight[inputs["indices"][:, 0].long()].numpy(),
    )
    pairs = sum(
        (fields[:, f] * fields[:, g]).sum(dim=1)
        for f in range(3)
        for g in range(f + 1, 3)
    )
    with torch.no_grad():
        expected = (
            module.linear.bias
            + first.sum(dim=(1, 2))
            + pairs
            + module.mlp(fields.flatten(1)).squeeze(1)
        )
        assert_allclose(module(**inputs).numpy(), expected.numpy(), atol=1e-5)
    assert user.kind == "categorical"


def test_torchscript_export_and_onnx_error_name_the_field():
    tags, genres, y = make_tags(300)
    # a single-valued field after the bags: the field vectors are reordered
    X = pandas_lists(tags, genres).assign(user=np.arange(300) % 7)
    model = DeepFMClassifier(**FAST).fit(X, y)
    scripted = to_torchscript(model)
    assert_allclose(
        scripted(**encode(model, X)).numpy(), model.decision_function(X), atol=1e-5
    )
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx

    import sklearn_deepfm.onnx  # noqa: F401

    with pytest.raises(RuntimeError, match="multi-valued field .*'tags'"):
        to_onnx(model, X[:1], options={"zipmap": False})


def test_columns_that_cannot_be_read_say_why():
    mixed = pd.DataFrame({"tags": pd.Series([["a"], "b", ["c"]] * 5, dtype=object)})
    with pytest.raises(TypeError, match="column 0 \\('tags'\\) holds lists"):
        DeepFMClassifier(**FAST).fit(mixed, [0, 1, 1] * 5)
    labels = pd.DataFrame({"tag": pd.Series(["a", "b", "c"] * 5, dtype=object)})
    labels_model = DeepFMClassifier(**FAST).fit(labels, [0, 1, 1] * 5)
    lists = pd.DataFrame({"tag": pd.Series([["a"], ["b"]], dtype=object)})
    with pytest.raises(TypeError, match="'tag'.*held single labels.*lists"):
        labels_model.predict(lists)
    codes = pd.DataFrame({"tags": pd.Series([[1, 2], [3]] * 10, dtype=object)})
    model = DeepFMClassifier(**FAST).fit(codes, [0, 1] * 10)
    words = pd.DataFrame({"tags": pd.Series([["x"], ["y"]], dtype=object)})
    with pytest.raises(TypeError, match="integer codes in fit and holds lists of"):
        model.predict(words)
    # a list in any cell of a column of single labels, among few rows or many
    for n_rows in (2, 40):
        cells = pd.Series(["a"] * (n_rows - 1) + [["a", "b"]], dtype=object)
        # the column named, and fit's kind advised (wrapping every cell in
        # a list, the advice before, was refused by the same model)
        with pytest.raises(
            TypeError, match="'tag'\\) holds a value of type list .*one per cell"
        ):
            labels_model.predict(pd.DataFrame({"tag": cells}))
    # records (pd.read_json of nested objects): the records advice in fit;
    # at predict, fit's kind (new columns would be refused)
    records = pd.Series([{"size": "s"}] * 15, dtype=object)
    with pytest.raises(TypeError, match="type dict .*json_normalize"):
        DeepFMClassifier(**FAST).fit(labels.assign(company=records), [0, 1, 1] * 5)
    with pytest.raises(TypeError, match="type dict .*one per cell"):
        labels_model.predict(pd.DataFrame({"tag": records}))
    # lists in the lists (NumPy's "inhomogeneous shape", or advice about
    # single labels), and codes that are not whole (advice about
    # categorical_features, which cannot apply to a list column)
    for nested in ([["a", ["x"]], ["b"]], [[["a", "b"]], [["c", "d"]]]):
        cells = pd.DataFrame({"tags": pd.Series(nested * 5, dtype=object)})
        with pytest.raises(TypeError, match="'tags'\\) holds lists inside its lists"):
            DeepFMClassifier(**FAST).fit(cells, [0, 1] * 5)
    halves = pd.DataFrame({"tags": pd.Series([[1.5], [2.0]] * 5, dtype=object)})
    with pytest.raises(ValueError, match="lists of numbers.*1.5 is not a whole"):
        DeepFMClassifier(**FAST).fit(halves, [0, 1] * 5)
    # sets: refused (a frozenset was one label per combination), in fit and
    # in a column of lists at predict
    for kind in (set, frozenset):
        cells = pd.Series([kind("ab"), kind("c")] * 10, dtype=object)
        with pytest.raises(
            TypeError, match="'tags'\\) holds sets.*map\\(sorted, na_action='ignore'\\)"
        ):
            DeepFMClassifier(**FAST).fit(pd.DataFrame({"tags": cells}), [0, 1] * 10)
    lists = pd.DataFrame({"tags": pd.Series([["a"], ["b", "c"]] * 10, dtype=object)})
    lists_model = DeepFMClassifier(**FAST).fit(lists, [0, 1] * 10)
    with pytest.raises(TypeError, match="holds a set .* in row 1"):
        lists_model.predict(pd.DataFrame({"tags": [["a"], {"b"}]}))


def test_sparse_fields_with_several_columns_set_are_pooled():
    """A sparse field declared with ``fields`` that is not 0/1 is not
    multi-valued, but its columns are pooled too (weighted by their
    values) before the FM pairs it with other fields."""
    rng = np.random.default_rng(0)
    X = sp.random(300, 6, density=0.5, random_state=0, format="csr") * 3
    y = rng.integers(0, 2, 300)
    model = DeepFMClassifier(fields=[0, 0, 0, 1, 1, 1], **FAST).fit(X, y)
    assert [f.kind for f in model.input_layout_.fields] == ["sparse", "sparse"]
    module = model.net_.export_module()
    inputs = encode(model, X)
    first, fields = module.field_vectors(**inputs)
    dense = torch.as_tensor(X.toarray(), dtype=torch.float32)
    table = module.embedding.weight
    assert_allclose(fields[:, 0].numpy(), (dense[:, :3] @ table[:3]).numpy(), atol=1e-6)
    assert_allclose(fields[:, 1].numpy(), (dense[:, 3:] @ table[3:]).numpy(), atol=1e-6)


def test_a_stream_that_starts_with_one_tag_a_row_says_the_field_is_not_pooled():
    # the first call fixes a declared 0/1 block as one value per row when no
    # row sets two columns; later rows with several tags were summed silently
    tags, genres, y = make_tags(600)
    first = [row[:1] for row in tags[:300]]
    binarizer = MultiLabelBinarizer(classes=TAGS, sparse_output=True)
    X = binarizer.fit_transform(first + tags[300:]).tocsr()
    model = DeepFMClassifier(fields=[0] * len(TAGS), pooling="mean", **FAST)
    model.partial_fit(X[:300], y[:300], classes=[0, 1])
    assert model.input_layout_.fields[0].kind == "sparse"
    with pytest.warns(UserWarning, match="first call of partial_fit read as one") as w:
        model.partial_fit(X[300:], y[300:])
    assert w[0].filename == __file__  # the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.partial_fit(X[:300], y[:300])  # one tag a row: nothing to say
        # a stream that began with several tags a row is multi-valued
        pooled = DeepFMClassifier(fields=[0] * len(TAGS), **FAST)
        pooled.partial_fit(X[300:], y[300:], classes=[0, 1])
        pooled.partial_fit(X[300:], y[300:])
    assert pooled.input_layout_.fields[0].kind == "multivalued"


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/movielens_100k absent")
def test_movielens_genres_as_one_field():
    ratings = pd.read_csv(
        DATA / "u.data", sep="\t", names=["user", "item", "rating", "time"]
    )
    items = pd.read_csv(DATA / "u.item", sep="|", header=None, encoding="latin-1")
    names = pd.read_csv(DATA / "u.genre", sep="|", header=None)[0].tolist()
    flags = items.iloc[:, 5:24].to_numpy().astype(bool)
    genres = pd.Series(
        [[n for n, f in zip(names, row, strict=True) if f] for row in flags],
        index=items[0],
    )
    rows = ratings.sample(20_000, random_state=0)
    X = pd.DataFrame(
        {
            "user": rows["user"].to_numpy(),
            "item": rows["item"].to_numpy(),
            "genres": pd.Series(genres.loc[rows["item"]].to_list(), dtype=object),
        }
    )
    y = (rows["rating"].to_numpy() >= 4).astype(int)
    model = DeepFMClassifier(hidden_units=(32,), max_epochs=3, random_state=0)
    model.fit(X[:15_000], y[:15_000])
    field = model.input_layout_.fields[2]
    assert field.kind == "multivalued" and len(field.categories) == 19
    auc = roc_auc_score(y[15_000:], model.predict_proba(X[15_000:])[:, 1])
    assert auc > 0.7
