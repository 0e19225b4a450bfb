"""DeepCTR-Torch 0.3.0 ``DeepFM`` with one ``SparseFeat`` per field.

Used as its documentation shows: ``SparseFeat`` columns for both the linear
and the DNN part, ``model.compile(optimizer, "binary_crossentropy")``,
``model.fit(dict_of_columns, y, batch_size, epochs)`` and ``model.predict``.
BARS setting: ``embedding_dim=10``, ``dnn_hidden_units=(400, 400, 400)``,
Adam with ``lr=1e-3``, batch 2048, one epoch, no validation split.  Every
other argument keeps its library default (``l2_reg_linear=1e-5``,
``l2_reg_embedding=1e-5``, ``init_std=1e-4``, no dropout, no batch norm).

``deepctr_torch/__init__.py`` starts a thread that asks PyPI for the latest
version through ``requests``; a stub ``requests`` module is put in
``sys.modules`` first so that no network is touched.
"""

import sys
import types


def _stub_requests():
    current = sys.modules.get("requests")
    if getattr(current, "__benchmark_stub__", False):
        return
    stub = types.ModuleType("requests")
    stub.__benchmark_stub__ = True

    def get(*args, **kwargs):  # the version check treats this as "no answer"
        return types.SimpleNamespace(status_code=0, text="")

    stub.get = get
    stub.codes = types.SimpleNamespace(ok=200)
    sys.modules["requests"] = stub


def _import():
    _stub_requests()
    from deepctr_torch.inputs import SparseFeat
    from deepctr_torch.models import DeepFM

    return SparseFeat, DeepFM


def unavailable(options):
    try:
        _import()
    except ImportError as exc:
        return (
            f"deepctr-torch is not installed ({exc}); see benchmarks/requirements.txt"
        )
    return None


class Runner:
    def __init__(self, cardinalities, config, device, **options):
        SparseFeat, _ = _import()
        columns = self._single_valued(SparseFeat, cardinalities, config)
        self._build(columns, config, "cuda:0" if device == "cuda" else device)

    def _single_valued(self, SparseFeat, cardinalities, config):
        """One ``SparseFeat`` per field, named ``f0``, ``f1``, ..."""
        self.names = [f"f{j}" for j in range(len(cardinalities))]
        return [
            SparseFeat(
                name, vocabulary_size=int(card), embedding_dim=config["embedding_dim"]
            )
            for name, card in zip(self.names, cardinalities, strict=True)
        ]

    def _build(self, columns, config, device):
        """The DeepFM over ``columns`` (linear and DNN part), compiled."""
        import torch

        _, DeepFM = _import()
        self.batch_size = config["batch_size"]
        self.epochs = config["max_epochs"]
        self.model = DeepFM(
            columns,
            columns,
            dnn_hidden_units=tuple(config["hidden_units"]),
            seed=config["seed"],
            task="binary",
            device=device,
        )
        self.model.compile(
            torch.optim.Adam(self.model.parameters(), lr=config["lr"]),
            "binary_crossentropy",
        )

    def _columns(self, X):
        return {name: X[:, j] for j, name in enumerate(self.names)}

    def _train(self, inputs, y):
        self.model.fit(
            inputs,
            y,
            batch_size=self.batch_size,
            epochs=self.epochs,
            verbose=0,
            validation_split=0.0,
            shuffle=True,
        )

    def _predict(self, inputs):
        return self.model.predict(inputs, batch_size=self.batch_size).ravel()

    def fit(self, X, y):
        self._train(self._columns(X), y)

    def predict_proba(self, X):
        return self._predict(self._columns(X))


class PaddedRunner(Runner):
    """DeepCTR-Torch ``DeepFM`` with one multi-valued field as its
    documentation shows it: a ``VarLenSparseFeat`` (``combiner='mean'``)
    whose input is padded with 0 to ``maxlen`` (the longest row), values
    shifted by one so that 0 is the padding; ``SparseFeat`` for the
    single-valued fields.  Used by ``benchmarks/multivalued.py``.

    Parameters
    ----------
    cardinalities : list of int
        Categories of each single-valued field.
    vocabulary : int
        Distinct values of the multi-valued field.
    maxlen : int
        Padded length (the longest row of the training data).
    config : dict
        ``embedding_dim``, ``hidden_units``, ``lr``, ``batch_size``,
        ``max_epochs``, ``seed``.
    """

    def __init__(self, cardinalities, vocabulary, maxlen, config):
        SparseFeat, _ = _import()
        from deepctr_torch.inputs import VarLenSparseFeat

        columns = self._single_valued(SparseFeat, cardinalities, config)
        columns.append(
            VarLenSparseFeat(
                SparseFeat(
                    "tags",
                    vocabulary_size=vocabulary + 1,
                    embedding_dim=config["embedding_dim"],
                ),
                maxlen=maxlen,
                combiner="mean",
            )
        )
        self._build(columns, config, "cpu")

    def inputs(self, X_single, padded):
        """The model's input dict: single-valued columns and the padded
        ``(n_rows, maxlen)`` array of values + 1 (0 pads)."""
        return {**self._columns(X_single), "tags": padded}

    def fit(self, inputs, y):
        self._train(inputs, y)

    def predict_proba(self, inputs):
        return self._predict(inputs)
