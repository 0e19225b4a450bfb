"""What DeepFMClassifier and DeepFMRegressor share: parameters, input
validation, building the skorch net, fitting and raw prediction."""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)
from skorch.callbacks import Callback

from ._batching import EncodedDataset, HoldoutSplit
from ._encoding import FeatureEncoder, is_dataframe
from ._model import DeepFM
from ._net import DeepFMNet
from ._optim import DenseSparseAdam
from ._schedule import TrainingSchedule

OPTIMIZERS = {
    "adam": DenseSparseAdam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
}

# The first-order weights take larger steps than the embeddings and the MLP:
# at the MLP's learning rate they are still under-fit when the MLP starts to
# over-fit (the role FTRL plays for the wide part of Wide & Deep).
LINEAR_LR_FACTOR = 5.0

# Upper bound on the optimizer steps of linear warm-up before the full model
# trains (the warm-up also ends when the validation loss stops improving).
LINEAR_WARMUP_STEPS = 2000

# Below this many rows, 'auto' early stopping would validate on too few rows.
EARLY_STOPPING_MIN_SAMPLES = 1000


def _check_device(device):
    """A torch.device for ``device``, or a ValueError saying why it cannot be used."""
    try:
        torch_device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'cpu', 'cuda' or "
            "'cuda:N'."
        ) from exc
    if torch_device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine (torch.cuda.is_available() is False). Use device='cpu', or "
                "install a CUDA build of PyTorch on a machine with an NVIDIA GPU."
            )
        if torch_device.index is not None and (
            torch_device.index >= torch.cuda.device_count()
        ):
            raise ValueError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) are visible."
            )
    elif torch_device.type != "cpu":
        raise ValueError(f"device={device!r} is not supported; use 'cpu' or 'cuda'.")
    return torch_device


