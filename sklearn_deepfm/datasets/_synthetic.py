"""Synthetic click-through-rate (CTR) data with planted feature interactions.

The generator draws a random "true" model first and then samples rows from it:

* every field has its own long-tailed (Zipf-like) category distribution;
* every category has a first-order weight and a low-rank latent vector;
* the logit is the sum of a first-order term, a factorization-machine term
  (inner products of the latent vectors of every pair of fields) and
  thresholded three-way products of projections of the same latent vectors.

The weights and latent vectors are centred under the category distributions,
and the terms are scaled and the intercept set on a fixed-size calibration
sample, so the model depends only on its parameters and ``random_state``,
never on ``n_samples``.
"""

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, logit
from sklearn.utils import check_random_state

__all__ = [
    "ctr_cardinalities",
    "make_ctr_classification",
    "stream_ctr_classification",
]

# Number of thresholded three-way terms in the non-linear effect.
_N_TRIPLES = 16
# Fields multiplied in each of those terms (fewer when there are fewer fields).
_TRIPLE_ORDER = 3
# Gain inside ``tanh`` applied to each unit-variance three-way product.
_TRIPLE_GAIN = 1.0
# Number of rows drawn to calibrate the scale of each term and the intercept.
_N_CALIBRATION = 2**15
# Decades between the smallest and the largest field in ``ctr_cardinalities``.
_CARDINALITY_DECADES = 4.0
_MIN_CARDINALITY = 2
# Rows generated at a time; keeps the temporaries small and in cache.
_CHUNK_SIZE = 2**16


class _Field(NamedTuple):
    """Planted parameters of one categorical field, one row per category."""

    rank_cdf: np.ndarray  # (cardinality,) float64, cumulative rank probabilities
    code_of_rank: np.ndarray  # (cardinality,) int64, category code of each rank
    weights: np.ndarray  # (cardinality,) float32, first-order weights
    latent: np.ndarray  # (cardinality, n_factors) float32, latent vectors
    squared_norms: np.ndarray  # (cardinality,) float32, squared norms of latent
    triples: np.ndarray  # (n_uses,) int, the three-way terms using this field
    projections: np.ndarray  # (cardinality, n_uses) float32, unit variance


class _Calibration(NamedTuple):
    """Scales, weights and intercept fixed on the calibration sample."""

    first_scale: float
    pair_scale: float
    triple_weights: np.ndarray  # (_N_TRIPLES,) float32
    nonlinear_scale: float
    intercept: float


