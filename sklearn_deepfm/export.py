"""The fitted network as a standalone PyTorch module: TorchScript and
``torch.export``.

The exported module takes encoded rows, as the network inside the estimator
does, not the raw input: :func:`encode` applies the fitted input rule
(``input_layout_``) in Python, exactly as ``predict`` does.  To serve raw
rows from a graph that applies the input rule too, convert the estimator to
ONNX with :mod:`sklearn_deepfm.onnx` instead.

::

    import torch
    from sklearn_deepfm.export import encode, inference_module, to_torchscript

    scripted = to_torchscript(model)
    scores = scripted(**encode(model, X))

    batch = torch.export.Dim("batch")
    inputs = encode(model, X[:8])
    program = torch.export.export(
        inference_module(model),
        (),
        inputs,
        dynamic_shapes={name: {0: batch} for name in inputs},
    )

The module's output is ``decision_function(X)`` for a classifier (the
logit of ``classes_[1]``, or one logit per class) and ``predict(X)`` for a
regressor, in float32.  It runs in evaluation mode (dropout off, batch norm
with its running statistics), on the CPU, in float32 throughout: a model
trained with ``mixed_precision`` predicts in float32 there (its outputs
differ from the estimator's by the bfloat16 rounding of the deep part).
"""

import warnings

import torch
from torch import Tensor, nn

from ._batching import EncodedDataset
from ._regressor import DeepFMRegressor

__all__ = ["encode", "inference_module", "to_torchscript", "InferenceModule"]


class InferenceModule(nn.Module):
    """A fitted DeepFM network with its output scale (regressors predict
    ``raw * scale + shift``; classifiers output the raw logits).

    Parameters
    ----------
    network : torch.nn.Module
        The DeepFM module, in evaluation mode.
    scale, shift : float
        Output scale and shift.
    """

    def __init__(self, network, scale=1.0, shift=0.0):
        super().__init__()
        self.network = network
        self.scale = float(scale)
        self.shift = float(shift)

    def forward(
        self,
        indices: Tensor,
        values: Tensor | None = None,
        bag_rows: Tensor | None = None,
        bag_offsets: Tensor | None = None,
        bag_weights: Tensor | None = None,
    ) -> Tensor:
        """Integer ``(batch, slots)`` embedding rows, float ``(batch,
        slots)`` values (None: all 1) and, for multi-valued fields (and
        sparse fields with several columns set), the bags: long flat
        ``bag_rows``, long ``(batch * n_bags,)`` ``bag_offsets`` and float
        ``bag_weights`` (None: all 1), as :func:`encode` gives them."""
        output = self.network(indices, values, bag_rows, bag_offsets, bag_weights)
        return output * self.scale + self.shift


def encode(model, X):
    """The fitted input rule applied to ``X``: the keyword arguments of the
    exported module, as CPU tensors.

    Parameters
    ----------
    model : DeepFMClassifier or DeepFMRegressor
        A fitted estimator.
    X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
        Input as ``predict`` takes it.

    Returns
    -------
    inputs : dict of str to torch.Tensor
        ``indices`` (int32 or int64) and ``values`` (float32, unless every
        value is 1), each of shape ``(n_samples, n_slots)``; with
        multi-valued fields (or sparse rows with several columns set in one
        field) also ``bag_rows`` (int64, one per value), ``bag_offsets``
        (int64, where each row's bag of each such field starts) and
        ``bag_weights`` (float32, unless all are 1).  The bags are flat,
        never padded: with ``torch.export``, give ``bag_rows`` and
        ``bag_weights`` a dimension of their own.
    """
    inputs, _ = EncodedDataset(model._encode(X)).batch(slice(None))
    return inputs


def inference_module(model):
    """The fitted network of ``model`` as an :class:`InferenceModule`: a
    copy in evaluation mode, float32, on the CPU, without gradients.

    Pass it to ``torch.export.export`` or ``torch.onnx.export`` with the
    inputs of :func:`encode`.
    """
    scale, shift = 1.0, 0.0
    if isinstance(model, DeepFMRegressor):
        scale, shift = model._target_scale()
    return InferenceModule(model.net_.export_module(), scale, shift).eval()


def to_torchscript(model):
    """The fitted network of ``model`` (see :func:`inference_module`)
    scripted with ``torch.jit.script`` and frozen (``torch.jit.freeze``:
    weights and settings become constants, training-only branches are
    removed); save it with ``torch.jit.save``.

    PyTorch deprecates TorchScript in favour of ``torch.export``; its
    deprecation warnings are not repeated here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit\.\w+. is deprecated", category=Warning
        )
        return torch.jit.freeze(torch.jit.script(inference_module(model)))