def _native_cpu_bfloat16():
    """Whether this CPU has AMX tiles, on which bfloat16 matrix products run
    at about twice the float32 speed (measured: benchmarks/README.md)."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe is not None and probe())


def _mlp_dtype(mixed_precision, device):
    """The autocast dtype of the deep part: bfloat16 or None (float32)."""
    if mixed_precision == "auto":
        mixed_precision = device.type == "cpu" and _native_cpu_bfloat16()
    if not mixed_precision:
        return None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(
            f"mixed_precision=True needs bfloat16 support, which the CUDA device "
            f"{device} lacks; use mixed_precision=False."
        )
    return torch.bfloat16


def _auto_batch_size(n_samples):
    return int(np.clip(n_samples // 50, 64, 1024))


class BaseDeepFM(BaseEstimator):
    """Shared implementation; use DeepFMClassifier or DeepFMRegressor."""

    _parameter_constraints = {
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "hidden_units": ["array-like"],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "fields": ["array-like", None],
        "categorical_features": [
            "array-like",
            StrOptions({"auto", "from_dtype"}),
            None,
        ],
        "device": [str, torch.device],
        "mixed_precision": ["boolean", StrOptions({"auto"})],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        embedding_dim=10,
        hidden_units=(256, 128),
        dropout=0.0,
        batch_norm=False,
        lr=2e-3,
        batch_size="auto",
        max_epochs=100,
        optimizer="adam",
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=2,
        fields=None,
        categorical_features="auto",
        device="cpu",
        mixed_precision=False,
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        self.embedding_dim = embedding_dim
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.optimizer = optimizer
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.fields = fields
        self.categorical_features = categorical_features
        self.device = device
        self.mixed_precision = mixed_precision
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # input ----------------------------------------------------------------
    def _validate_X(self, X, reset):
        """Check X's shape and kind; set or compare feature names and width."""
        name = type(self).__name__
        if is_dataframe(X):
            for axis, what in ((0, "sample(s)"), (1, "feature(s)")):
                if X.shape[axis] < 1:
                    raise ValueError(
                        f"Found array with 0 {what} (shape={X.shape}) while a "
                        f"minimum of 1 is required by {name}."
                    )
            checked = X
        else:
            checked = check_array(
                X,
                accept_sparse=True,
                accept_large_sparse=True,
                dtype="numeric",
                ensure_all_finite=False,
                estimator=self,
                input_name="X",
            )
        validate_data(
            self,
            checked,
            skip_check_array=True,
            reset=reset,
        )
        return checked

    def _encode(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._encoder.transform(X, getattr(self, "feature_names_in_", None))

    # training -------------------------------------------------------------
    def _fit(
        self, X, y, sample_weight, n_outputs, criterion, initial_bias, classes=None
    ):
        """Encode X, build the skorch net and train it.

        ``y`` is already encoded (float32 targets or int64 class indices).
        """
        device = _check_device(self.device)
        hidden_units = tuple(int(width) for width in self.hidden_units)
        if any(width < 1 for width in hidden_units):
            raise ValueError(
                "hidden_units must be positive layer widths, got "
                f"{self.hidden_units!r}."
            )
        self._encoder = FeatureEncoder(self.fields, self.categorical_features)
        feature_names = getattr(self, "feature_names_in_", None)
        self._encoder.fit(X, feature_names)
        rows = self._encoder.transform(X, feature_names)
        self.n_fields_ = self._encoder.n_fields_
        self.fields_ = self._encoder.fields_
        self.is_categorical_ = self._encoder.categorical_

        weight = (sample_weight / sample_weight.mean()).astype(np.float32)
        dataset = EncodedDataset(rows, y, weight)
        n_samples = len(dataset)

        rng = check_random_state(self.random_state)
        torch_seed, shuffle_seed, split_seed = rng.randint(
            np.iinfo(np.int32).max, size=3
        )
        early_stopping = self.early_stopping
        if early_stopping == "auto":
            early_stopping = n_samples >= EARLY_STOPPING_MIN_SAMPLES
        callbacks = list(self.callbacks or [])
        train_split = None
        if early_stopping:
            train_split = HoldoutSplit(
                self.validation_fraction, classes is not None, split_seed
            )
            schedule = TrainingSchedule(
                patience=self.n_iter_no_change, warmup_steps=LINEAR_WARMUP_STEPS
            )
            callbacks.append(("schedule", schedule))
        optimizer = self.optimizer
        if isinstance(optimizer, str):
            optimizer = OPTIMIZERS[optimizer]
        elif not issubclass(optimizer, torch.optim.Optimizer):
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)} or a subclass of "
                f"torch.optim.Optimizer, got {optimizer!r}."
            )
        for callback in callbacks:
            instance = callback[1] if isinstance(callback, tuple) else callback
            if not isinstance(instance, Callback) and not (
                isinstance(instance, type) and issubclass(instance, Callback)
            ):
                raise ValueError(
                    f"callbacks must be skorch callbacks or (name, callback) tuples, "
                    f"got {callback!r}."
                )

        batch_size = self.batch_size
        if batch_size == "auto":
            batch_size = _auto_batch_size(n_samples)
        self.net_ = DeepFMNet(
            module=DeepFM,
            module__n_embeddings=self._encoder.n_embeddings_,
            module__n_fields=self.n_fields_,
            module__embedding_dim=self.embedding_dim,
            module__hidden_units=hidden_units,
            module__n_outputs=n_outputs,
            module__dropout=self.dropout,
            module__batch_norm=self.batch_norm,
            module__sparse=optimizer is DenseSparseAdam,
            module__mlp_dtype=_mlp_dtype(self.mixed_precision, device),
            criterion=criterion,
            criterion__reduction="none",
            optimizer=optimizer,
            optimizer__param_groups=[("linear.*", {"lr": self.lr * LINEAR_LR_FACTOR})],
            lr=self.lr,
            batch_size=batch_size,
            max_epochs=self.max_epochs,
            train_split=train_split,
            callbacks=callbacks,
            device=str(device),
            verbose=self.verbose,
            shuffle_seed=int(shuffle_seed),
            classes=classes,
        )
        cuda_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(int(torch_seed))
            self.net_.initialize()
            with torch.no_grad():
                self.net_.module_.linear.bias.copy_(torch.as_tensor(initial_bias))
            self.net_.partial_fit(dataset)
        self.history_ = self.net_.history
        return self

    def _raw_predict(self, X):
        """Module outputs for X, float64 of shape (n_samples, n_outputs)."""
        rows = self._encode(X)
        return self.net_.predict_raw(EncodedDataset(rows))

    def _sample_weight(self, sample_weight, X):
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if not sample_weight.sum() > 0:
            raise ValueError(
                "sample_weight must have a positive sum; all weights are zero."
            )
        return sample_weight


fit_context = _fit_context(prefer_skip_nested_validation=True)
