"""Whole numbers that are quantities: which integer columns read as
categories also enter the model as a number.

``categorical_features='auto'`` reads a column of whole numbers as
categories: codes and identifiers arrive that way.  Counts and ages arrive
that way too, and for them the order of the values carries what their
categories alone do not share between neighbouring values: a number beside
the categories gave Adult +0.0022 and Telco +0.0021 test AUC over five
splits (``benchmarks/results/numbers_probe.md``).  Given to identifiers, the
same number cost Avazu -0.0018 (``numbers_probe_codes.md``): an identifier's
order means nothing.

So each such column is tested on its target.  Its categories, in value
order, are cut into :data:`N_BINS` runs of as many categories each; the
runs' target means, learnt on most rows, score the held-out rest.  The
column is a quantity when

1. it has :data:`MIN_CATEGORIES` categories or more and
   :data:`ROWS_PER_CATEGORY` rows per category on average;
2. the runs in value order recover at least :data:`SHARE` of what the
   categories' own means recover over the overall mean on the held-out rows;
3. the value order scores better than each of :data:`N_ORDERS` random
   orders of the same categories: a permutation test of "the order carries
   information" at 1 / (N_ORDERS + 1).

Only sums per category enter the test, so processes of a distributed fit
add theirs and decide as one.  The variants tried on the shared tables, and
what each condition changed, are in ``benchmarks/results/
recipe_research.md`` (fifth session); measured against the default before
the test (``benchmarks/results/quantities.md``): Adult +0.0009, Telco
+0.0021, Diabetes +0.0005 test AUC over five splits, HR and the ID tables
given as integer codes unchanged.
"""

import numpy as np

# Columns with fewer categories than this stay categories alone: a number
# adds little to a handful of embeddings, and a run of categories is then
# nearly one category, so orders hardly differ.
MIN_CATEGORIES = 12
# 6 runs: with 12, education-num (16 values) lost its order; runs of equal
# row mass (instead of equal numbers of categories) lost capital-gain,
# whose rows sit on 0.
N_BINS = 6
N_ORDERS = 39
# Without it, MovieLens' item_id (numbered in an informative order, but its
# categories tell far more) was chosen and cost 0.0012 AUC there.
SHARE = 0.5
# Fewer rows per category than this on average: the categories' own means,
# which the test compares with, are too noisy (the label-encoded example of
# the explanations guide, 2,000 rows of 100 random codes, passed the order
# test by chance without this).
ROWS_PER_CATEGORY = 50
HELD_OUT = 0.2
# Rows of prior weight shrinking a run's mean towards the overall mean.
PRIOR_ROWS = 10.0


def row_statistics(y, sample_weight, n_classes):
    """What each row adds to its category's sums, ``(classes, values,
    n_stats)``: classification (``y`` class indices), its weight to its
    class's count (``classes`` the class indices, ``values`` the weights as
    one column, ``n_stats`` the number of classes), without a row per class;
    regression (``n_classes`` None), its weight, weighted targets and
    weighted squared targets (``classes`` None, ``values`` those columns)."""
    weight = np.asarray(sample_weight, dtype=np.float64)
    if n_classes is not None:
        return np.asarray(y, dtype=np.int64), weight[:, None], n_classes
    y = np.asarray(y, dtype=np.float64).reshape(len(weight), -1)
    values = np.column_stack([weight, y * weight[:, None], y**2 * weight[:, None]])
    return None, values, values.shape[1]


def held_out_rows(n_rows, seed, offset=0):
    """Which rows score the runs (the others learn them): of the rows from
    ``offset`` on among every process's, so that the processes of a
    distributed fit hold out the rows one fit on all of them would (each
    drew its own from the start: 90 of 300 borderline tables read a column
    otherwise than one fit)."""
    rng = np.random.default_rng(seed)
    rng.bit_generator.advance(offset)  # one draw per row
    return rng.random(n_rows) < HELD_OUT


