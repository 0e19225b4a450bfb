"""The DeepFM network (Guo et al., IJCAI 2017) as small PyTorch modules.

A row arrives as ``S`` slots, each naming one embedding row (``indices``),
the feature's value (``values``, 1 for a category) and, for ragged input, the
field the slot belongs to (``fields``).  The model is the paper's equation::

    y(x) = bias + sum_i w_i x_i                          first order
                + sum_{i<j} <v_i, v_j> x_i x_j           FM, second order
                + MLP(concat_f sum_{i in f} v_i x_i)     deep part

where one embedding table ``v`` is shared by the FM and the deep part.  With
several outputs (multiclass) the FM's per-dimension interaction vector is
mapped to each output by a learned projection; with one output the projection
is the plain sum over dimensions, which is the paper's FM term exactly.
"""

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ._cpu_linear import Linear

# The distinct rows of a batch's indices and where each index is among them.
Distinct = tuple[Tensor, Tensor]


class FeaturesLinear(nn.Module):
    """First-order term: a weight per feature (and output) times its value."""

    def __init__(self, n_embeddings, n_outputs, sparse=False):
        super().__init__()
        self.weight = nn.Embedding(n_embeddings, n_outputs, sparse=sparse)
        self.bias = nn.Parameter(torch.zeros(n_outputs))
        nn.init.zeros_(self.weight.weight)

    def forward(
        self,
        indices: Tensor,
        values: Tensor | None = None,
        distinct: Distinct | None = None,
    ) -> Tensor:
        """Integer ``(batch, slots)``, float ``(batch, slots)`` or None, and the
        optional :func:`distinct_rows` of ``indices``."""
        table = self.weight
        weights = lookup(table.weight, indices, distinct, table.sparse)
        if values is not None:
            weights = weights * values.unsqueeze(-1)
        return self.bias + weights.sum(dim=1)


class FactorizationMachine(nn.Module):
    """Pairwise term ``sum_{i<j} <v_i x_i, v_j x_j>`` in O(slots * dim).

    Uses the identity ``0.5 * ((sum_i e_i)^2 - sum_i e_i^2)``, taken per
    embedding dimension, which gives the interaction vector of size ``dim``.
    """

    def __init__(self, embedding_dim, n_outputs):
        super().__init__()
        self.projection = None
        if n_outputs > 1:
            self.projection = nn.Parameter(torch.ones(n_outputs, embedding_dim))

    def forward(self, embedded: Tensor) -> Tensor:
        """Float ``(batch, slots, dim)`` of value-scaled embeddings."""
        square_of_sum = embedded.sum(dim=1).pow(2)
        sum_of_squares = embedded.pow(2).sum(dim=1)
        return self.project(0.5 * (square_of_sum - sum_of_squares))

    def project(self, interaction: Tensor) -> Tensor:
        """Float ``(..., dim)`` interaction vectors to ``(..., outputs)``."""
        if self.projection is None:
            return interaction.sum(dim=-1, keepdim=True)
        # A broadcast product rather than a matmul: small matmuls round a row
        # differently depending on its position in the batch.
        return (interaction.unsqueeze(-2) * self.projection).sum(dim=-1)

    def pair_terms(self, pooled: Tensor) -> Tensor:
        """The term of every pair of fields, ``(batch, fields, fields,
        outputs)`` from float ``(batch, fields, dim)`` per-field sums of the
        value-scaled embeddings; zero on the diagonal.

        Summed over the pairs ``f < g``, plus the pairs of slots within one
        field, it is :meth:`forward`.
        """
        if self.projection is None:
            pairs = torch.bmm(pooled, pooled.transpose(1, 2)).unsqueeze(-1)
        else:
            scaled = pooled.unsqueeze(1) * self.projection.to(pooled.dtype)[:, None]
            pairs = torch.einsum("bcfd,bgd->bfgc", scaled, pooled)
        diagonal = torch.eye(pooled.shape[1], dtype=torch.bool, device=pooled.device)
        return pairs.masked_fill(diagonal[:, :, None], 0.0)


