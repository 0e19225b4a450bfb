"""The first-order part solved as scikit-learn solves a linear model.

The default recipe does not learn the first-order weights by stochastic
gradient steps: it fits :class:`~sklearn.linear_model.LogisticRegression`
(classification) or :class:`~sklearn.linear_model.Ridge` (regression) on the
one-hot / value matrix of the encoded rows, the same features a user's
``OneHotEncoder`` + ``StandardScaler`` pipeline gives a linear model, to
convergence, with the regularisation chosen on the validation rows.  The
FM and deep parts then learn on top of that fixed linear model.
"""

import contextlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from threadpoolctl import threadpool_limits

from ._batching import RegularRows
from ._numeric import pooled_scaling
from ._silenced import silenced

# Inverse regularisation strengths tried, from strongest to weakest; C=1 is
# scikit-learn's default.
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
DEFAULT_C = 1.0
MAX_ITER = 1000


def design_matrix(rows, n_embeddings):
    """The encoded rows as a CSR matrix of shape (n_samples, n_embeddings):
    entry ``(i, r)`` is the value with which row ``i`` uses embedding row
    ``r`` (1 for a category; a bag's weight, as the model pools it)."""
    slots = _slots_matrix(rows, n_embeddings)
    if isinstance(rows, RegularRows):
        return slots
    return (slots + rows.bags).tocsr() if slots.nnz else rows.bags


def with_number(designs, start, stop, values, all_sum=None):
    """The design matrices ``designs`` with the columns ``start:stop`` of a
    categorical field replaced by one column after the others: the whole
    number ``values[local row]`` of each row's category, standardised on the
    first matrix's rows, of every process when ``all_sum`` sums over the
    processes (the unknown row's NaN at the mean, 0)."""
    numbers = [_field_values(A, start, stop, values) for A in designs]
    mean, scale = pooled_scaling(numbers[0], all_sum)
    return [
        sp.hstack(
            [
                A[:, :start],
                A[:, stop:],
                np.nan_to_num((number - mean) / scale)[:, None].astype(np.float32),
            ],
            format="csr",
        )
        for A, number in zip(designs, numbers, strict=True)
    ]


def _field_values(A, start, stop, values):
    """``values`` of each row's local row in the columns ``start:stop`` of the
    CSR design ``A`` (one entry per row; none reads as the unknown row)."""
    block = A[:, start:stop].tocsr()
    local = np.zeros(A.shape[0], dtype=np.int64)
    has = np.diff(block.indptr) > 0
    local[has] = block.indices[block.indptr[:-1][has]]
    return values[local]


def _slots_matrix(rows, n_embeddings):
    indices = np.asarray(rows.indices)
    n_samples, n_slots = indices.shape
    if n_slots == 0:
        return sp.csr_matrix((n_samples, n_embeddings), dtype=np.float32)
    values = rows.values
    data = (
        np.ones(indices.size, dtype=np.float32)
        if values is None
        else np.asarray(values, dtype=np.float32).ravel()
    )
    indptr = np.arange(0, indices.size + 1, n_slots, dtype=np.int64)
    return sp.csr_matrix(
        (data, indices.ravel(), indptr), shape=(n_samples, n_embeddings)
    )


def _model(task, C, random_state, start=None):
    if task == "regression":
        return Ridge(alpha=1.0 / C)  # Ridge has no starting point
    # newton-cg, not lbfgs (scikit-learn's default): on the crossed design
    # matrices (hundreds of thousands of rare columns) it reached a lower
    # validation loss in half the time (Frappe, five values of C: 12.3 s
    # against 20.4 s; MovieLens 0.03 to 0.3: 6.1 s against 13.0 s, where
    # lbfgs stopped short of the optimum at C=1: 0.6071 against 0.6050) and
    # took as long on the fields alone (Diabetes: 12.4 s against 12.1 s);
    # benchmarks/results/recipe_research.md, fourth session, 1
    model = LogisticRegression(
        C=C, solver="newton-cg", max_iter=MAX_ITER, random_state=random_state
    )
    if start is not None:
        coef, intercept = start
        model.set_params(warm_start=True)
        model.coef_ = np.asarray(coef, dtype=np.float64).T.copy()
        model.intercept_ = np.asarray(intercept, dtype=np.float64).copy()
    return model


