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

The module's output is ``decision_function(X)`` for a classifier (the logit of
``classes_[1]``, or one logit per class), in float32, and ``predict(X)`` for a
regressor, in float64 (the target's scale and offset applied in float64, as ``predict``
does). It runs in evaluation mode (dropout off, batch norm with its running statistics),
on the CPU, in float32 throughout: a model trained with ``mixed_precision`` predicts in
float32 there (its outputs differ from the estimator's by the bfloat16 rounding of the
deep part).
"""

import torch
from sklearn.utils.validation import check_is_fitted
from torch import Tensor, nn

from ._batching import EncodedDataset
from ._layout import MULTIVALUED
from ._regressor import DeepFMRegressor
from ._silenced import silenced

__all__ = ["encode", "inference_module", "to_torchscript", "InferenceModule"]


class InferenceModule(nn.Module):
    """A fitted DeepFM network with its output scale (regressors predict
    ``raw * scale + shift``, in float64 as ``predict``; classifiers output
    the raw logits, in float32).

    Parameters
    ----------
    network : torch.nn.Module
        The DeepFM module, in evaluation mode.
    scale, shift : float
        Output scale and shift.
    regression : bool, default=False
        Whether the output is a regressor's: float64, scaled and shifted in
        float64 (in float32, a target of 1e6 + 0.001 * signal fell from R2
        0.98 to -0.01).
    """

    def __init__(self, network, scale=1.0, shift=0.0, regression=False):
        super().__init__()
        self.network = network
        self.scale = float(scale)
        self.shift = float(shift)
        self.regression = bool(regression)

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
        if self.regression:
            return output.double() * self.scale + self.shift
        return output


def encode(model, X):
    """The fitted input rule applied to ``X``: the keyword arguments of the
    exported module, as CPU tensors.

    Every batch of a model gets the same arguments, so that a program
    exported with ``torch.export`` from one batch serves any other.  A
    model fitted on a sparse matrix always gets bags, even for rows with one
    column set in each field, since a row with none set in a field (an
    unseen category after ``OneHotEncoder(handle_unknown="ignore")``) or
    several needs them; ``predict`` keeps its faster form for such rows.
    ``bag_weights`` is there whenever the model's bags can be weighted
    (sparse values, ``pooling='mean'``), even where a batch's are all 1.

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
        multi-valued fields, or a sparse matrix (whose every field is a
        bag, ``n_slots`` being 0), also ``bag_rows`` (int64, one per value),
        ``bag_offsets`` (int64, where each row's bag of each such field
        starts: ``n_samples * n_bags`` of them) and ``bag_weights`` (float32,
        one per value, where the bags can be weighted).  The bags are flat,
        never padded: with ``torch.export``, give ``bag_rows`` and
        ``bag_weights`` a dimension of their own.
    """
    inputs, _ = EncodedDataset(model._encode(X)).batch(slice(None))
    layout = model.input_layout_
    if layout.sparse and "bag_rows" not in inputs:
        inputs = _as_bags(inputs)
    if _weighted(layout) and "bag_weights" not in inputs:
        inputs["bag_weights"] = torch.ones(inputs["bag_rows"].shape[0])
    return inputs


def _as_bags(inputs):
    """Sparse rows with one column set in each field, encoded as ``indices``
    and ``values`` (``predict``'s faster form), as bags of one entry each.

    The exported network then runs its bag path: one row takes 28 against
    22 us under TorchScript and 136 against 104 us as a ``torch.export``
    program (8 one-hot fields of 50 columns, one thread), next to 150 us
    for :func:`encode` itself.
    """
    indices = inputs["indices"]
    n_rows, n_fields = indices.shape
    bags = {
        "indices": indices.new_empty((n_rows, 0)),
        "bag_rows": indices.reshape(-1).long(),
        "bag_offsets": torch.arange(n_rows * n_fields),
    }
    if "values" in inputs:
        bags["bag_weights"] = inputs["values"].reshape(-1)
    return bags


def _weighted(layout):
    """Whether some batch of ``layout`` can have bag weights other than 1."""
    # any multi-valued field: a cell repeating a value (["t1", "t1"]) sums to
    # a bag weight of 2 under pooling='sum' too, and a program exported from a
    # batch without repeats refused a batch with them (kwarg mismatch)
    return layout.sparse or any(field.kind == MULTIVALUED for field in layout.fields)


def inference_module(model):
    """The fitted network of ``model`` as an :class:`InferenceModule`: a
    copy in evaluation mode, float32, on the CPU, without gradients.

    Pass it to ``torch.export.export`` or ``torch.onnx.export`` with the
    inputs of :func:`encode`.
    """
    check_is_fitted(model)
    scale, shift = 1.0, 0.0
    regression = isinstance(model, DeepFMRegressor)
    if regression:
        scale, shift = model._target_scale()
    module = InferenceModule(model.net_.export_module(), scale, shift, regression)
    return module.eval()


def to_torchscript(model):
    """The fitted network of ``model`` (see :func:`inference_module`)
    scripted with ``torch.jit.script`` and frozen (``torch.jit.freeze``:
    weights and settings become constants, training-only branches are
    removed); save it with ``torch.jit.save``.

    PyTorch deprecates TorchScript in favour of ``torch.export``; its
    deprecation warnings are not repeated here.
    """
    with silenced(Warning, message=r".*torch\.jit\.\w+. is deprecated"):
        return torch.jit.freeze(torch.jit.script(inference_module(model)))
