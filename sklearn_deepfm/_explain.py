"""Why a prediction: the raw output of a fitted DeepFM split into per-field
and per-pair-of-fields contributions (:class:`Explanation`), and the
attribution that computes them.

The raw output (logit, or standardised prediction) of a row is::

    bias + sum_f first_order(f) + sum_{f<g} pair(f, g)
         + deep(field vectors of every field)

where ``pair(f, g)`` is the FM term of the pair of fields (the inner product
of their field vectors, pooled for a multi-valued field, projected per
output), plus the weight of the pair's cross when the first-order part holds
crosses (:mod:`~sklearn_deepfm._crosses`).  All of it is additive over
fields and pairs except the deep part, which is attributed to the fields by
their Shapley values against the empty row (every field's embedding zero):
exactly, over all ``2**F`` coalitions, for few fields (see :func:`_plan`),
else by sampling permutations of the fields with their reverses (antithetic
sampling).  With the same baseline, the first-order and FM terms are the
exact Shapley values of their parts of the model, so the whole explanation
is the Shapley decomposition of the game "a field absent contributes nothing".

The deep part's total is taken as the prediction computes it (bfloat16
under mixed precision), so ``base_values + values.sum(1)`` is the raw output
up to float32 rounding; the difference between that total and the float32
evaluation of the coalitions is shared equally by the fields, as exact
Shapley values would share it.
"""

import math
import operator

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._columns import LIST_TYPES, _is_missing

# Rows of the deep part evaluated together (coalitions times rows).
MLP_ROWS = 4096

# Evaluations of the deep part per row that n_permutations='auto' spends: the
# exact values up to 6 fields (2**6 - 2 = 62 coalitions), else as many pairs of
# permutations as fit (at least one).  An evaluation costs the layers after
# the first (the first is shared, see _DeepByField); on the default network
# explain then took 21.9 (39 fields) and 27.2 (8 fields) times as long as
# predict_proba (benchmarks/results/explain.md).
AUTO_EVALUATIONS = 64

# Rows whose pairs of fields are computed together.
PAIR_ROWS = 4096