# ---------------------------------------------------------------------------
# Parameter validation
# ---------------------------------------------------------------------------


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_bool(value, name):
    """A flag as a bool; any other value (the string "False" was true) is
    refused, as scikit-learn's loaders refuse it."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool (True or False), got {value!r}.")
    return bool(value)


def _check_real(value, name, *, low=0.0, high=None, open_interval=False):
    ok = isinstance(value, Real) and not isinstance(value, bool)
    ok = ok and np.isfinite(value)
    if ok and open_interval:
        ok = low < value < high
    elif ok:
        ok = value >= low and (high is None or value <= high)
    if not ok:
        if open_interval:
            bounds = f"strictly between {low} and {high}"
        else:
            bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}.")
    return float(value)


def _check_cardinalities(cardinalities, n_fields):
    """Return the cardinality of every field as an int64 array."""
    if isinstance(cardinalities, Integral) and not isinstance(cardinalities, bool):
        cardinalities = [cardinalities] * n_fields
    values = np.asarray(cardinalities)
    if values.ndim != 1 or values.shape[0] != n_fields:
        raise ValueError(
            "cardinalities must be an int or a 1-D array-like with one entry per "
            f"field (n_fields={n_fields}), got shape {values.shape}. Pass a single "
            "int to use the same cardinality for every field."
        )
    if values.dtype.kind not in "iu":
        raise ValueError(
            "cardinalities must contain integers, got dtype "
            f"{values.dtype}. Round the values and convert them with "
            "np.asarray(cardinalities, dtype=int)."
        )
    if values.min() < _MIN_CARDINALITY:
        field = int(np.argmin(values))
        raise ValueError(
            f"every field needs at least {_MIN_CARDINALITY} categories, but "
            f"field {field} has cardinality {values[field]}. Drop constant fields "
            "or raise their cardinality."
        )
    return values.astype(np.int64)


# ---------------------------------------------------------------------------
# The planted model
# ---------------------------------------------------------------------------


def _zipf_distribution(cardinality, zipf_exponent, rng):
    """Zipf law over randomly permuted category codes.

    Returns the cumulative probabilities of the frequency ranks, the code of
    each rank and the probability of each code.
    """
    rank_probs = np.arange(1, cardinality + 1, dtype=np.float64) ** -zipf_exponent
    rank_probs /= rank_probs.sum()
    rank_cdf = np.cumsum(rank_probs)
    rank_cdf[-1] = 1.0
    code_of_rank = rng.permutation(cardinality)
    probs = np.empty(cardinality, dtype=np.float64)
    probs[code_of_rank] = rank_probs
    return rank_cdf, code_of_rank, probs


def _draw_triples(n_fields, rng):
    """Boolean membership of each field in each three-way term."""
    order = min(_TRIPLE_ORDER, n_fields)
    membership = np.zeros((n_fields, _N_TRIPLES), dtype=bool)
    for triple in range(_N_TRIPLES):
        membership[rng.choice(n_fields, size=order, replace=False), triple] = True
    return membership


def _draw_field(cardinality, triples, n_factors, zipf_exponent, rng):
    """Draw the category distribution and the parameters of one field.

    ``triples`` lists the three-way terms that use this field. The weights and
    the latent vectors are centred under the category distribution, and the
    latent vectors are projected on random directions scaled so that each
    projection has unit variance under that distribution.
    """
    rank_cdf, code_of_rank, probs = _zipf_distribution(cardinality, zipf_exponent, rng)
    importance = rng.uniform(0.2, 1.0)
    weights = rng.standard_normal(cardinality)
    weights -= probs @ weights
    latent = rng.standard_normal((cardinality, n_factors), dtype=np.float32)
    latent -= probs @ latent
    directions = rng.standard_normal((n_factors, len(triples)), dtype=np.float32)
    projections = latent @ directions
    projections /= np.sqrt(np.maximum(probs @ projections**2, 1e-24))
    latent *= importance
    return _Field(
        rank_cdf=rank_cdf,
        code_of_rank=code_of_rank,
        weights=(importance * weights).astype(np.float32),
        latent=latent,
        squared_norms=np.einsum("ij,ij->i", latent, latent),
        triples=triples,
        projections=projections.astype(np.float32, copy=False),
    )


def _field_generators(seed_sequence, n_fields):
    """One random generator per field, so that samples are prefix-consistent."""
    return [np.random.default_rng(seed) for seed in seed_sequence.spawn(n_fields)]


def _sample_codes(fields, generators, n_samples):
    """Sample ``n_samples`` codes of every field; shape (n_fields, n_samples)."""
    codes = np.empty((len(fields), n_samples), dtype=np.int64)
    for f, (field, generator) in enumerate(zip(fields, generators, strict=True)):
        # searching the rank-ordered table is cache-friendly: most draws hit
        # the few frequent ranks at its start
        ranks = np.searchsorted(field.rank_cdf, generator.random(n_samples), "right")
        codes[f] = np.take(field.code_of_rank, ranks)
    return codes


def _raw_terms(codes, fields):
    """Unscaled first-order term, pairwise term and three-way products.

    ``codes`` has shape (n_fields, n_samples).
    """
    n_samples = codes.shape[1]
    n_factors = fields[0].latent.shape[1]
    first = np.zeros(n_samples, dtype=np.float32)
    latent_sum = np.zeros((n_samples, n_factors), dtype=np.float32)
    squared_norms = np.zeros(n_samples, dtype=np.float32)
    products = np.ones((n_samples, _N_TRIPLES), dtype=np.float32)
    for field, field_codes in zip(fields, codes, strict=True):
        first += np.take(field.weights, field_codes)
        latent_sum += np.take(field.latent, field_codes, axis=0)
        squared_norms += np.take(field.squared_norms, field_codes)
        if field.triples.size:
            products[:, field.triples] *= np.take(
                field.projections, field_codes, axis=0
            )
    # sum over field pairs f < g of <v_f, v_g>, the factorization-machine identity
    pair = 0.5 * (np.einsum("ij,ij->i", latent_sum, latent_sum) - squared_norms)
    return first, pair, products


def _unit_scale(values):
    """Factor that gives ``values`` unit standard deviation (0 for a constant)."""
    std = float(np.std(values, dtype=np.float64))
    return 1.0 / std if std > 1e-12 else 0.0


def _solve_intercept(eta, base_rate):
    """Intercept ``b`` such that ``mean(expit(b + eta)) == base_rate``."""
    centre = logit(base_rate)
    spread = float(np.max(np.abs(eta))) + 1.0

    def gap(intercept):
        return float(np.mean(expit(intercept + eta))) - base_rate

    return brentq(gap, centre - spread, centre + spread, xtol=1e-10)


def _nonlinear(products, triple_weights):
    """Weighted sum of the thresholded three-way products (in place), row by
    row in float64: a float32 matrix product rounded a row differently with
    the number of rows (up to 6e-8 in the probability), which broke the rule
    that the first rows of a larger data set are a smaller one."""
    products *= _TRIPLE_GAIN
    np.tanh(products, out=products)
    products *= triple_weights
    return products.sum(axis=1, dtype=np.float64)


def _combine(terms, calibration):
    """Logit from the raw terms; overwrites the array of three-way products."""
    first, pair, products = terms
    nonlinear = _nonlinear(products, calibration.triple_weights)
    eta = calibration.intercept + calibration.first_scale * first.astype(np.float64)
    eta += calibration.pair_scale * pair
    eta += calibration.nonlinear_scale * nonlinear
    return eta


def _calibrate(fields, strengths, base_rate, rng, seed_sequence):
    """Fix the scale of every term and the intercept on a calibration sample."""
    generators = _field_generators(seed_sequence, len(fields))
    codes = _sample_codes(fields, generators, _N_CALIBRATION)
    first, pair, products = _raw_terms(codes, fields)
    triple_weights = rng.standard_normal(_N_TRIPLES).astype(np.float32)
    nonlinear = _nonlinear(products.copy(), triple_weights)
    calibration = _Calibration(
        first_scale=strengths[0] * _unit_scale(first),
        pair_scale=strengths[1] * _unit_scale(pair),
        triple_weights=triple_weights,
        nonlinear_scale=strengths[2] * _unit_scale(nonlinear),
        intercept=0.0,
    )
    eta = _combine((first, pair, products), calibration)
    return calibration._replace(intercept=_solve_intercept(eta, base_rate))


def _sample_rows(fields, calibration, n_samples, seed_sequence):
    """Sample label-encoded rows and their true logits, chunk by chunk."""
    generators = _field_generators(seed_sequence, len(fields))
    X = np.empty((n_samples, len(fields)), dtype=np.int64)
    eta = np.empty(n_samples, dtype=np.float64)
    for start in range(0, n_samples, _CHUNK_SIZE):
        stop = min(start + _CHUNK_SIZE, n_samples)
        codes = _sample_codes(fields, generators, stop - start)
        X[start:stop] = codes.T
        eta[start:stop] = _combine(_raw_terms(codes, fields), calibration)
    return X, eta


# ---------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------


def make_ctr_classification(
    n_samples=10000,
    n_fields=10,
    cardinalities=100,
    *,
    n_factors=8,
    first_order_strength=1.0,
    interaction_strength=1.0,
    nonlinear_strength=1.0,
    base_rate=0.25,
    zipf_exponent=1.1,
    return_proba=False,
    random_state=None,
):
    """Generate synthetic click-through-rate data with planted interactions.

    Each row is a set of ``n_fields`` label-encoded categorical features (think
    site id, ad id, device model, ...). Category frequencies within a field
    follow a Zipf law, so a handful of categories are frequent and most are
    rare, as in real click logs. The category codes are randomly permuted, so
    code ``0`` is not necessarily the most frequent one.

    The label is drawn from a Bernoulli distribution whose logit is the sum of

    * an intercept, chosen so that the positive rate is close to
      ``base_rate``;
    * first-order effects: one weight per category;
    * pairwise effects in the style of a factorization machine: the sum over
      all pairs of fields of the inner product of the ``n_factors``-dimensional
      latent vectors of the two categories;
    * a non-linear effect: a weighted sum of 16 thresholded three-way
      interactions ``tanh(a * b * c)``, where ``a``, ``b`` and ``c`` are
      projections of the latent vectors of three distinct random fields
      (fewer when ``n_fields < 3``).

    The first-order weights and the latent vectors are centred under the
    category distributions, and the three effects are scaled to standard
    deviations ``first_order_strength``, ``interaction_strength`` and
    ``nonlinear_strength`` respectively. The effects are (nearly)
    uncorrelated: the pairwise effect has no first-order part and the
    non-linear effect almost no first-order or pairwise part, so a linear
    model can only learn the first, a factorization machine the first two,
    and only a model with higher-order capacity (such as the deep part of
    DeepFM) all three. Fields also differ in importance: the
    weights and latent vectors of each field are multiplied by a random
    factor in ``[0.2, 1]``.

    With the default strengths the Bayes-optimal ROC AUC is about 0.85 and
    the Bayes-optimal log-loss about 0.40, against 0.56 for a constant
    prediction; these figures barely depend on ``n_fields`` and
    ``cardinalities`` (26 fields with 285,000 categories in all give 0.85 and
    0.40 too). With the true coefficients, the first-order effects alone
    reach an AUC of about 0.69 and the first-order and pairwise effects
    together about 0.78. A logistic regression on the one-hot encoded fields,
    trained on 15,000 rows of the default data set, reaches about 0.65 on
    5,000 others.

    The true model depends only on the parameters other than ``n_samples`` and
    ``return_proba`` and on ``random_state``: with the same integer
    ``random_state`` the first rows of a larger data set are exactly a smaller
    one, which makes it easy to draw a training set and a test set from the
    same model.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of rows.

    n_fields : int, default=10
        Number of categorical fields (columns).

    cardinalities : int or array-like of int of shape (n_fields,), default=100
        Number of categories of each field; an int gives every field the same
        cardinality. Every field needs at least 2 categories. See
        :func:`ctr_cardinalities` for a realistic spread of cardinalities.

    n_factors : int, default=8
        Dimension of the planted latent vectors, that is the rank of the
        pairwise interactions.

    first_order_strength : float, default=1.0
        Standard deviation of the first-order part of the logit. ``0``
        removes it.

    interaction_strength : float, default=1.0
        Standard deviation of the pairwise (factorization machine) part of the
        logit. ``0`` removes it.

    nonlinear_strength : float, default=1.0
        Standard deviation of the non-linear part of the logit. ``0`` removes
        it.

    base_rate : float, default=0.25
        Target positive rate, strictly between 0 and 1. The mean of the true
        click probability matches it to about two decimals.

    zipf_exponent : float, default=1.1
        Exponent ``s`` of the category frequencies: the ``k``-th most frequent
        category of a field has probability proportional to ``k ** -s``.
        ``0`` gives uniform categories; larger values give longer tails.

    return_proba : bool, default=False
        If True, also return the true click probability of every row.

    random_state : int, RandomState instance or None, default=None
        Determines the planted model and the sampled rows. Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, n_fields), dtype int64
        Label-encoded categories: column ``f`` holds values in
        ``0 .. cardinalities[f] - 1``.

    y : ndarray of shape (n_samples,), dtype int64
        Binary labels (1 = click).

    proba : ndarray of shape (n_samples,), dtype float64
        True probability that ``y == 1`` for each row; only returned when
        ``return_proba=True``. ``roc_auc_score(y, proba)`` and
        ``log_loss(y, proba)`` estimate the best scores any model can reach.

    See Also
    --------
    ctr_cardinalities : Realistic per-field cardinalities with a given total.

    Examples
    --------
    >>> from sklearn.metrics import roc_auc_score
    >>> from sklearn_deepfm.datasets import make_ctr_classification
    >>> X, y, proba = make_ctr_classification(
    ...     n_samples=5000, n_fields=4, cardinalities=[10, 20, 50, 3],
    ...     return_proba=True, random_state=0,
    ... )
    >>> X.shape, X.dtype
    ((5000, 4), dtype('int64'))
    >>> X.max(axis=0).tolist()
    [9, 19, 49, 2]
    >>> round(float(proba.mean()), 2)
    0.25
    >>> bayes_auc = roc_auc_score(y, proba)
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    return_proba = _check_bool(return_proba, "return_proba")
    fields, calibration, sample_seed, label_seed = _planted_model(
        n_fields,
        cardinalities,
        n_factors,
        (first_order_strength, interaction_strength, nonlinear_strength),
        base_rate,
        zipf_exponent,
        random_state,
    )
    X, eta = _sample_rows(fields, calibration, n_samples, sample_seed)
    proba = expit(eta, out=eta)
    uniforms = np.random.default_rng(label_seed).random(n_samples)
    y = (uniforms < proba).astype(np.int64)
    if return_proba:
        return X, y, proba
    return X, y