def _row_losses(model, task, A, y, weight):
    """Weighted loss of every validation row (log-loss or squared error)."""
    scores = model.predict(A) if task == "regression" else model.decision_function(A)
    return output_losses(task, scores, y, weight)


def output_losses(task, scores, y, weight):
    """Weighted loss of every row from the raw outputs ``scores``, ``(n,)`` or
    ``(n, n_outputs)``: the log-loss of the logits (binary, multiclass) or
    the squared error (regression), as the net's criterion measures them."""
    scores = np.asarray(scores, dtype=np.float64)
    if task == "multiclass":
        target = scores[np.arange(len(y)), np.asarray(y).astype(np.int64)]
        return weight * (logsumexp(scores, axis=1) - target)
    scores = scores.reshape(len(y))
    if task == "regression":
        return weight * (scores - y) ** 2
    return weight * (np.logaddexp(0.0, scores) - y * scores)


def ends_sweep(C, stop_when_worse):
    """Whether a validation loss that rises at ``C`` ends the sweep over
    :data:`C_GRID`.  From C=1 on it always does: :func:`choose` takes the
    lowest loss or C=1, and beyond a rise weaker penalties only fit the
    training rows more closely.  The weakest C is also the slowest: on
    Diabetes C=3 took 4.8 s of the sweep's 12.1 s after C=1 had already done
    worse than C=0.3."""
    return stop_when_worse or C >= DEFAULT_C


def choose(losses, default=DEFAULT_C):
    """The key of ``losses`` (row losses by candidate) whose mean loss is
    lowest, if it beats ``default`` (C=1, what ``LogisticRegression()``
    uses) by more than one standard error of the per-row difference; else
    ``default``.  On few or noisy validation rows (rare positives) a chance
    improvement does not move the choice away from the default; one row
    gives no standard error, and the default then stays."""
    best = min(losses, key=lambda key: losses[key].mean())
    if best == default or default not in losses:
        return best
    if losses[best].size < 2:
        return default
    difference = losses[best] - losses[default]
    standard_error = difference.std(ddof=1) / np.sqrt(difference.size)
    return best if difference.mean() < -standard_error else default


def fit_linear(
    task,
    train,
    valid=None,
    C=None,
    random_state=None,
    stop_when_worse=False,
    n_threads=1,
    start=None,
    refit=None,
):
    """Solve the first-order part.

    Parameters
    ----------
    task : {'binary', 'multiclass', 'regression'}
    train : tuple (A, y, sample_weight)
        Design matrix (see :func:`design_matrix`), encoded targets (0/1,
        class indices, or the standardised target) and sample weights.
    valid : tuple (A, y, sample_weight) or None
        Validation rows on which ``C`` is chosen (by log-loss or squared
        error) among :data:`C_GRID`, see :func:`choose`; None fits ``C``
        (default 1).
    C : float or None
        Inverse regularisation strength to use without choosing.
    stop_when_worse : bool
        Stop trying weaker regularisation once the validation loss rises
        (the weakest fits take the longest).  Without it the sweep still
        stops when the loss rises after C=1 (see :func:`ends_sweep`).
    n_threads : int
        Values of C fitted side by side, in grid order; the result is the
        same as one after the other (fits past the end of the sweep are
        discarded).
    start : tuple (weight, bias) or None
        Where the solve starts, in the layout of the returned ``weight`` and
        ``bias`` (classification; meant for one value of ``C``, see
        :class:`Refit`); None starts from zero.
    refit : Refit or None
        The refit that will follow the sweep: when the sweep's last values of
        C leave one of the ``n_threads`` idle, the refit at the best C so far
        runs there (:meth:`Refit.solution` then returns it at once if that C
        is the one chosen).

    Returns
    -------
    weight : ndarray of shape (n_embeddings, n_outputs), float32
    bias : ndarray of shape (n_outputs,), float32
    C : float
        The inverse regularisation strength used.
    losses : ndarray of shape (n_valid,) or None
        The weighted loss of every validation row under the model returned
        (None without ``valid``).
    """
    A, y, weight = train
    grid = C_GRID if valid is not None and C is None else (C or DEFAULT_C,)

    def solve(candidate):
        # Every value of the sweep from zero (only a refit is given a
        # start, see Refit).  Started from the previous C's solution, lbfgs
        # stopped at once on tables of tens of thousands of rows: the
        # penalty's gradient moves by (1/C' - 1/C) / n_rows per weight,
        # under its tolerance of 1e-4.  On MovieLens
        # (72,000 rows) C = 0.3, 1 and 3 then gave one solution, C=1 was
        # "chosen", and a refit from zero at C=1 was another model (with
        # the pairwise crosses: test log loss 0.612 against 0.557).
        model = _model(task, candidate, random_state, start)
        return model.fit(A, y, sample_weight=weight)

    solutions, losses = {}, {}
    # Two values of C on two cores: Diabetes' fields (73,000 rows), C = 0.03
    # to 1, 8.6 s one after the other and 4.5 s side by side (Intel Xeon,
    # AMX; benchmarks/results/recipe_research.md, fourth session, 2b).
    n_threads = max(1, min(n_threads, len(grid)))
    # one BLAS / OpenMP thread per solve when solves run side by side:
    # Diabetes' sweep on two threads took 11.2 s with them left at 2, 8.1 s
    # at 1
    blas = threadpool_limits(1) if n_threads > 1 else contextlib.nullcontext()
    with (
        silenced(ConvergenceWarning),
        blas,
        ThreadPoolExecutor(n_threads) as pool,
    ):

        def beside():
            """The refit at the best C so far, in a slot the sweep leaves idle."""
            if refit is None or not losses:
                return None
            best = choose(losses)
            return lambda: refit.solution(best, *solutions[best])

        for candidate, model in _in_order(pool, solve, grid, n_threads, beside):
            solutions[candidate] = _coefficients(model, task)
            if valid is not None:
                losses[candidate] = _row_losses(model, task, *valid)
                if ends_sweep(candidate, stop_when_worse) and len(losses) > 1:
                    previous = losses[grid[len(losses) - 2]]
                    if losses[candidate].mean() > previous.mean():
                        break
    chosen = choose(losses) if losses else grid[0]
    coef, intercept = solutions[chosen]
    return coef, intercept, chosen, losses.get(chosen)


