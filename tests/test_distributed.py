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
import torch.distributed as dist
from joblib import parallel_backend
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import log_loss, r2_score, roc_auc_score
from sklearn.model_selection import GridSearchCV

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor
from sklearn_deepfm._encoding import FeatureEncoder
from sklearn_deepfm._fields import infer_sparse_fields
from sklearn_deepfm._linear import design_matrix, fit_linear
from sklearn_deepfm._linear_lbfgs import fit_linear_shared

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


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """What both ranks of one two-process run (unequal shards) fitted."""
    if not dist.is_gloo_available():
        pytest.skip("torch.distributed has no gloo backend")
    out = tmp_path_factory.mktemp("ranks")
    port = str(_free_port())
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(WORKER.parents[1]), *filter(None, [env.get("PYTHONPATH")])]
    )
    ranks = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(rank), "2", port, str(out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for rank in range(2)
    ]
    try:
        logs = [rank.communicate(timeout=TIMEOUT)[0].decode() for rank in ranks]
    finally:
        for rank in ranks:
            rank.kill()
    for rank, log in zip(ranks, logs, strict=True):
        assert rank.returncode == 0, log
    return [pickle.loads((out / f"rank{r}.pkl").read_bytes()) for r in range(2)]


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
    assert first.keys() == second.keys()
    for key in first:
        assert_array_equal(first[key], second[key], err_msg=key)


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
