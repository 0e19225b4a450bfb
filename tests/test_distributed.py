"""Many processes: data-parallel ``fit`` with ``distributed=True`` on a real
two-process gloo group (CPU), the first-order solver it uses, and searches on
loky, Dask and Ray workers."""

import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from joblib import parallel_backend
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import log_loss, r2_score, roc_auc_score
from sklearn.model_selection import GridSearchCV

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor
from sklearn_deepfm._batching import EncodedDataset, RegularRows, StepBatchIterator
from sklearn_deepfm._encoding import FeatureEncoder
from sklearn_deepfm._fields import infer_sparse_fields
from sklearn_deepfm._linear import design_matrix, fit_linear
from sklearn_deepfm._linear_lbfgs import fit_linear_shared
from sklearn_deepfm._model import DeepFM

from . import _distributed_worker as worker
from .conftest import FAST, make_categorical

pytestmark = pytest.mark.skipif(
    not dist.is_available(), reason="torch.distributed is not available"
)

WORKER = Path(worker.__file__)
TIMEOUT = 120  # seconds for the whole two-process run


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_ranks(out, scenario="all", timeout=TIMEOUT):
    """What both ranks of a two-process run of the worker's ``scenario``
    pickled into ``out``, after checking that both exited cleanly within
    ``timeout`` seconds (a rank that fails alone leaves the other waiting)."""
    if not dist.is_gloo_available():
        pytest.skip("torch.distributed has no gloo backend")
    port = str(_free_port())
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(WORKER.parents[1]), *filter(None, [env.get("PYTHONPATH")])]
    )
    ranks = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(rank), "2", port, str(out), scenario],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for rank in range(2)
    ]
    try:
        logs = [rank.communicate(timeout=timeout)[0].decode() for rank in ranks]
    finally:
        for rank in ranks:
            rank.kill()
    codes = [rank.returncode for rank in ranks]
    assert codes == [0, 0], "\n".join(logs)
    return [pickle.loads((out / f"rank{r}.pkl").read_bytes()) for r in range(2)]


def _assert_same_parameters(first, second):
    assert first.keys() == second.keys()
    for key in first:
        assert_array_equal(first[key], second[key], err_msg=key)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """What both ranks of one two-process run (unequal shards) fitted."""
    return _run_ranks(tmp_path_factory.mktemp("ranks"))


# The scaling guide's train.py, on fewer rows and epochs.
GUIDE_SCRIPT = """
import joblib
import numpy as np
import torch.distributed as dist
from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import make_ctr_classification

dist.init_process_group("gloo")
rank, world_size = dist.get_rank(), dist.get_world_size()
X, y = make_ctr_classification(n_samples=1_000, n_fields=4, random_state=0)
rows = np.array_split(np.arange(len(y)), world_size)[rank]
model = DeepFMClassifier(
    distributed=True, n_jobs=1, random_state=0, hidden_units=(32,), max_epochs=3
)
model.fit(X[rows], y[rows])
if rank == 0:
    joblib.dump(model, "deepfm.joblib")
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_every_process_of_a_torchrun_job_exits_cleanly(tmp_path):
    """Back to back, both processes of the guide's script exit with code 0,
    with nothing of fit's still pending when the interpreter shuts down."""
    if not dist.is_gloo_available():
        pytest.skip("torch.distributed has no gloo backend")
    script = tmp_path / "train.py"
    script.write_text(GUIDE_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(WORKER.parents[1]), *filter(None, [env.get("PYTHONPATH")])]
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(script),
    ]
    for _ in range(5):
        run = subprocess.run(
            command,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "deepfm.joblib").exists()


@pytest.fixture(scope="module")
def one_process():
    """The same estimators fitted by one process on the union of the shards."""
    X, y, target = worker.make_data()
    return {
        "classifier": DeepFMClassifier(**worker.SETTINGS).fit(X, y),
        "regressor": DeepFMRegressor(**worker.SETTINGS).fit(X, target),
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "classifier",
        "regressor",
        "multiclass",
        "sparse",
        "stream",
        "tiny shard",
        "lists",
        "multi-hot",
        "many-valued",
    ],
)
def test_every_rank_ends_with_the_same_parameters(two_processes, name):
    first, second = (rank[name]["parameters"] for rank in two_processes)
    _assert_same_parameters(first, second)