def _in_order(pool, solve, grid, n_threads, beside):
    """``(C, solve(C))`` for the values of ``grid`` in order, ``n_threads``
    of them solved at a time in ``pool``; a batch of fewer values also runs
    the task ``beside()`` (when not None) in the slot left idle, and waits
    for it."""
    for start in range(0, len(grid), n_threads):
        batch = grid[start : start + n_threads]
        extra = beside() if len(batch) < n_threads else None
        spare = pool.submit(extra) if extra is not None else None
        yield from zip(batch, pool.map(solve, batch), strict=True)
        if spare is not None:
            spare.result()


class Refit:
    """The refit of a sweep's chosen C on more rows (the validation rows
    added), started from the sweep's solution at that C.

    ``build()`` gives the rows ``(A, y, sample_weight)``; ``carry(weight,
    bias)`` maps a solution in the sweep's columns to the refit's (the
    refit's design may have more columns); ``solve(rows, C, start)`` fits
    and returns ``(weight, bias)``.

    Started from the sweep's solution, newton-cg took 4 Newton steps instead
    of 9 on Frappe's crossed refit (69,265 x 236,604; 2.1 s against 2.8 s)
    and ended nearer the optimum (objective 5e-6 above it, against 9e-5 from
    zero).  A start from a neighbouring C is no shortcut: at the same
    tolerance the solve can stop at once where the penalty's change is small
    (see :func:`fit_linear`), and at a tolerance that prevents it, it took as
    long as from zero (benchmarks/results/recipe_research.md, eighth
    session).
    """

    def __init__(self, build, carry, solve):
        self._build, self._carry, self._solve = build, carry, solve
        self._rows = None
        self._solved = {}

    def solution(self, C, weight, bias):
        """``(weight, bias)`` refitted at ``C`` from the sweep's ``weight``
        and ``bias`` at ``C``; solved once per C."""
        if C not in self._solved:
            if self._rows is None:
                self._rows = self._build()
            start = self._carry(weight, bias)
            self._solved[C] = self._solve(self._rows, C, start)
        return self._solved[C]


def _coefficients(model, task):
    coef = np.atleast_2d(model.coef_).T.astype(np.float32)
    intercept = np.atleast_1d(model.intercept_).astype(np.float32)
    return coef, intercept