def stream_ctr_classification(
    n_samples=10000,
    n_fields=10,
    cardinalities=100,
    *,
    batch_size=100_000,
    n_factors=8,
    first_order_strength=1.0,
    interaction_strength=1.0,
    nonlinear_strength=1.0,
    base_rate=0.25,
    zipf_exponent=1.1,
    return_proba=False,
    random_state=None,
):
    """Generate the rows of :func:`make_ctr_classification` batch by batch.

    Yields exactly the rows (and labels) that :func:`make_ctr_classification`
    returns for the same parameters, in order, ``batch_size`` rows at a time,
    without ever holding more than one batch: a click log of any length for
    streaming examples and benchmarks.

    Parameters
    ----------
    n_samples, n_fields, cardinalities, n_factors, first_order_strength, \
    interaction_strength, nonlinear_strength, base_rate, zipf_exponent, \
    return_proba, random_state
        As in :func:`make_ctr_classification`.
    batch_size : int, default=100_000
        Rows per batch (the last batch may be shorter).

    Yields
    ------
    X : ndarray of shape (n_batch, n_fields), dtype int64
    y : ndarray of shape (n_batch,), dtype int64
    proba : ndarray of shape (n_batch,), dtype float64
        Only when ``return_proba=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_deepfm.datasets import (
    ...     make_ctr_classification, stream_ctr_classification)
    >>> X, y = make_ctr_classification(n_samples=1000, n_fields=3, random_state=0)
    >>> batches = list(stream_ctr_classification(
    ...     n_samples=1000, n_fields=3, batch_size=300, random_state=0))
    >>> [len(batch_y) for _, batch_y in batches]
    [300, 300, 300, 100]
    >>> bool(np.array_equal(np.vstack([b[0] for b in batches]), X))
    True
    """
    # checked and seeded at the call, as make_ctr_classification: a
    # generator function had refused bad arguments, and read the global
    # random state, only at the first batch
    n_samples = _check_int(n_samples, "n_samples", 1)
    batch_size = _check_int(batch_size, "batch_size", 1)
    return_proba = _check_bool(return_proba, "return_proba")
    planted = _planted_model(
        n_fields,
        cardinalities,
        n_factors,
        (first_order_strength, interaction_strength, nonlinear_strength),
        base_rate,
        zipf_exponent,
        random_state,
    )
    return _batches(planted, n_samples, batch_size, return_proba)