@pytest.mark.slow
def test_a_tiny_shard_takes_empty_steps_with_bags(tmp_path):
    """3 rows beside 300 in 5 steps: the small shard's empty steps pool a
    column of lists (summed, averaged) and a sparse field of several columns
    to no rows, and both ranks train (an empty batch pooled to no field,
    and its process failed on the deep part's shapes while the other
    waited)."""
    ranks = _run_ranks(tmp_path, "empty steps", timeout=90)
    for name in ("lists, partial_fit", "lists, mean, fit", "multi-hot, fit"):
        first, second = (rank[name]["parameters"] for rank in ranks)
        _assert_same_parameters(first, second)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("bag_fields", [(0, 1), ()], ids=["lists first", "all bags"])
def test_an_empty_step_goes_through_the_module(bag_fields, sparse):
    """A step of no rows (a tiny shard's, in distributed training) gives
    no outputs and zero gradients, bags, crosses and batch norm included;
    with bags, it pooled to no field and the concatenation fell short."""
    module = DeepFM(
        20,
        3,
        embedding_dim=4,
        hidden_units=(8,),
        batch_norm=True,
        sparse=sparse,
        bag_fields=bag_fields,
    )
    module.crosses.set([[0, 2]], [5], [[0.5]])
    n_slots = 3 - len(bag_fields) if bag_fields else 0
    nothing = torch.zeros(0, dtype=torch.long)
    output = module(torch.zeros((0, n_slots), dtype=torch.long), None, nothing, nothing)
    output.sum().backward()
    assert output.shape == (0,)
    for parameter in module.parameters():
        if parameter.grad is not None:
            assert parameter.grad.to_dense().abs().sum() == 0


@pytest.mark.parametrize(
    "min_rows, batches, scale",
    [(1, [1, 1, 1, 0, 0], 2 / 61), (2, [3, 0, 0, 0, 0], 2 / 63)],
)
def test_the_batches_of_a_tiny_shard(min_rows, batches, scale):
    """3 rows beside 300 in steps of 64 rows: 5 steps on every process;
    with batch norm (``min_rows=2``) one batch of 3 rows rather than three
    of 1, and each row's share of its step's mean loss follows."""
    rows = RegularRows(np.zeros((3, 2), dtype=np.int64))
    dataset = EncodedDataset(rows, np.zeros(3, np.float32), np.ones(3, np.float32))
    iterator = StepBatchIterator(
        dataset, [300, 3], 64, np.random.default_rng(0), min_rows=min_rows
    )
    steps = list(iterator)
    assert [len(y) for _, y in steps] == batches
    assert_allclose(steps[0][0]["step_scale"], scale, rtol=1e-6)


@pytest.mark.slow
def test_batch_norm_on_a_tiny_shard(tmp_path):
    """With batch_norm=True, a shard of 3 or 5 rows fills fewer steps of 2
    rows or more instead of steps of 1 row (on which batch norm cannot
    train: that process raised while the other waited), and a shard of 1
    row is an error that names the shards, the same on both ranks."""
    ranks = _run_ranks(tmp_path, "batch norm", timeout=90)
    for name in ("partial_fit", "fit"):
        _assert_same_parameters(*(rank[name] for rank in ranks))
    first, second = (rank["one row"] for rank in ranks)
    assert first == second
    assert "[300, 1]" in first and "batch_norm=False" in first


@pytest.mark.slow
def test_a_multi_valued_column_without_values_on_one_shard(tmp_path):
    """Rank 1's tag cells are all empty or missing: its column read as
    integer codes beside rank 0's labels, and the fit refused to start."""
    pytest.importorskip("pyarrow")  # (the worker's Arrow list column)
    first, second = _run_ranks(tmp_path, "no values on one shard", timeout=90)
    assert first["tags"] == second["tags"] == ["news", "sport", "tech"]
    _assert_same_parameters(first["parameters"], second["parameters"])
    assert first["empty kind"] == second["empty kind"] == "multivalued"
    _assert_same_parameters(first["stream"], second["stream"])


def test_a_column_blank_on_one_shard_takes_the_others_labels(tmp_path):
    first, second = _run_ranks(tmp_path, "blank on one shard", timeout=90)
    for rank in (first, second):
        assert rank["categories"] == rank["stream categories"] == ["a", "b"]
        assert "same type on every process" in rank["mixed"]
    _assert_same_parameters(first["parameters"], second["parameters"])