class Explanation:
    """Per-field and per-pair-of-fields contributions to the outputs of a
    DeepFM model, in shap's format and bookkeeping.

    Returned by :meth:`DeepFMClassifier.explain
    <sklearn_deepfm.DeepFMClassifier.explain>` and
    :meth:`DeepFMRegressor.explain <sklearn_deepfm.DeepFMRegressor.explain>`.
    The identities ``base_values + values.sum(axis=1) == output`` (the
    classifier's ``decision_function``, the regressor's ``predict``) and
    ``values == interaction_values.sum(axis=2)`` hold up to float32
    rounding.  With several outputs (a multiclass classifier) every array
    has a trailing axis of one entry per class.

    Parameters
    ----------
    values : ndarray of shape (n_samples, n_fields) or \
            (n_samples, n_fields, n_outputs)
        Contribution of each field to each row's output.
    base_values : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        The output of a row without any field (every field's embedding
        and first-order term zero); the same for every row.
    interaction_values : ndarray of shape (n_samples, n_fields, n_fields) \
            or (n_samples, n_fields, n_fields, n_outputs)
        ``interaction_values[:, f, g]`` (``f != g``) holds half of the FM
        term of the pair of fields ``f`` and ``g`` (and of the pair's cross
        weight when the first-order part holds crosses,
        ``crosses_share_`` above 0), and so does ``[:, g, f]``; the diagonal
        ``[:, f, f]`` holds the first-order term of ``f`` and ``f``'s share
        of the deep part.
    data : ndarray of shape (n_samples, n_fields), dtype=object
        Each field's value in each row: the category label or number as in
        ``X``; for a multi-valued field, the cell's values (a list, tuple or
        array) as in ``X``; for an indicator block or a field of several
        sparse columns, the name(s) of the active column(s) (None when none
        is set).
    feature_names : list of str
        The name of each field: a DataFrame's column names (``feature_names_in_``,
        which holds string names only; a field of several columns is named
        ``"<first column>..."``, a whole-number column's numeric reading
        ``"<column> (number)"``), the labels given in ``fields``, else
        ``"field 0"``, ``"field 1"``, ... (see the user guide, "Explaining
        predictions").
    output_names : list of str or None
        The class of each output (multiclass), else None.
    method : {'exact', 'permutation'}
        How the deep part was attributed.
    n_permutations : int or None
        Permutations sampled (``method='permutation'``), else None.

    See Also
    --------
    sklearn_deepfm.plotting.FieldInteractionDisplay.from_explanation :
        Heat map of the mean absolute pair terms.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_deepfm import DeepFMClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 5, size=(500, 4))
    >>> y = (X[:, 0] == X[:, 1]).astype(int)
    >>> model = DeepFMClassifier(hidden_units=(16,), max_epochs=3,
    ...                          random_state=0).fit(X, y)
    >>> explanation = model.explain(X[:10])
    >>> explanation.values.shape, explanation.interaction_values.shape
    ((10, 4), (10, 4, 4))
    >>> total = explanation.base_values + explanation.values.sum(axis=1)
    >>> bool(np.allclose(total, model.decision_function(X[:10]), atol=1e-5))
    True
    """

    def __init__(
        self,
        values,
        base_values,
        interaction_values,
        data,
        feature_names,
        *,
        output_names=None,
        method="exact",
        n_permutations=None,
    ):
        self.values = values
        self.base_values = base_values
        self.interaction_values = interaction_values
        self.data = data
        self.feature_names = feature_names
        self.output_names = output_names
        self.method = method
        self.n_permutations = n_permutations

    def __len__(self):
        return self.values.shape[0]

    def __getitem__(self, rows):
        """The explanation of ``rows`` (an int, slice, mask or index array);
        an int beyond the rows raises IndexError, as a NumPy array's does
        (an empty explanation made ``for row in explanation`` endless)."""
        if isinstance(rows, np.ndarray) and rows.ndim == 0:
            rows = rows.item()  # a 0-d array dropped the row axis
        if (
            isinstance(rows, (bool, np.bool_))
            or rows is None
            or isinstance(rows, tuple)
        ):
            # NumPy reads these as a new axis or a second dimension, and the
            # explanation came out malformed ("1 row(s)" of 10)
            raise TypeError(
                f"An explanation is indexed by rows (an int, slice, mask or "
                f"index array), not by {rows!r}; to_shap()[:, name] selects a "
                "field."
            )
        if isinstance(rows, (int, np.integer)):
            row = operator.index(rows)
            if not -len(self) <= row < len(self):
                raise IndexError(
                    f"row {row} is out of range for an explanation of "
                    f"{len(self)} row(s)."
                )
            row %= len(self)
            rows = slice(row, row + 1)
        return Explanation(
            self.values[rows],
            self.base_values[rows],
            self.interaction_values[rows],
            self.data[rows],
            self.feature_names,
            output_names=self.output_names,
            method=self.method,
            n_permutations=self.n_permutations,
        )

    def __repr__(self):
        outputs = "" if self.output_names is None else f" x {len(self.output_names)}"
        return (
            f"<Explanation of {len(self)} row(s) x {len(self.feature_names)} "
            f"field(s){outputs}, deep part: {self.method}>"
        )

    def pair_strength(self):
        """Mean absolute term of every pair of fields over the rows (the FM
        term, plus the pair's cross weight where crosses were mixed in).

        Returns
        -------
        strength : ndarray of shape (n_fields, n_fields)
            Symmetric, NaN on the diagonal; with several outputs, the mean
            is also over the outputs.
        """
        if not len(self):  # (NumPy could not reshape no row)
            raise ValueError("An explanation of no row has no pair strength.")
        pairs = 2.0 * np.abs(self.interaction_values)
        strength = pairs.reshape(*pairs.shape[:3], -1).mean(axis=(0, 3))
        np.fill_diagonal(strength, np.nan)
        return strength

    def to_shap(self):
        """The explanation as a :class:`shap.Explanation`, for shap's plots.

        ``display_data`` holds the values as :attr:`data` holds them, but
        a multi-valued field's values joined into one string (``"news,
        tech"``, an empty list ``""``), as a field of several sparse columns
        shows its active columns: shap reads a cell holding a sequence as
        one more axis, which breaks the selection of a class.  ``data``
        holds each field's value as a number where it is one (a
        categorical field's label when it is a number, else the label's
        position among the field's values in these rows, for colour; NaN
        if missing).  A multiclass explanation keeps its trailing class
        axis: select one class (``shap_values[..., k]``) for a waterfall
        or beeswarm plot.

        Returns
        -------
        explanation : shap.Explanation
        """
        try:
            import shap
        except ImportError as exc:
            raise ImportError(
                "Explanation.to_shap requires shap, which is not installed. "
                "Install it with `pip install shap` or `pip install "
                '"sklearn-deepfm[explain]"`.'
            ) from exc
        display = _display_data(self.data)
        return shap.Explanation(
            values=self.values,
            base_values=self.base_values,
            data=_numeric_data(display),
            display_data=display,
            feature_names=list(self.feature_names),
            output_names=self.output_names,
        )


