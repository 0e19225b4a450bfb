"""The skorch net that trains a DeepFM module on encoded rows.

skorch owns the training loop, callbacks, history and device handling; this
subclass only replaces the data path (slicing encoded arrays instead of
skorch's per-row, densifying Dataset) and weights the loss per sample.
"""

import numpy as np
import torch
from sklearn.utils import ClassifierTags
from skorch import NeuralNet
from skorch.dataset import get_len
from skorch.utils import to_tensor

from ._batching import BatchIterator, EncodedDataset, RegularRows

# Rows per padding block at prediction; a multiple of every CPU GEMM tile height.
PAD_ROWS = 64

# Rows per batch at prediction and validation, by device type: on CPU a
# 4096-row batch's activations stay in cache (measured faster than 8192).
PREDICT_ROWS = {"cpu": 4096}
PREDICT_ROWS_DEFAULT = 8192

# Share of the free GPU memory that training data may take to be kept there.
RESIDENT_SHARE = 0.5


def _keep_on_device(dataset, device):
    """Whether to hold ``dataset`` on ``device`` for the whole fit: on CUDA,
    when it is a regular (one slot per field) dataset taking at most
    ``RESIDENT_SHARE`` of the free device memory."""
    if device.type != "cuda" or not isinstance(dataset.rows, RegularRows):
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return dataset.nbytes <= RESIDENT_SHARE * free


def _defer_loss_values(device):
    """Whether to read the batch losses back once per epoch instead of once
    per batch: on CUDA, where reading one waits for the device."""
    return device.type == "cuda"


class DeepFMNet(NeuralNet):
    """skorch ``NeuralNet`` fed by :class:`~sklearn_deepfm._batching.EncodedDataset`.

    Parameters
    ----------
    shuffle_seed : int
        Seed of the per-epoch shuffling order.
    classes : ndarray or None
        Encoded class indices ``0..n_classes-1`` for classification.
    predict_batch_size : int or None
        Rows per batch when predicting or validating (no gradients kept);
        None picks it by device (``PREDICT_ROWS``).
    **kwargs
        Passed to :class:`skorch.NeuralNet`.  The criterion must be built
        with ``reduction='none'``.
    """

    def __init__(
        self, *args, shuffle_seed=0, predict_batch_size=None, classes=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.shuffle_seed = shuffle_seed
        self.predict_batch_size = predict_batch_size
        self.classes = classes

    @property
    def classes_(self):
        """Encoded classes, so that scikit-learn scorers in skorch's
        ``EpochScoring`` (e.g. 'roc_auc') treat the net as a classifier."""
        if self.classes is None:
            raise AttributeError("a regression net has no classes_")
        return self.classes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.classes is not None:
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        return tags

    def get_dataset(self, X, y=None):
        if not isinstance(X, EncodedDataset):
            raise TypeError(
                f"DeepFMNet takes an EncodedDataset, got {type(X).__name__}; use "
                "DeepFMClassifier or DeepFMRegressor on raw data."
            )
        return X

    def get_iterator(self, dataset, training=False):
        device, copy_to = torch.device(self.device), None
        if _keep_on_device(dataset, device):
            dataset = dataset.to(device)
        elif device.type == "cuda":
            copy_to = device
        if training:
            return BatchIterator(
                dataset,
                self.batch_size,
                shuffle=True,
                random_state=np.random.default_rng(self.shuffle_seed),
                copy_to=copy_to,
            )
        batch_size = self._predict_rows()
        return BatchIterator(dataset, batch_size, copy_to=copy_to)

    def _predict_rows(self):
        rows = self.predict_batch_size
        if rows is None:
            device = torch.device(self.device).type
            rows = PREDICT_ROWS.get(device, PREDICT_ROWS_DEFAULT)
        return max(rows, self.batch_size)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch loop; on CUDA the batch losses are recorded at the
        end of the epoch, so that no batch waits for the device."""
        if iterator is None or not _defer_loss_values(torch.device(self.device)):
            return super().run_single_epoch(
                iterator, training, prefix, step_fn, **fit_params
            )
        batches, positions, losses = None, [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            batches = self.history[-1]["batches"]
            positions.append(len(batches) - 1)
            losses.append(step["loss"].detach())
            self.history.record_batch(prefix + "_batch_size", get_len(batch[0]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        if losses:
            for position, loss in zip(
                positions, torch.stack(losses).tolist(), strict=True
            ):
                batches[position][prefix + "_loss"] = loss
        self.history.record(prefix + "_batch_count", len(losses))

    def infer(self, x, **fit_params):
        x = {key: value for key, value in x.items() if key != "sample_weight"}
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Mean of the per-sample losses times the (mean-one) sample weights."""
        target = to_tensor(y_true, device=self.device)
        weight = to_tensor(X["sample_weight"], device=self.device)
        return (self.criterion_(y_pred, target) * weight).mean()

    def predict_raw(self, dataset):
        """Raw module outputs for every row, as a float64 ndarray.

        Each batch is padded to a multiple of ``PAD_ROWS`` rows so that the
        matrix kernels see the same tiling whichever rows are predicted
        together: a row's prediction does not depend on its neighbours.
        """
        self.check_is_fitted()
        self._set_training(False)
        batch_size = self._predict_rows()
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(dataset), batch_size):
                X, _ = dataset.batch(slice(start, start + batch_size))
                n_rows = X["indices"].shape[0]
                padded = -(-n_rows // PAD_ROWS) * PAD_ROWS
                X = {key: _pad_rows(value, padded) for key, value in X.items()}
                outputs.append(self.infer(X)[:n_rows])
            # one copy back at the end: no batch waits for the device
            raw = torch.cat(outputs).to(device="cpu", dtype=torch.float64).numpy()
        return raw.reshape(len(dataset), -1)


def _pad_rows(tensor, n_rows):
    """``tensor`` with zero rows appended up to ``n_rows`` rows."""
    missing = n_rows - tensor.shape[0]
    if missing == 0:
        return tensor
    return torch.cat([tensor, tensor.new_zeros((missing, *tensor.shape[1:]))])