def test_what_one_process_gives_otherwise_is_read_or_refused_on_both(tmp_path):
    first, second = _run_ranks(tmp_path, "mismatches", timeout=90)
    for rank in (first, second):
        # a column of lists that held no value on one process: refused before
        assert rank["kind"] == "multivalued"
        assert "class labels are [[0, 1], ['no', 'yes']]" in rank["labels"]
        assert "partial_fit's classes differ" in rank["classes"]
        assert "different ['max_epochs']" in rank["max_epochs"]
    _assert_same_parameters(first["parameters"], second["parameters"])
    # the settings' check reads a class pickle cannot reach by its name
    _assert_same_parameters(first["local optimizer"], second["local optimizer"])
    # one decision of 'auto' precision: float32 where a process lacks bfloat16
    assert first["auto precision"] is second["auto precision"] is False
    # nothing keeps the process group past destroy_process_group()
    assert first["group kept"] is second["group kept"] is False


def test_callbacks_on_one_process_and_columns_in_another_order(tmp_path):
    first, second = _run_ranks(tmp_path, "local callbacks", timeout=120)
    for rank in (first, second):
        assert rank["interactions kept"] is True
        assert rank["retrained"] is None  # (callbacks on a process: none)
        assert "not in the same order" in rank["columns"]
    _assert_same_parameters(first["watched"], second["watched"])
    _assert_same_parameters(first["clipped"], second["clipped"])


def test_sample_weights_weigh_as_in_one_fit_on_all_rows(tmp_path):
    """Only the ratios of the weights matter, over every process's rows; a
    process whose rows all weigh 0 fits with the others (it failed alone);
    a later partial_fit call whose rows all weigh 0 takes no step."""
    first, second = _run_ranks(tmp_path, "weights", timeout=90)
    for name in ("huge", "ratio", "zero"):
        assert_allclose(first[name], second[name])
    assert_allclose(first["huge"], first["ratio"], rtol=1e-6)
    assert first["weightless call"] == second["weightless call"] == 0.0
    # a class weight for a class one process lacks
    assert_allclose(first["class weight"], second["class weight"])
    assert_allclose(first["class weight"], first["per row"])


@pytest.mark.slow
def test_the_recipe_decides_as_one_fit_on_all_rows(tmp_path):
    """The quantity test's held-out rows were drawn on each process's own
    rows (on these four tables one fit read 'age' otherwise on two), and
    the linear solves' row cap applied to each process's rows."""
    first, second = _run_ranks(tmp_path, "as one fit", timeout=90)
    assert first["distributed"] == second["distributed"] == first["one fit"]
    assert set(first["one fit"]) == {1, 2}  # both readings occur
    # each process kept 200,000 rows for the linear solves, and the crosses'
    # budget counted them all: with two processes the crosses were not tried
    assert first["crosses tried"] == second["crosses tried"]
    assert first["crosses tried"] == first["crosses tried, one fit"] is True


@pytest.mark.slow
def test_the_output_bias_starts_at_the_prior_of_every_process_rows(tmp_path):
    """Shards of 5% and 50% positives: the bias started at process 0's prior
    (then shared), not that of all rows."""
    ranks = _run_ranks(tmp_path, "class prior", timeout=90)
    positives = sum(rank["positives"] for rank in ranks)
    # partial_fit counts one more row of each class
    priors = {"fit": positives / 800, "partial_fit": (positives + 1) / 802}
    for name, prior in priors.items():
        for rank in ranks:
            assert rank[name] == pytest.approx(np.log(prior / (1 - prior)), abs=1e-5)


@pytest.mark.slow
def test_classes_and_sparse_fields_are_those_of_all_rows(two_processes):
    X, _, _ = worker.make_data()
    expected_fields = infer_sparse_fields(
        worker.one_hot().transform(X[worker.CATEGORIES]).tocsr()
    )
    for rank in two_processes:
        assert_array_equal(rank["multiclass"]["classes"], [0, 1, 2])
        assert_array_equal(rank["sparse"]["fields"], expected_fields)


@pytest.mark.slow
def test_every_rank_takes_the_same_decisions(two_processes):
    first, second = (rank["classifier"] for rank in two_processes)
    assert first["history"] == second["history"]  # losses, best epoch
    for decision in ("C", "kept", "crosses", "retrained"):
        assert first[decision] == second[decision], decision
    # the kept interactions trained again on every row, on both ranks
    assert first["kept"] and first["retrained"] == first["history"][-1][1]


