"""The DeepFM network (Guo et al., IJCAI 2017) as small PyTorch modules.

A row arrives as one slot per single-valued field, each naming one
embedding row (``indices``) and the feature's value (``values``, 1 for a
category), and, when some fields hold any number of values (multi-valued
columns, sparse fields with several columns set), as *bags*: flat embedding
rows (``bag_rows``), where each field's bag starts (``bag_offsets``) and
per-value weights (``bag_weights``).  Each field ``f`` becomes one vector
``e_f``: its slot's ``v_i x_i``, or its bag's ``sum_{i in f} v_i x_i`` (the
weights ``x_i`` being the values, or ``1 / n`` for a mean).  The model is
the paper's equation over those field vectors::

    y(x) = bias + sum_f sum_{i in f} w_i x_i             first order
                [+ sum_{f<g} w_(x_f, x_g)                crosses, when kept]
                + sum_{f<g} <e_f, e_g>                   FM, second order
                + MLP(concat_f e_f)                      deep part

where one embedding table ``v`` is shared by the FM and the deep part.  As
in the DeepFM paper and DeepCTR, a field is one vector: the values of one
multi-valued field are pooled first and do not interact with each other
(libFM, which makes every value its own feature, would add those pairs).
With one value per field this is the FM over features exactly.  With
several outputs (multiclass) the FM's per-dimension interaction vector is
mapped to each output by a learned projection; with one output the projection
is the plain sum over dimensions, which is the paper's FM term exactly.
"""

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import _seeding
from ._cpu_linear import Linear
from ._crosses import PairCrosses, single_rows

# every parameter and buffer, whatever torch's default dtype (a process that
# set float64 built, and trained, another model; float16 diverged)
FLOAT = torch.float32

# The distinct rows of a batch's indices and where each index is among them.
Distinct = tuple[Tensor, Tensor]


class FeaturesLinear(nn.Module):
    """First-order term: a weight per feature (and output) times its value."""

    def __init__(self, n_embeddings, n_outputs, sparse=False):
        super().__init__()
        self.weight = nn.Embedding(n_embeddings, n_outputs, sparse=sparse, dtype=FLOAT)
        self.bias = nn.Parameter(torch.zeros(n_outputs, dtype=FLOAT))
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
            self.projection = nn.Parameter(
                torch.ones(n_outputs, embedding_dim, dtype=FLOAT)
            )

    def forward(self, embedded: Tensor, scratch: Tensor | None = None) -> Tensor:
        """Float ``(batch, slots, dim)`` of value-scaled embeddings;
        ``scratch``, a float32 buffer of at least as many numbers, takes the
        squares instead of a new tensor (in eval mode)."""
        square_of_sum = embedded.sum(dim=1).pow(2)
        if scratch is None or scratch.numel() < embedded.numel():
            squares = embedded.pow(2)
        else:
            squares = scratch[: embedded.numel()].view(embedded.shape)
            torch.pow(embedded, 2, out=squares)
        sum_of_squares = squares.sum(dim=1)
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

        Summed over the pairs ``f < g``, it is :meth:`forward` of the field
        vectors.
        """
        if self.projection is None:
            pairs = torch.bmm(pooled, pooled.transpose(1, 2)).unsqueeze(-1)
        else:
            scaled = pooled.unsqueeze(1) * self.projection.to(pooled.dtype)[:, None]
            pairs = torch.einsum("bcfd,bgd->bfgc", scaled, pooled)
        diagonal = torch.eye(pooled.shape[1], dtype=torch.bool, device=pooled.device)
        return pairs.masked_fill(diagonal[:, :, None], 0.0)


class Dropout(nn.Dropout):
    """:class:`torch.nn.Dropout` whose masks, in training, come from the
    fit's own generator where one is drawing (:mod:`~sklearn_deepfm._seeding`)
    rather than from torch's global one, with the same kernel: the masks of a
    generator in the global one's state are the same bits."""

    def forward(self, x: Tensor) -> Tensor:
        """Float ``(batch, width)``."""
        if torch.jit.is_scripting():
            return F.dropout(x, self.p, self.training)
        if self.training:
            return self._drop(x)
        return x

    @torch.jit.unused
    def _drop(self, x: Tensor) -> Tensor:
        generator = _seeding.generator()
        if generator is None or generator.device != x.device:
            return super().forward(x)
        # what F.dropout computes on the CPU, with the generator given
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=generator)
        return x * keep.div_(1 - self.p)


