"""Benchmark contestants, one small module each.

Every module defines

* ``unavailable(options) -> str | None``: why the contestant cannot run here
  (a missing package, ...), or ``None``;
* ``Runner(cardinalities, config, device, **options)`` with ``fit(X, y)`` and
  ``predict_proba(X)`` returning the probability of the positive class as a
  1-d array.

``X`` is the label-encoded int64 array (``input="int"``) or the one-hot CSR
matrix from ``OneHotEncoder(handle_unknown="ignore")`` fitted on the training
rows (``input="onehot"``); see ``benchmarks/_data.py`` for the encoding.
The worker (``benchmarks/_worker.py``) imports a module only inside the child
process that runs it.
"""

from dataclasses import dataclass, field

# The BARS DeepFM setting used for every neural contestant.
BARS_CONFIG = {
    "embedding_dim": 10,
    "hidden_units": (400, 400, 400),
    "lr": 1e-3,
    "batch_size": 2048,
    "max_epochs": 1,
    "seed": 0,
}


@dataclass(frozen=True)
class Contestant:
    name: str
    module: str
    input: str  # "int" or "onehot"
    uses_torch: bool
    description: str
    options: dict = field(default_factory=dict)


CONTESTANTS = {
    c.name: c
    for c in [
        Contestant(
            "ours",
            "ours",
            "int",
            True,
            "sklearn_deepfm.DeepFMClassifier on the label-encoded int array",
        ),
        Contestant(
            "ours_onehot",
            "ours",
            "onehot",
            True,
            "sklearn_deepfm.DeepFMClassifier on the one-hot CSR matrix",
        ),
        Contestant(
            "ours_bf16",
            "ours",
            "int",
            True,
            "sklearn_deepfm.DeepFMClassifier(mixed_precision=True) on the "
            "label-encoded int array",
            {"mixed_precision": True},
        ),
        Contestant(
            "ours_onehot_bf16",
            "ours",
            "onehot",
            True,
            "sklearn_deepfm.DeepFMClassifier(mixed_precision=True) on the one-hot "
            "CSR matrix",
            {"mixed_precision": True},
        ),
        Contestant(
            "logreg",
            "sklearn_logreg",
            "onehot",
            False,
            "sklearn LogisticRegression(solver='lbfgs') on the one-hot CSR matrix",
        ),
        Contestant(
            "deepctr_torch",
            "deepctr",
            "int",
            True,
            "DeepCTR-Torch 0.3.0 DeepFM (SparseFeat columns, library defaults "
            "otherwise)",
        ),
        Contestant(
            "torchfm",
            "pytorch_fm",
            "int",
            True,
            "pytorch-fm 0.7.0 DeepFactorizationMachineModel, README-style loop, "
            "as shipped",
        ),
        Contestant(
            "torchfm_zero_linear",
            "pytorch_fm",
            "int",
            True,
            "pytorch-fm 0.7.0 DeepFactorizationMachineModel, first-order table zeroed",
            {"zero_linear": True},
        ),
        Contestant(
            "skorch_plain",
            "skorch_plain",
            "int",
            True,
            "skorch NeuralNetBinaryClassifier around a hand-written DeepFM module",
        ),
    ]
}

PEERS = [name for name in CONTESTANTS if not name.startswith("ours")]