@pytest.mark.slow
def test_quality_matches_one_process_on_all_rows(two_processes, one_process):
    X_test, y_test, target_test = worker.make_data(4000, seed=1)
    # saved on rank 0, loaded here, a process without a process group
    classifier = pickle.loads(two_processes[0]["classifier"]["pickle"])
    auc = roc_auc_score(y_test, classifier.predict_proba(X_test)[:, 1])
    single = one_process["classifier"].predict_proba(X_test)[:, 1]
    assert abs(auc - roc_auc_score(y_test, single)) < 0.005
    regressor = pickle.loads(two_processes[0]["regressor"]["pickle"])
    r2 = r2_score(target_test, regressor.predict(X_test))
    single = one_process["regressor"].predict(X_test)
    assert abs(r2 - r2_score(target_test, single)) < 0.005
    assert_allclose(
        two_processes[0]["regressor"]["scale"],
        (one_process["regressor"]._y_mean, one_process["regressor"]._y_scale),
        rtol=1e-12,
    )


@pytest.mark.slow
def test_vocabulary_is_that_of_one_process_on_all_rows(two_processes, one_process):
    expected = one_process["classifier"].input_layout_
    for rank in two_processes:
        layout = rank["classifier"]["layout"]
        assert layout.n_embeddings == expected.n_embeddings
        for field, single in zip(layout.fields, expected.fields, strict=True):
            assert (field.kind, field.offset) == (single.kind, single.offset)
            if single.categories is not None:
                assert_array_equal(field.categories, single.categories)
            else:
                assert_allclose([field.mean, field.scale], [single.mean, single.scale])


def _assert_scaled_on_all_rows(field, values):
    """The mean and scale of every row, not of the process's shard."""
    assert_allclose(
        [field.mean, field.scale], [values.mean(), values.std(ddof=0)], rtol=1e-10
    )


@pytest.mark.slow
def test_a_quantity_is_decided_and_scaled_on_all_rows(two_processes):
    X, _, _ = worker.make_data()
    aged, _ = worker.with_age(X)
    for rank in two_processes:
        fields = rank["quantity"]["layout"].fields
        numbers = [field for field in fields if field.number_of is not None]
        assert [field.names[0] for field in numbers] == ["age"]
        _assert_scaled_on_all_rows(numbers[0], aged["age"])


@pytest.mark.slow
def test_a_value_per_row_is_read_as_a_number_scaled_on_all_rows(two_processes):
    X, _, _ = worker.make_data()
    weighted, _ = worker.with_weight(X)
    for rank in two_processes:
        fields = rank["many-valued"]["layout"].fields
        (weight,) = [field for field in fields if field.names == ("weight",)]
        assert weight.kind == "numeric"
        _assert_scaled_on_all_rows(weight, weighted["weight"])


@pytest.mark.slow
def test_a_category_seen_only_on_rank_1_is_known_to_rank_0(two_processes):
    site = two_processes[0]["classifier"]["layout"].fields[0]
    assert "only_on_1" in site.categories
    model = pickle.loads(two_processes[0]["classifier"]["pickle"])
    X, _, _ = worker.make_data(2)
    X["site"] = ["only_on_1", "never_seen"]
    rows = model._encoder.transform(X, model.feature_names_in_).indices[:, 0]
    assert rows[0] != site.offset and rows[1] == site.offset  # own row, unknown row
    # partial_fit: a category first seen on rank 1 in a later call grows
    # the tables of both ranks
    for rank in two_processes:
        assert "late" in rank["stream"]["layout"].fields[0].categories


def test_multivalued_fields_are_those_of_all_rows(two_processes):
    for rank in two_processes:
        tags = rank["lists"]["layout"].fields[0]
        assert tags.kind == "multivalued"
        assert {"only_on_1", "late", "s0", "a1"} <= set(tags.categories)
        # several columns set on rank 1 only: multi-valued on both ranks
        assert rank["multi-hot"]["layout"].fields[0].kind == "multivalued"


@pytest.mark.slow
def test_ranks_reading_a_column_differently_both_raise(two_processes):
    for rank in two_processes:
        assert "categorical_features" in rank["disagreement"]
        assert "column 2 ('device')" in rank["disagreement"]


def test_distributed_needs_a_process_group():
    if dist.is_initialized():
        pytest.skip("a process group is initialised in this process")
    X, y = make_categorical(n_samples=100)
    with pytest.raises(ValueError, match="init_process_group"):
        DeepFMClassifier(distributed=True, **FAST).fit(X, y)