class MultiLayerPerceptron(nn.Module):
    """Fully connected ReLU layers with optional batch norm and dropout.

    The ReLUs work in place, on the fresh output of the layer before them:
    prediction runs about 20% faster than with a new tensor per activation.
    """

    def __init__(self, n_inputs, hidden_units, n_outputs, dropout, batch_norm):
        super().__init__()
        layers = []
        for width in hidden_units:
            layers.append(Linear(n_inputs, width, dtype=FLOAT))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width, dtype=FLOAT))
            layers.append(nn.ReLU(inplace=True))
            if dropout > 0:
                layers.append(Dropout(dropout))
            n_inputs = width
        output = Linear(n_inputs, n_outputs, dtype=FLOAT)
        # Starting at zero, the deep part adds nothing until it has learnt
        # something: a model fresh from a linear warm-up predicts as it did.
        nn.init.zeros_(output.weight)
        nn.init.zeros_(output.bias)
        layers.append(output)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor, workspace: list[Tensor] | None = None) -> Tensor:
        """Float ``(batch, n_inputs)``; ``workspace``: see :meth:`workspace`."""
        if workspace is None or torch.jit.is_scripting():
            return self.layers(x)
        return self._forward_into(x, workspace)

    def workspace(self, n_rows, device):
        """Two float32 buffers for the activations of up to ``n_rows`` rows,
        which :meth:`forward` in eval mode writes into in turn.

        A prediction that passes the same workspace with every batch asks
        for no new memory per batch. With new tensors, a prediction of 200k
        rows in 4096-row batches made from 500 to 150,000 minor page faults
        depending on the process (the C allocator giving the 6.5 MB
        activations back to the system between batches or not); with the
        workspace, at most 3,700 in ten processes, and the median of five
        fresh-process predictions on the benchmark's wide set went from 164k
        to 213k rows/s (``benchmarks/run.py``'s ``predict_minor_faults``;
        results/predict_runs_intel_before.md and predict_runs_intel.md).
        Where the products run on oneDNN, they return new tensors instead
        and the buffers stay untouched (see :mod:`sklearn_deepfm._allocator`).
        """
        layers = self._linear_layers()
        width = max(layer.out_features for layer in layers)
        dtype = layers[0].weight.dtype
        return [
            torch.empty(n_rows * width, dtype=dtype, device=device) for _ in range(2)
        ]

    def _linear_layers(self):
        return [layer for layer in self.layers if isinstance(layer, nn.Linear)]

    @torch.jit.unused
    def _forward_into(self, x: Tensor, workspace: list[Tensor]) -> Tensor:
        """:meth:`forward` in eval mode, each linear layer (and the in-place
        ReLU after it) writing into the next buffer of ``workspace``; the
        result is a view of a buffer."""
        turn = 0
        for layer in self.layers:
            if isinstance(layer, Linear):
                buffer = workspace[turn % len(workspace)]
                out = buffer[: x.shape[0] * layer.out_features]
                x = layer.into(x, out.view(x.shape[0], layer.out_features))
                turn += 1
            else:  # ReLU in place, dropout and batch norm in eval mode
                x = layer(x)
        return x

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


def _gather_into(weight: Tensor, indices: Tensor, buffer: Tensor) -> Tensor:
    """``F.embedding(indices, weight)`` (eval mode) written into ``buffer``
    when it is large enough, else a new tensor: the same rows, copied."""
    shape = [indices.shape[0], indices.shape[1], weight.shape[1]]
    if torch.jit.is_scripting() or buffer.numel() < indices.numel() * weight.shape[1]:
        return F.embedding(indices, weight)
    out = buffer[: indices.numel() * weight.shape[1]].view(-1, weight.shape[1])
    torch.index_select(weight, 0, indices.reshape(-1), out=out)
    return out.view(shape)


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