class MultiLayerPerceptron(nn.Module):
    """Fully connected ReLU layers with optional batch norm and dropout.

    The ReLUs work in place, on the fresh output of the layer before them:
    prediction runs about 20% faster than with a new tensor per activation.
    """

    def __init__(self, n_inputs, hidden_units, n_outputs, dropout, batch_norm):
        super().__init__()
        layers = []
        for width in hidden_units:
            layers.append(Linear(n_inputs, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU(inplace=True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            n_inputs = width
        output = Linear(n_inputs, n_outputs)
        # Starting at zero, the deep part adds nothing until it has learnt
        # something: a model fresh from a linear warm-up predicts as it did.
        nn.init.zeros_(output.weight)
        nn.init.zeros_(output.bias)
        layers.append(output)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Float ``(batch, n_inputs)``."""
        return self.layers(x)

    def split_first_layer(self, n_fields):
        """``(weight, bias, rest)`` with ``forward(x) == rest(x @ W.T + bias)``
        for inputs ``x`` of ``n_fields`` concatenated blocks: ``weight`` is the
        first linear layer's weight by input block, ``(n_fields, width,
        n_inputs // n_fields)``, and ``rest`` the layers after it."""
        first = self.layers[0]
        weight = first.weight.view(first.out_features, n_fields, -1).transpose(0, 1)
        return weight, first.bias, self.layers[1:]

    def affine_layers(self):
        """The network as it predicts (eval mode): a list of ``(weight,
        bias)`` float32 arrays of shapes ``(n_out, n_in)`` and ``(n_out,)``,
        a ReLU between consecutive layers.

        Dropout is the identity, and batch norm, an affine map of the running
        statistics, is folded into the linear layer before it.
        """
        affine = []
        for layer in self.layers:
            if isinstance(layer, nn.Linear):
                affine.append([layer.weight.double(), layer.bias.double()])
            elif isinstance(layer, nn.BatchNorm1d):
                weight, bias = affine[-1]
                scale = layer.weight.double() / torch.sqrt(
                    layer.running_var.double() + layer.eps
                )
                affine[-1] = [
                    weight * scale[:, None],
                    (bias - layer.running_mean.double()) * scale + layer.bias.double(),
                ]
        return [
            tuple(part.detach().cpu().float().numpy() for part in layer)
            for layer in affine
        ]


def distinct_rows(indices: Tensor) -> Distinct:
    """``(rows, inverse)``: the sorted distinct values of ``indices`` and where
    each entry of ``indices`` is among them."""
    return torch.unique(indices, return_inverse=True)


def lookup(
    weight: Tensor,
    indices: Tensor,
    distinct: Distinct | None = None,
    sparse: bool = False,
) -> Tensor:
    """Rows ``indices`` of the table ``weight`` (an ``nn.Embedding``'s weight,
    giving a sparse gradient when ``sparse``), reading each distinct row once
    when ``distinct`` (from :func:`distinct_rows`) is given.

    A sparse gradient then holds each row once, in increasing order, so the
    optimizer need not sort and merge (coalesce) it.
    """
    if distinct is None:
        return F.embedding(indices, weight, sparse=sparse)
    rows, inverse = distinct
    gathered = F.embedding(rows, weight, sparse=sparse)
    gathered = gathered.index_select(0, inverse.flatten())
    # the table's width, not -1: an empty batch (a small shard's step) works
    return gathered.view(indices.shape[0], indices.shape[1], weight.shape[1])


def pool_fields(embedded: Tensor, fields: Tensor | None, n_fields: int) -> Tensor:
    """Sum the slots of each field: ``(batch, slots, dim)`` to ``(batch, fields, dim)``.

    ``fields`` is None when slot ``s`` already is field ``s``.
    """
    if fields is None:
        return embedded
    batch, dim = embedded.shape[0], embedded.shape[2]
    pooled = embedded.new_zeros([batch, n_fields, dim])
    return pooled.scatter_add_(1, fields.unsqueeze(-1).expand(-1, -1, dim), embedded)


class DeepFM(nn.Module):
    """DeepFM: first-order + FM + MLP over one shared embedding table.

    Parameters
    ----------
    n_embeddings : int
        Rows of the shared embedding table (all fields, with per-field offsets).
    n_fields : int
        Number of fields; the MLP sees ``n_fields * embedding_dim`` inputs.
    embedding_dim : int
        Size of each embedding vector.
    hidden_units : tuple of int
        Widths of the MLP's hidden layers.
    n_outputs : int
        1 for binary classification and regression, else the number of classes.
    dropout : float
        Dropout rate after each hidden layer.
    batch_norm : bool
        Whether to put batch normalisation after each hidden linear layer.
    embedding_init_std : float
        Standard deviation of the normal initialisation of the embeddings.
    sparse : bool
        Whether the embedding tables produce sparse gradients.
    mlp_dtype : torch.dtype or None
        Lower-precision dtype (``torch.bfloat16``) in which the MLP's matrix
        products run under autocast; None keeps them in float32.  The
        parameters, the embeddings, the FM and the outputs stay float32.
    """

    def __init__(
        self,
        n_embeddings,
        n_fields,
        embedding_dim=10,
        hidden_units=(256, 128),
        n_outputs=1,
        dropout=0.0,
        batch_norm=False,
        embedding_init_std=0.01,
        sparse=False,
        mlp_dtype=None,
    ):
        super().__init__()
        self.n_fields = n_fields
        self.embedding_init_std = embedding_init_std
        self.mlp_dtype = mlp_dtype
        self.linear_only = False
        self.linear = FeaturesLinear(n_embeddings, n_outputs, sparse=sparse)
        self.embedding = nn.Embedding(n_embeddings, embedding_dim, sparse=sparse)
        nn.init.normal_(self.embedding.weight, std=embedding_init_std)
        self.fm = FactorizationMachine(embedding_dim, n_outputs)
        self.mlp = MultiLayerPerceptron(
            n_fields * embedding_dim, hidden_units, n_outputs, dropout, batch_norm
        )

    def forward(
        self,
        indices: Tensor,
        values: Tensor | None = None,
        fields: Tensor | None = None,
    ) -> Tensor:
        """Integer ``(batch, slots)`` (int32 or int64), float ``(batch, slots)``,
        long ``(batch, slots)``.

        Returns the raw outputs (logits), float ``(batch,)`` with one output,
        else ``(batch, n_outputs)``.  With ``linear_only`` set (during a
        linear warm-up) only the first-order term is computed.
        """
        distinct: Distinct | None = None
        # Reading each distinct row once only pays off for sparse gradients;
        # an inference graph (eval mode) never contains the unique op.
        if self.training and self.embedding.sparse and torch.is_grad_enabled():
            distinct = distinct_rows(indices)
        output = self.linear(indices, values, distinct)
        if not self.linear_only:
            table = self.embedding
            embedded = lookup(table.weight, indices, distinct, table.sparse)
            if values is not None:
                embedded = embedded * values.unsqueeze(-1)
            deep_input = pool_fields(embedded, fields, self.n_fields).flatten(1)
            if self.mlp_dtype is None:
                deep = self.mlp(deep_input)
            else:
                deep = self._mixed_precision_mlp(deep_input)
            output = output + self.fm(embedded) + deep
        return output.squeeze(1) if output.shape[1] == 1 else output

    @torch.jit.unused
    def field_terms(
        self,
        indices: Tensor,
        values: Tensor | None = None,
        fields: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """The parts of the output by field, for rows given as to :meth:`forward`.

        Returns float32 tensors: ``first_order`` ``(batch, fields, outputs)``,
        each field's first-order term (the bias apart); ``pooled`` ``(batch,
        fields, dim)``, the value-scaled embeddings summed by field (the deep
        part's input, from which :meth:`FactorizationMachine.pair_terms`
        gives the FM's pairs of fields); ``within`` ``(batch, fields,
        outputs)``, the FM term of the pairs of slots of one field (zero with
        one slot per field); ``deep`` ``(batch, outputs)``, the deep part as
        :meth:`forward` computes it.  With ``linear_only``, all but
        ``first_order`` are zero (the module uses no embedding).
        """
        n_outputs = self.linear.bias.shape[0]
        weights = self.linear.weight(indices)
        if values is not None:
            weights = weights * values.unsqueeze(-1)
        first_order = pool_fields(weights, fields, self.n_fields)
        batch = indices.shape[0]
        if self.linear_only:
            dim = self.embedding.embedding_dim
            pooled = first_order.new_zeros((batch, self.n_fields, dim))
            within = first_order.new_zeros((batch, self.n_fields, n_outputs))
            deep = first_order.new_zeros((batch, n_outputs))
        else:
            embedded = self.embedding(indices)
            if values is not None:
                embedded = embedded * values.unsqueeze(-1)
            pooled = pool_fields(embedded, fields, self.n_fields)
            squares = pool_fields(embedded.pow(2), fields, self.n_fields)
            within = self.fm.project(0.5 * (pooled.pow(2) - squares))
            if self.mlp_dtype is None:
                deep = self.mlp(pooled.flatten(1))
            else:
                deep = self._mixed_precision_mlp(pooled.flatten(1))
        return {
            "first_order": first_order,
            "pooled": pooled,
            "within": within,
            "deep": deep,
        }

    @torch.jit.unused
    def _mixed_precision_mlp(self, deep_input: Tensor) -> Tensor:
        """The MLP with its matrix products in ``mlp_dtype``, output float32.

        Not scripted: export a float32 copy (``mlp_dtype=None``) instead.
        """
        with torch.autocast(deep_input.device.type, dtype=self.mlp_dtype):
            return self.mlp(deep_input).float()