def category_sums(local_rows, n_rows_of_field, statistics, held_out):
    """Sums of the :func:`row_statistics` ``statistics`` per category,
    ``(2, n_categories, n_stats)``: rows that learn, then held-out rows.
    ``local_rows`` are the field's local embedding rows (0, the unknown row,
    is left out)."""
    classes, values, n_stats = statistics
    bins = held_out.astype(np.int64) * n_rows_of_field + local_rows
    n_bins = 2 * n_rows_of_field
    if classes is not None:
        sums = np.bincount(
            bins * n_stats + classes, weights=values[:, 0], minlength=n_bins * n_stats
        )
    else:
        sums = np.column_stack(
            [np.bincount(bins, weights=stat, minlength=n_bins) for stat in values.T]
        )
    return sums.reshape(2, n_rows_of_field, n_stats)[:, 1:]


def may_be_quantity(n_categories, n_rows):
    """Whether a column of ``n_categories`` categories over ``n_rows`` rows
    (of every process) is tested at all (condition 1)."""
    return n_categories >= MIN_CATEGORIES and n_rows >= ROWS_PER_CATEGORY * n_categories


def is_quantity(sums, n_rows, classification, seed):
    """Whether the value order of the categories (rows of ``sums``, summed
    over ``n_rows`` rows) predicts the held-out rows better than each of
    N_ORDERS random orders, and recovers at least SHARE of what the
    categories themselves add to the overall mean there.  Categories of no
    weight (seen on rows of weight 0 only) are left out: they had counted
    towards the test's size, and two of them made a column of 10 categories
    one to test."""
    weight = sums.sum(axis=2) if classification else sums[..., 0]
    sums = sums[:, weight.sum(axis=0) > 0]
    n_categories = sums.shape[1]
    if not may_be_quantity(n_categories, n_rows):
        return False
    rng = np.random.default_rng(seed)
    in_order = _held_out_loss(sums, _runs(np.arange(n_categories)), classification)
    alone = _held_out_loss(sums, np.arange(n_categories), classification)
    overall = _held_out_loss(sums, np.zeros(n_categories, np.int64), classification)
    if overall - in_order < SHARE * (overall - alone):
        return False
    return all(
        in_order
        < _held_out_loss(sums, _runs(rng.permutation(n_categories)), classification)
        for _ in range(N_ORDERS)
    )


def _runs(order):
    """The run of each category when N_BINS runs of as many categories each
    take them in ``order``."""
    runs = np.empty(len(order), dtype=np.int64)
    runs[order] = np.arange(len(order)) * N_BINS // len(order)
    return runs


def _held_out_loss(sums, groups, classification):
    """Held-out loss (log loss, or squared error) of the target means of
    ``groups`` of categories (a group id per category), learnt on the other
    rows."""
    learn, score = (_grouped(part, groups) for part in sums)
    total = sums[0].sum(axis=0)
    if classification:
        prior = total / max(total.sum(), 1e-12)
        proba = _shrunk(learn, learn.sum(axis=1, keepdims=True), prior)
        return -float(np.sum(score * np.log(np.maximum(proba, 1e-12))))
    n_outputs = (sums.shape[2] - 1) // 2
    first = slice(1, 1 + n_outputs)
    overall = total[first] / max(total[0], 1e-12)
    mean = _shrunk(learn[:, first], learn[:, :1], overall)
    return float(
        np.sum(
            score[:, 1 + n_outputs :]
            - 2 * mean * score[:, first]
            + score[:, :1] * mean**2
        )
    )


def _grouped(sums, groups):
    """Rows of ``sums`` added up by ``groups``."""
    n_groups = int(groups.max()) + 1
    return np.column_stack(
        [np.bincount(groups, weights=column, minlength=n_groups) for column in sums.T]
    )


def _shrunk(sums, weight, towards):
    """Means of ``sums`` over ``weight`` with PRIOR_ROWS rows of ``towards``."""
    return (sums + PRIOR_ROWS * towards) / (weight + PRIOR_ROWS)
