"""What a fitted estimator is saved as: plain values and NumPy arrays only.

Pickling an estimator (``pickle``, ``joblib``, ``copy.deepcopy``,
``skops.io.dump``) replaces its skorch net by a dict of the net's settings,
the module's weights and the optimizer's state as NumPy arrays, and which
weights training keeps fixed, and its skorch ``History`` by a list of dicts
of plain values.  Loading rebuilds the net from them.  skops can then save a
fitted model with no types to trust but this package's own, and store the
weights as ``.npy`` arrays rather than a pickle.

What is not kept: the net's callback instances (``net_.callbacks_``) and
what training left on the estimator's ``callbacks``; the loaded net has
skorch's default callbacks and the estimator's ``callbacks``, initialised
afresh.  History entries that are not numbers,
strings, booleans or containers of them are left out.
"""

import copy
import numbers

import numpy as np
import torch
from skorch.exceptions import DeviceWarning
from skorch.history import History

from ._caller import warn
from ._model import DeepFM
from ._net import DeepFMNet
from ._optim import OPTIMIZERS

# The losses the estimators train with, by name: a file names one of these,
# never an arbitrary class.
CRITERIA = {
    criterion.__name__: criterion
    for criterion in (
        torch.nn.BCEWithLogitsLoss,
        torch.nn.CrossEntropyLoss,
        torch.nn.MSELoss,
    )
}
MLP_DTYPES = {"bfloat16": torch.bfloat16}

# Net settings kept as objects rather than plain values: the module (always
# DeepFM), the criterion (by name), the optimizer (the estimator's), the
# callbacks (not kept) and skorch's defaults for the rest.
NOT_PLAIN = {"module", "criterion", "optimizer", "callbacks"}


def plain_state(state):
    """The pickled state of an estimator, ``state`` (its ``__dict__``), with
    the net and history replaced by plain values."""
    state = dict(state)
    encoder = state.get("_encoder")
    if encoder is not None and state.get("input_layout_") is encoder.layout_:
        del state["input_layout_"]  # saved once, as the encoder's
    net = state.get("net_")
    if isinstance(net, DeepFMNet) and getattr(net, "initialized_", False):
        state["net_"] = _net_state(net)
    if isinstance(state.get("history_"), History):
        state["history_"] = _plain(list(state["history_"]))
    state.pop("_callbacks_in_use", None)  # (the callbacks as they trained)
    if isinstance(state.get("callbacks"), list):
        state["callbacks"] = [_unfitted(item) for item in state["callbacks"]]
    return state


def _unfitted(callback):
    """A copy of a callback of the ``callbacks`` parameter (or of a
    ``(name, callback)`` pair) without what training left on it, skorch's
    attributes ending in ``_``: the loaded net initialises it afresh, and
    skops cannot save a live torch scheduler (an ``LRScheduler``'s)."""
    if isinstance(callback, tuple):
        return tuple(_unfitted(item) for item in callback)
    fitted = [
        key
        for key in getattr(callback, "__dict__", ())
        if key.endswith("_") and not key.startswith("__")
    ]
    if isinstance(callback, type) or not fitted:
        return callback
    callback = copy.copy(callback)
    for key in fitted:
        delattr(callback, key)
    return callback


def restore(estimator):
    """Rebuild the net and history of an estimator unpickled from
    :func:`plain_state` (an estimator pickled with a live net is left as is)."""
    if "input_layout_" not in estimator.__dict__ and "_encoder" in estimator.__dict__:
        estimator.input_layout_ = estimator._encoder.layout_
    history = estimator.__dict__.get("history_")
    if isinstance(history, list) and not isinstance(history, History):
        estimator.history_ = History(history)
    state = estimator.__dict__.get("net_")
    if isinstance(state, dict):
        estimator.net_ = _rebuild_net(state, estimator)