def pool_bags(
    weight: Tensor,
    bag_rows: Tensor,
    bag_offsets: Tensor,
    bag_weights: Tensor | None,
    n_rows: int,
    n_bags: int,
    sparse: bool = False,
) -> Tensor:
    """The weighted sum of the rows of ``weight`` in each bag, ``(n_rows,
    n_bags, width)``: flat long ``bag_rows``, long ``bag_offsets`` of shape
    ``(n_rows * n_bags,)`` (bags row by row), float ``bag_weights`` or None
    (all 1).  An empty bag is a zero vector.

    ``n_bags`` is given, not read from ``bag_offsets``: a batch of no rows
    (a small shard's step in distributed training) has no offsets, and
    still pools to ``(0, n_bags, width)``, as the fields it concatenates
    with need.
    """
    pooled = F.embedding_bag(
        bag_rows,
        weight,
        bag_offsets,
        mode="sum",
        sparse=sparse,
        per_sample_weights=bag_weights,
    )
    return pooled.view(n_rows, n_bags, weight.shape[1])


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
    bag_fields : tuple of int
        Fields that arrive as bags while others arrive as slots (the
        multi-valued columns of a table); the field vectors are put back in
        field order.  Empty when all fields arrive one way or the other.
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
        bag_fields=(),
    ):
        super().__init__()
        self.n_fields = n_fields
        self.set_bag_fields(bag_fields)
        self.embedding_init_std = embedding_init_std
        self.mlp_dtype = mlp_dtype
        self.linear_only = False
        self.linear = FeaturesLinear(n_embeddings, n_outputs, sparse=sparse)
        # first-order weights of pairs of categories: none unless the
        # recipe's linear solve keeps them (see sklearn_deepfm._crosses)
        self.crosses = PairCrosses(n_outputs)
        self.embedding = nn.Embedding(
            n_embeddings, embedding_dim, sparse=sparse, dtype=FLOAT
        )
        nn.init.normal_(self.embedding.weight, std=embedding_init_std)
        self.fm = FactorizationMachine(embedding_dim, n_outputs)
        self.mlp = MultiLayerPerceptron(
            n_fields * embedding_dim, hidden_units, n_outputs, dropout, batch_norm
        )

    @torch.jit.unused
    def set_bag_fields(self, bag_fields):
        """The fields that arrive as bags (see ``bag_fields``): at
        construction, and where a field that held no value turns into a
        multi-valued one (``partial_fit``)."""
        self.bag_fields = tuple(int(field) for field in bag_fields)
        arrival = [f for f in range(self.n_fields) if f not in self.bag_fields]
        arrival += list(self.bag_fields)
        order = None
        if arrival != sorted(arrival):
            order = torch.as_tensor(arrival).argsort()
        # derived from bag_fields: not part of the saved weights
        if "field_order" in self._buffers:  # (a built module: on its device)
            device = self.embedding.weight.device
            self._buffers["field_order"] = None if order is None else order.to(device)
        else:
            self.register_buffer("field_order", order, persistent=False)

    def forward(
        self,
        indices: Tensor,
        values: Tensor | None = None,
        bag_rows: Tensor | None = None,
        bag_offsets: Tensor | None = None,
        bag_weights: Tensor | None = None,
    ) -> Tensor:
        """Integer ``(batch, slots)`` (int32 or int64), float ``(batch,
        slots)``; for bags, long ``(n_entries,)``, long ``(batch * n_bags,)``
        and float ``(n_entries,)`` (see :func:`pool_bags`).

        Returns the raw outputs (logits), float ``(batch,)`` with one output,
        else ``(batch, n_outputs)``.  With ``linear_only`` set (during a
        linear warm-up) only the first-order term is computed.
        """
        return self._outputs(indices, values, bag_rows, bag_offsets, bag_weights, None)

    @torch.jit.unused
    def predict_into(
        self,
        workspace: list[Tensor] | None,
        indices: Tensor,
        values: Tensor | None = None,
        bag_rows: Tensor | None = None,
        bag_offsets: Tensor | None = None,
        bag_weights: Tensor | None = None,
    ) -> Tensor:
        """:meth:`forward` in eval mode, the deep part's float32 layers
        writing into the buffers of ``workspace`` (from
        :meth:`MultiLayerPerceptron.workspace`; None: new tensors) instead of
        new tensors: the same outputs, which do not share its memory, without
        fresh memory for every batch."""
        return self._outputs(
            indices, values, bag_rows, bag_offsets, bag_weights, workspace
        )

    def _outputs(
        self,
        indices: Tensor,
        values: Tensor | None,
        bag_rows: Tensor | None,
        bag_offsets: Tensor | None,
        bag_weights: Tensor | None,
        workspace: list[Tensor] | None,
    ) -> Tensor:
        distinct: Distinct | None = None
        # Reading each distinct row once only pays off for sparse gradients;
        # an inference graph (eval mode) never contains the unique op.
        if self.training and self.embedding.sparse and torch.is_grad_enabled():
            distinct = distinct_rows(indices)
        output = self.linear(indices, values, distinct)
        if self.crosses.pairs.shape[0] > 0:
            categories = self._category_rows(indices, bag_rows, bag_offsets)
            output = output + self.crosses(categories)
        n_rows = indices.shape[0]
        if bag_rows is not None and bag_offsets is not None:
            table = self.linear.weight
            pooled = pool_bags(
                table.weight,
                bag_rows,
                bag_offsets,
                bag_weights,
                n_rows,
                self._n_bags(indices),
                table.sparse,
            )
            output = output + pooled.sum(dim=1)
        if not self.linear_only:
            table = self.embedding
            if workspace is None:
                embedded = lookup(table.weight, indices, distinct, table.sparse)
            else:
                embedded = _gather_into(table.weight, indices, workspace[2])
            if values is not None:
                embedded = embedded * values.unsqueeze(-1)
            if bag_rows is not None and bag_offsets is not None:
                pooled = pool_bags(
                    table.weight,
                    bag_rows,
                    bag_offsets,
                    bag_weights,
                    n_rows,
                    self._n_bags(indices),
                    table.sparse,
                )
                embedded = self._in_field_order(torch.cat([embedded, pooled], dim=1))
            deep_input = embedded.flatten(1)
            if self.mlp_dtype is None:
                deep = self.mlp(
                    deep_input, None if workspace is None else workspace[:2]
                )
            else:
                deep = self._mixed_precision_mlp(deep_input)
            scratch = None if workspace is None else workspace[3]
            output = output + self.fm(embedded, scratch) + deep
        return output.squeeze(1) if output.shape[1] == 1 else output

    def workspace(self, n_rows, device):
        """The buffers :meth:`predict_into` writes into, for batches of up to
        ``n_rows`` rows: the deep part's two (see
        :meth:`MultiLayerPerceptron.workspace`), then the embedded slots of
        one slot per field and the FM's squares (larger batches, such as
        sparse rows with more slots, get new tensors).  None where the
        forward would use none: with only the first-order part, or the deep
        part in ``mlp_dtype``."""
        if self.linear_only or self.mlp_dtype is not None:
            return None
        slots = n_rows * self.n_fields * self.embedding.embedding_dim
        dtype = self.embedding.weight.dtype
        buffers = [torch.empty(slots, dtype=dtype, device=device) for _ in range(2)]
        return self.mlp.workspace(n_rows, device) + buffers

    def _category_rows(
        self, indices: Tensor, bag_rows: Tensor | None, bag_offsets: Tensor | None
    ) -> Tensor:
        """The embedding row of each field's one value, ``(batch, fields)``
        long, -1 for a bag of no value or several: what the crosses are
        keyed by (see :mod:`~sklearn_deepfm._crosses`)."""
        categories = indices.long()
        if bag_rows is not None and bag_offsets is not None:
            bags = single_rows(bag_rows, bag_offsets, indices.shape[0])
            # no rows give (0, 0): the bag fields are still there
            bags = bags.reshape(indices.shape[0], self._n_bags(indices))
            categories = torch.cat([categories, bags], dim=1)
            categories = self._in_field_order(categories.unsqueeze(-1)).squeeze(-1)
        return categories

    def _n_bags(self, indices: Tensor) -> int:
        """Fields that arrive as bags: those without a slot in ``indices``."""
        return self.n_fields - indices.shape[1]

    def _in_field_order(self, embedded: Tensor) -> Tensor:
        """Slot fields then bag fields, ``(batch, n_fields, width)``, put in
        field order."""
        order = self.field_order
        if order is None:
            return embedded
        return embedded.index_select(1, order)

    @torch.jit.unused
    def field_vectors(
        self,
        indices: Tensor,
        values: Tensor | None = None,
        bag_rows: Tensor | None = None,
        bag_offsets: Tensor | None = None,
        bag_weights: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Per field, the first-order term ``(batch, n_fields, n_outputs)``
        and the field vector ``e_f``, ``(batch, n_fields, dim)``: what
        :meth:`forward` sums (first order), pairs (FM) and concatenates (deep
        part), with the inputs of :meth:`forward`."""
        parts = []
        for table in (self.linear.weight, self.embedding):
            slots = F.embedding(indices, table.weight)
            if values is not None:
                slots = slots * values.unsqueeze(-1)
            if bag_rows is not None and bag_offsets is not None:
                pooled = pool_bags(
                    table.weight,
                    bag_rows,
                    bag_offsets,
                    bag_weights,
                    indices.shape[0],
                    self._n_bags(indices),
                )
                slots = self._in_field_order(torch.cat([slots, pooled], dim=1))
            parts.append(slots)
        return parts[0], parts[1]

    @torch.jit.unused
    def field_terms(
        self,
        indices: Tensor,
        values: Tensor | None = None,
        bag_rows: Tensor | None = None,
        bag_offsets: Tensor | None = None,
        bag_weights: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """The parts of the output by field, for rows given as to :meth:`forward`.

        Returns float32 tensors: ``first_order`` ``(batch, fields, outputs)``,
        each field's first-order term (the bias apart); ``pooled`` ``(batch,
        fields, dim)``, the field vectors (the deep part's input, from which
        :meth:`FactorizationMachine.pair_terms` gives the FM's pairs of
        fields); ``deep`` ``(batch, outputs)``, the deep part as
        :meth:`forward` computes it; ``crosses`` ``(batch, pairs, outputs)``,
        the crossed first-order term of each pair of :meth:`cross_fields`.
        With ``linear_only``, ``pooled`` and ``deep`` are zero (the module
        uses no embedding).
        """
        first_order, pooled = self.field_vectors(
            indices, values, bag_rows, bag_offsets, bag_weights
        )
        if self.linear_only:
            pooled = torch.zeros_like(pooled)
            deep = first_order.new_zeros((indices.shape[0], first_order.shape[2]))
        elif self.mlp_dtype is None:
            deep = self.mlp(pooled.flatten(1))
        else:
            deep = self._mixed_precision_mlp(pooled.flatten(1))
        crosses = self.crosses.pair_terms(
            self._category_rows(indices, bag_rows, bag_offsets)
        )
        return {
            "first_order": first_order,
            "pooled": pooled,
            "deep": deep,
            "crosses": crosses,
        }

    @torch.jit.unused
    def restart_interactions(self):
        """Start the FM and deep parts as a new model's, the first-order part
        and the crosses kept: the embeddings drawn afresh, the deep part's
        layers reset and its output layer at zero, so that they add nothing
        (the FM next to nothing) until they learn.  Draws from torch's
        random state."""
        with torch.no_grad():
            nn.init.normal_(self.embedding.weight, std=self.embedding_init_std)
            if self.fm.projection is not None:
                self.fm.projection.fill_(1.0)
            for layer in self.mlp.layers:
                if hasattr(layer, "reset_parameters"):
                    layer.reset_parameters()
                if isinstance(layer, nn.BatchNorm1d):
                    layer.reset_running_stats()
            output = self.mlp._linear_layers()[-1]
            output.weight.zero_()
            output.bias.zero_()

    @torch.jit.unused
    def interaction_parameters(self):
        """The parameters of the FM and deep parts."""
        return [self.embedding.weight, *self.fm.parameters(), *self.mlp.parameters()]

    @torch.jit.unused
    def scale_interactions(self, factor: float):
        """Multiply the FM and deep terms of every output by ``factor`` in
        (0, 1], folded into the weights as batch norm is folded into a
        layer: the embeddings by sqrt(factor) (the FM is quadratic in them),
        the deep part's first layer by 1 / sqrt(factor) (its input is the
        embeddings, so its hidden units do not change) and its output layer
        by ``factor``.  Every reader of the weights (prediction, exports,
        explanations) then sees the scaled model."""
        root = float(factor) ** 0.5
        layers = self.mlp._linear_layers()
        with torch.no_grad():
            self.embedding.weight.mul_(root)
            layers[0].weight.div_(root)
            layers[-1].weight.mul_(factor)
            layers[-1].bias.mul_(factor)

    @torch.jit.unused
    def cross_fields(self) -> Tensor:
        """The two fields of each crossed pair, ``(pairs, 2)`` long."""
        return self.crosses.pairs.cpu()

    @torch.jit.unused
    def _mixed_precision_mlp(self, deep_input: Tensor) -> Tensor:
        """The MLP with its matrix products in ``mlp_dtype``, output float32.

        Not scripted: export a float32 copy (``mlp_dtype=None``) instead.
        """
        with torch.autocast(deep_input.device.type, dtype=self.mlp_dtype):
            return self.mlp(deep_input).float()