def _display_data(data):
    """``data`` with each multi-valued cell (a list, tuple or array) as one
    string joining its values, so that shap sees a 2-D array of scalars."""
    display = data.copy()
    for index, value in np.ndenumerate(data):
        if isinstance(value, LIST_TYPES):
            display[index] = ", ".join(str(item) for item in value)
    return display


def _numeric_data(data):
    """Each column of ``data`` as float64: numbers as they are, other labels
    by their position among the column's distinct labels (NaN if missing)."""
    numeric = np.full(data.shape, np.nan)
    for f in range(data.shape[1]):
        column = data[:, f]
        present = np.array([not _is_missing(v) for v in column], dtype=bool)
        values = column[present]
        try:
            # numbers only: '01' and '1' are two labels, 'nan' no missing value
            if any(isinstance(value, (str, bytes)) for value in values):
                raise TypeError
            numeric[present, f] = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            labels = np.array([str(value) for value in values], dtype=object)
            numeric[present, f] = np.unique(labels, return_inverse=True)[1]
    return numeric


def field_attributions(net, dataset, n_permutations, random_state):
    """The contributions of :class:`Explanation`, in raw output units.

    Parameters
    ----------
    net : DeepFMNet
        The fitted net.
    dataset : EncodedDataset
        The rows to explain.
    n_permutations : 'auto', 'exact' or int
        See the estimators' ``explain``.
    random_state : int, RandomState instance or None
        Seeds the sampled permutations.

    Returns
    -------
    interaction_values : ndarray (n_samples, n_fields, n_fields, n_outputs)
    base_values : ndarray (n_outputs,)
    method : str
    n_permutations : int or None
    """
    terms = net.field_terms(dataset)
    pooled = terms["pooled"]
    n_rows, n_fields = pooled.shape[:2]
    n_outputs = terms["deep"].shape[1]
    interactions = torch.empty(
        (n_rows, n_fields, n_fields, n_outputs), dtype=torch.float64
    )
    for start in range(0, n_rows, PAIR_ROWS):
        block = pooled[start : start + PAIR_ROWS].double()
        interactions[start : start + PAIR_ROWS] = 0.5 * net.pair_terms(block).cpu()
    # a crossed pair's first-order weight is the pair's alone: half each
    crossed = 0.5 * terms["crosses"].double().cpu()
    for pair, (f, g) in enumerate(net.cross_fields().tolist()):
        interactions[:, f, g] += crossed[:, pair]
        interactions[:, g, f] += crossed[:, pair]
    method, n_permutations = _plan(n_fields, n_permutations)
    if net.linear_only():  # no deep part: nothing to attribute, nor to sample
        method, n_permutations = "exact", None
        deep = torch.zeros((n_rows, n_fields, n_outputs), dtype=torch.float64)
        empty = torch.zeros(n_outputs, dtype=torch.float64)
    else:
        weight, bias, rest = net.deep_by_field()
        deep_model = _DeepByField(weight, bias, rest)
        if method == "exact":
            deep, empty = _exact_shapley(deep_model, pooled, terms["deep"])
        else:
            permutations = _antithetic_permutations(
                n_fields, n_permutations, random_state
            )
            deep, empty = _permutation_shapley(
                deep_model, pooled, terms["deep"], permutations
            )
    diagonal = terms["first_order"].double().cpu() + deep.cpu()
    fields = torch.arange(n_fields)
    interactions[:, fields, fields] = diagonal
    base = net.output_bias().double().cpu() + empty.cpu()
    return interactions.numpy(), base.numpy(), method, n_permutations