def _net_state(net):
    settings = {}
    for key, value in net.get_params(deep=False).items():
        if key == "module__mlp_dtype":
            value = None if value is None else str(value).removeprefix("torch.")
        if key not in NOT_PLAIN and _is_plain(value):
            settings[key] = value
    criterion = net.criterion
    if criterion not in CRITERIA.values():
        raise TypeError(
            f"Cannot save a net trained with the criterion {criterion!r}; the "
            f"estimators use one of {sorted(CRITERIA)}."
        )
    # the tables may have grown since the net was built
    settings["module__n_embeddings"] = net.n_embeddings()
    optimizer_name = _optimizer_name(net.optimizer)
    return {
        "settings": settings,
        "criterion": criterion.__name__,
        "weights": net.weights(),
        "frozen": net.frozen(),
        "linear_only": bool(net.linear_only()),
        "optimizer": _arrays(net.optimizer_.state_dict()),
        # the optimizer the state is of, by name, or the class of the user's
        # itself (the estimator's optimizer, set since, had been taken: a
        # file that could not be loaded after set_params(alpha=0.1) of an
        # Rprop, or SGD rebuilt holding a subclass of Adam's state)
        "optimizer_name": optimizer_name,
        **({} if optimizer_name else {"optimizer_class": net.optimizer}),
    }


def _optimizer_name(optimizer):
    return next((name for name, kind in OPTIMIZERS.items() if kind is optimizer), None)


def _rebuild_net(state, estimator):
    settings = dict(state["settings"])
    dtype = settings.get("module__mlp_dtype")
    settings["module__mlp_dtype"] = None if dtype is None else MLP_DTYPES[dtype]
    device = torch.device(settings.get("device", "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        warn(
            f"The model was saved on the device {str(device)!r}, which is not "
            "available here; it is loaded on the CPU.",
            DeviceWarning,
        )
        settings["device"] = "cpu"
    # the optimizer the model was trained with, not one set since (Adam's
    # state in an SGD raised a KeyError at the next partial_fit)
    optimizer = OPTIMIZERS.get(state.get("optimizer_name"))
    optimizer = optimizer or state.get("optimizer_class")
    try:
        callbacks = estimator._user_callbacks()
    except ValueError:  # set since, and not callbacks: the next fit says so
        callbacks = []
    net = DeepFMNet(
        module=DeepFM,
        criterion=CRITERIA[state["criterion"]],
        optimizer=optimizer or estimator._optimizer_class(),
        callbacks=callbacks,
        **{**settings, "init_seed": 0},
    )
    # the fresh module's random initialisation is overwritten at once; drawn
    # from a seed, it leaves the global random state alone
    net.initialize()
    net.load_weights(state["weights"], state["frozen"], state["linear_only"])
    if "optimizer" in state:
        net.optimizer_.load_state_dict(_tensors(state["optimizer"]))
    if isinstance(getattr(estimator, "history_", None), History):
        net.history_ = estimator.history_
    return net


def _is_plain(value):
    if value is None or isinstance(value, (bool, numbers.Number, str)):
        return not isinstance(value, complex)
    if isinstance(value, (tuple, list)):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(
            isinstance(key, (str, int)) and _is_plain(item)
            for key, item in value.items()
        )
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    return False


def _arrays(value):
    """``value`` (an optimizer's state_dict) with its tensors as NumPy arrays
    (copies, on the CPU)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, dict):
        return {key: _arrays(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_arrays(item) for item in value)
    return value


def _tensors(value):
    """The inverse of :func:`_arrays`, with tensors of their own memory: the
    optimizer steps on them in place (they had shared it with a file mapped
    by ``joblib.load(mmap_mode=...)``, a read-only one crashing Python, and
    with pickle's out-of-band buffers)."""
    if isinstance(value, np.ndarray):
        return torch.tensor(value)
    if isinstance(value, dict):
        return {key: _tensors(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_tensors(item) for item in value)
    return value


def _plain(value):
    """``value`` as plain Python values (NumPy and torch scalars become
    numbers), leaving out whatever is not one; ``_DROP`` when ``value``
    itself is not."""
    if isinstance(value, np.generic) or (
        isinstance(value, torch.Tensor) and value.dim() == 0
    ):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_plain(item) for item in value]
        return type(value)(item for item in items if item is not _DROP)
    if isinstance(value, dict):
        items = {str(key): _plain(item) for key, item in value.items()}
        return {key: item for key, item in items.items() if item is not _DROP}
    return _DROP


_DROP = object()