def _batches(planted, n_samples, batch_size, return_proba):
    """The batches of :func:`stream_ctr_classification`."""
    fields, calibration, sample_seed, label_seed = planted
    generators = _field_generators(sample_seed, len(fields))
    labels = np.random.default_rng(label_seed)
    for start in range(0, n_samples, batch_size):
        n_batch = min(batch_size, n_samples - start)
        codes = _sample_codes(fields, generators, n_batch)
        proba = expit(_combine(_raw_terms(codes, fields), calibration))
        y = (labels.random(n_batch) < proba).astype(np.int64)
        X = np.ascontiguousarray(codes.T)
        yield (X, y, proba) if return_proba else (X, y)


def _planted_model(
    n_fields, cardinalities, n_factors, strengths, base_rate, zipf_exponent, seed
):
    """The planted model of the generators and the seeds of their samples."""
    n_fields = _check_int(n_fields, "n_fields", 1)
    cardinalities = _check_cardinalities(cardinalities, n_fields)
    n_factors = _check_int(n_factors, "n_factors", 1)
    strengths = [
        _check_real(strength, name)
        for strength, name in zip(
            strengths,
            ("first_order_strength", "interaction_strength", "nonlinear_strength"),
            strict=True,
        )
    ]
    base_rate = _check_real(base_rate, "base_rate", high=1.0, open_interval=True)
    zipf_exponent = _check_real(zipf_exponent, "zipf_exponent")

    entropy = check_random_state(seed).randint(2**31 - 1, size=4)
    model_seed, calibration_seed, sample_seed, label_seed = np.random.SeedSequence(
        entropy.tolist()
    ).spawn(4)
    model_rng = np.random.default_rng(model_seed)
    membership = _draw_triples(n_fields, model_rng)
    fields = [
        _draw_field(int(c), np.flatnonzero(uses), n_factors, zipf_exponent, model_rng)
        for c, uses in zip(cardinalities, membership, strict=True)
    ]
    calibration = _calibrate(fields, strengths, base_rate, model_rng, calibration_seed)
    return fields, calibration, sample_seed, label_seed