def _plan(n_fields, n_permutations):
    """``(method, n_permutations)``: 'exact' (and None) when asked, when all
    the coalitions take at most ``AUTO_EVALUATIONS`` evaluations of the deep
    part per row ('auto') or no more than the permutations would (an int);
    else 'permutation' and the number of permutations, even."""
    coalitions = 2**n_fields - 2
    if n_permutations == "auto":
        if coalitions <= AUTO_EVALUATIONS:
            return "exact", None
        n_pairs = max(1, AUTO_EVALUATIONS // (2 * (n_fields - 1)))
        return "permutation", 2 * n_pairs
    if n_permutations == "exact":
        return "exact", None
    sampled = 2 * math.ceil(n_permutations / 2)
    if coalitions <= sampled * (n_fields - 1):
        return "exact", None
    return "permutation", sampled


def _antithetic_permutations(n_fields, n_permutations, random_state):
    """``ceil(n_permutations / 2)`` random orders of the fields, ``(n, F)``;
    each is used with its reverse."""
    rng = check_random_state(random_state)
    n_pairs = math.ceil(n_permutations / 2)
    orders = [rng.permutation(n_fields) for _ in range(n_pairs)]
    return np.stack(orders).astype(np.int64)


class _DeepByField:
    """The deep part of coalitions of fields: a coalition's value is the
    deep part with the pooled embeddings of the fields outside it zero.

    The first layer is linear, so a coalition's first-layer output is the
    sum of its fields' parts (and the bias): the values of many coalitions
    of a row take one matrix product with their 0/1 masks, then the layers
    after the first.
    """

    def __init__(self, weight, bias, rest):
        self.weight, self.bias, self.rest = weight, bias, rest

    def parts(self, pooled):
        """Each field's part of the first layer, then the bias: ``(batch,
        fields + 1, width)``."""
        parts = torch.einsum("bfd,fhd->bfh", pooled, self.weight)
        bias = self.bias.expand(parts.shape[0], 1, -1)
        return torch.cat([parts, bias], dim=1)

    def __call__(self, parts, masks):
        """Float64 ``(batch, coalitions, outputs)``: the value of each
        coalition (a 0/1 row of ``masks``, ``(coalitions, fields)``) in each
        row."""
        masks = masks.to(parts)
        with_bias = torch.cat([masks, masks.new_ones((masks.shape[0], 1))], dim=1)
        batch, width = parts.shape[0], parts.shape[2]
        # one product for all rows; rows of the layers after it in
        # (coalition, row) order
        stacked = parts.transpose(0, 1).reshape(parts.shape[1], -1)
        hidden = torch.mm(with_bias, stacked).view(-1, width)
        values = self.rest(hidden).double()
        return values.view(len(masks), batch, -1).transpose(0, 1)

    def empty(self):
        """Float64 ``(outputs,)``: the value of the empty coalition."""
        values = self.rest(self.bias.detach().clone()[None])
        return values.double()[0]


def _exact_shapley(deep_model, pooled, deep):
    """Exact Shapley values of the fields for the deep part, from every
    coalition; the full coalition's value is ``deep`` (the prediction's)."""
    n_rows, n_fields = pooled.shape[:2]
    n_coalitions = 2**n_fields
    shares = torch.zeros((n_rows, n_fields, deep.shape[1]), dtype=torch.float64)
    block = max(1, MLP_ROWS // n_coalitions)
    with torch.inference_mode():
        empty = deep_model.empty()
        for start in range(0, n_rows, block):
            rows = slice(start, start + block)
            parts = deep_model.parts(pooled[rows])
            summed = torch.zeros_like(shares[rows], device=pooled.device)
            for first in range(0, n_coalitions, MLP_ROWS):
                ids = np.arange(first, min(first + MLP_ROWS, n_coalitions))
                masks = (ids[:, None] >> np.arange(n_fields)) & 1
                values = deep_model(parts, torch.from_numpy(masks))
                if first == 0:
                    values[:, 0] = empty
                if ids[-1] == n_coalitions - 1:
                    values[:, -1] = deep[rows].double()
                weights = torch.from_numpy(_shapley_weights(masks)).to(values)
                summed += torch.einsum("bsc,sf->bfc", values, weights)
            shares[rows] = summed.cpu()
    return shares, empty


def _shapley_weights(masks):
    """Weight of the value of each coalition (a row of the 0/1 ``masks``,
    ``(n_coalitions, F)``) in the Shapley value of each field: with ``T = S
    - {f}`` when ``f`` is in ``S`` and ``T = S`` otherwise, ``|T|! (F - |T|
    - 1)! / F!``, positive when ``f`` is in ``S``, negative otherwise."""
    n_fields = masks.shape[1]
    size_weight = np.array(
        [1.0 / (n_fields * math.comb(n_fields - 1, s)) for s in range(n_fields)] + [0.0]
    )
    sizes = masks.sum(axis=1, keepdims=True)
    return np.where(masks == 1, size_weight[sizes - 1], -size_weight[sizes])


def _permutation_shapley(deep_model, pooled, deep, permutations):
    """Shapley values of the fields for the deep part, estimated as the mean
    marginal contribution over ``permutations`` and their reverses.

    The marginal contributions along a permutation telescope to the full
    coalition's value minus the empty one's, so the estimate sums exactly to
    ``deep`` minus the empty value (the full coalition's float32 value
    differs from ``deep`` by rounding, or by bfloat16 under mixed precision;
    that difference is shared equally).
    """
    n_rows, n_fields = pooled.shape[:2]
    n_pairs, steps = permutations.shape[0], n_fields - 1
    # the coalitions: each permutation's first 1 .. F-1 fields, their
    # complements (the reverse's first F-1 .. 1 fields), then every field
    rank = np.argsort(permutations, axis=1)
    prefixes = rank[:, None, :] <= np.arange(steps)[None, :, None]
    masks = np.concatenate(
        [
            prefixes.reshape(-1, n_fields),
            ~prefixes.reshape(-1, n_fields),
            np.ones((1, n_fields), dtype=bool),
        ]
    )
    masks = torch.from_numpy(masks)
    order = torch.from_numpy(permutations).to(pooled.device)
    shares = torch.zeros((n_rows, n_fields, deep.shape[1]), dtype=torch.float64)
    block = max(1, MLP_ROWS // len(masks))
    with torch.inference_mode():
        empty = deep_model.empty()
        for start in range(0, n_rows, block):
            rows = slice(start, start + block)
            values = deep_model(deep_model.parts(pooled[rows]), masks)
            batch, n_outputs = values.shape[0], values.shape[-1]
            full = values[:, -1]
            inner = values[:, :-1].view(batch, 2, n_pairs, steps, n_outputs)
            ends = (batch, n_pairs, 1, n_outputs)
            head, tail = empty.expand(ends), full[:, None, None].expand(ends)
            marginal = torch.cat([head, inner[:, 0], tail], dim=2).diff(dim=2)
            # the reverse's k-th field is the permutation's (F-1-k)-th
            backward = torch.cat([head, inner[:, 1].flip(2), tail], dim=2)
            marginal += backward.diff(dim=2).flip(2)
            index = order.reshape(1, -1, 1).expand(batch, -1, n_outputs)
            summed = torch.zeros_like(marginal[:, 0])
            summed.scatter_add_(1, index, marginal.reshape(batch, -1, n_outputs))
            rounding = (deep[rows].double() - full) / n_fields
            shares[rows] = (summed / (2 * n_pairs) + rounding[:, None]).cpu()
    return shares, empty