def test_a_group_of_one_process_changes_nothing(tmp_path):
    if dist.is_initialized() or not dist.is_gloo_available():
        pytest.skip("needs gloo and no process group in this process")
    X, y = make_categorical(n_samples=1200)
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        alone = DeepFMClassifier(**FAST).fit(X, y)
        shared = DeepFMClassifier(distributed=True, **FAST).fit(X, y)
        assert_array_equal(shared.predict_proba(X), alone.predict_proba(X))
        explanation = shared.explain(X[:50])
        assert_array_equal(explanation.values, alone.explain(X[:50]).values)
        total = explanation.base_values + explanation.values.sum(axis=1)
        assert_allclose(total, shared.decision_function(X[:50]), atol=1e-5)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_shared_linear_solver_is_scikit_learns_model(task):
    """With one process the summed objective is the whole one: the solution
    and the chosen C are scikit-learn's (LogisticRegression, Ridge)."""
    X, y, target = worker.make_data(3000, seed=2)
    encoder = FeatureEncoder().fit(X)
    A = design_matrix(encoder.transform(X), encoder.n_embeddings_)
    weight = np.random.default_rng(0).uniform(0.5, 1.5, len(y)).astype(np.float32)
    targets = {
        "binary": y.astype(np.float32),
        "multiclass": X["app"].to_numpy() % 3,
        "regression": ((target - target.mean()) / target.std()).astype(np.float32),
    }[task]
    train = (A[:2400], targets[:2400], weight[:2400])
    valid = (A[2400:], targets[2400:], weight[2400:])

    def one_process_sum(*values):
        return [np.asarray(value, dtype=np.float64) for value in values]

    n_outputs = 3 if task == "multiclass" else 1
    expected = fit_linear(task, train, valid, random_state=0)
    found = fit_linear_shared(task, n_outputs, train, valid, None, one_process_sum)
    assert found[2] == expected[2]  # C
    if task == "regression":
        assert_allclose(found[0], expected[0], atol=1e-4)
        assert_allclose(found[1], expected[1], atol=1e-4)
    else:
        # two solvers (newton-cg, L-BFGS) in a flat valley (one field's
        # one-hot columns sum to the intercept's): the same optimum, not the
        # same coefficients
        C = expected[2]
        assert_allclose(
            _penalised_log_loss(train, *found[:2], C),
            _penalised_log_loss(train, *expected[:2], C),
            atol=1e-6,
        )
    assert_allclose(found[3].mean(), expected[3].mean(), atol=1e-4)


def _penalised_log_loss(rows, coef, intercept, C):
    """LogisticRegression's objective divided by the summed sample weight."""
    A, y, weight = rows
    scores = A @ coef.astype(np.float64) + intercept
    if scores.shape[1] == 1:
        proba = 1 / (1 + np.exp(-scores[:, 0]))
        proba = np.column_stack([1 - proba, proba])
    else:
        proba = np.exp(scores - scores.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
    penalty = 0.5 * np.sum(coef.astype(np.float64) ** 2) / (C * weight.sum())
    labels = np.arange(proba.shape[1])
    return log_loss(y, proba, sample_weight=weight, labels=labels) + penalty


# searches -------------------------------------------------------------------
SEARCH = {"hidden_units": (32,), "max_epochs": 3, "random_state": 0, "n_jobs": 1}


def _search(n_jobs):
    X, y = make_categorical(n_samples=600)
    search = GridSearchCV(
        DeepFMClassifier(**SEARCH),
        {"embedding_dim": [4, 8]},
        cv=2,
        scoring="roc_auc",
        n_jobs=n_jobs,
    )
    return search.fit(X, y)


@pytest.fixture(scope="module")
def sequential_search():
    return _search(n_jobs=None)


def _same_search(search, expected):
    assert search.best_params_ == expected.best_params_
    assert_allclose(
        search.cv_results_["mean_test_score"],
        expected.cv_results_["mean_test_score"],
    )


@pytest.mark.slow
def test_search_on_loky_processes(sequential_search):
    with parallel_backend("loky"):
        _same_search(_search(n_jobs=2), sequential_search)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_search_on_a_dask_cluster(sequential_search):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        parallel_backend("dask"),
    ):
        _same_search(_search(n_jobs=-1), sequential_search)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_search_on_ray(sequential_search):
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    register_ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with parallel_backend("ray"):
            _same_search(_search(n_jobs=2), sequential_search)
    finally:
        ray.shutdown()