def ctr_cardinalities(n_fields, total, *, random_state=None):
    """Per-field cardinalities with a realistic spread and a given total.

    Real click logs mix a few huge fields (user, item or site ids) with many
    small ones (device type, hour, category). This helper spreads the
    logarithms of the cardinalities evenly, with some jitter, over four
    decades, scales them so that they sum exactly to ``total`` and shuffles
    them. For 26 fields and a total of about 285,000 categories the largest
    field has about 80,000 categories, the smallest about 10, and about half
    of the fields have between 10 and 1,000.

    Parameters
    ----------
    n_fields : int
        Number of fields.

    total : int
        Sum of the cardinalities; at least ``2 * n_fields``.

    random_state : int, RandomState instance or None, default=None
        Determines the jitter and the order of the fields. Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    cardinalities : ndarray of shape (n_fields,), dtype int64
        Cardinality of each field, every one at least 2, summing to
        ``total``. Pass it to :func:`make_ctr_classification`.

    See Also
    --------
    make_ctr_classification : Synthetic click-through-rate data.

    Examples
    --------
    >>> from sklearn_deepfm.datasets import ctr_cardinalities
    >>> cardinalities = ctr_cardinalities(26, 285_000, random_state=0)
    >>> cardinalities.shape, int(cardinalities.sum())
    ((26,), 285000)
    >>> bool(cardinalities.max() > 10_000 and cardinalities.min() < 100)
    True
    """
    n_fields = _check_int(n_fields, "n_fields", 1)
    total = _check_int(total, "total", 1)
    if total < _MIN_CARDINALITY * n_fields:
        raise ValueError(
            f"total must be at least {_MIN_CARDINALITY} * n_fields = "
            f"{_MIN_CARDINALITY * n_fields} so that every field has "
            f"{_MIN_CARDINALITY} categories, got total={total}. Increase total or "
            "decrease n_fields."
        )
    rng = check_random_state(random_state)
    positions = (np.arange(n_fields) + rng.uniform(size=n_fields)) / n_fields
    raw = 10.0 ** (_CARDINALITY_DECADES * positions)
    spare = total - _MIN_CARDINALITY * n_fields
    extra = np.floor(spare * raw / raw.sum()).astype(np.int64)
    extra[-1] += spare - extra.sum()  # the largest field absorbs the rounding
    return rng.permutation(_MIN_CARDINALITY + extra)
