"""The first-order part solved on rows spread over several processes.

:mod:`~sklearn_deepfm._linear` fits scikit-learn's
:class:`~sklearn.linear_model.LogisticRegression` or
:class:`~sklearn.linear_model.Ridge` on the rows of one process.  When
several processes hold the rows (``distributed=True``), every process runs
the same L-BFGS-B (:func:`scipy.optimize.minimize`) on the objective those
models minimise, scaled as scikit-learn's ``lbfgs`` solver scales it::

    sum_i w_i loss_i / W  +  ||coef||^2 / (2 C W)        (W = sum_i w_i)

(the logistic loss, the multinomial cross-entropy over all classes, or half
the squared error with ``C = 1 / alpha``; intercepts unpenalised), whose
value and gradient are summed over the processes at every evaluation.  Every
process follows the same iterates and ends with the same solution: the
model scikit-learn fits on all rows, to solver tolerance.  ``C`` is chosen
by the validation loss summed over the processes.
"""

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_softmax

from ._linear import C_GRID, DEFAULT_C, MAX_ITER, ends_sweep, output_losses

# Gradient tolerance.  LogisticRegression's own solve (newton-cg, see _linear)
# ends closer to the optimum than lbfgs at its default 1e-4: on the shared
# solver's test problem 1e-4 stopped 6e-6 above the optimal objective, 1e-5
# 3e-9 above, as close as newton-cg.  Ridge solves its (ill-conditioned: one
# field's one-hot columns sum to the intercept's) normal equations much more
# precisely, which 1e-8 matches to about 1e-5 in about 45 evaluations.
TOL = {"binary": 1e-5, "multiclass": 1e-5, "regression": 1e-8}
MAX_LINE_SEARCH = 50  # LogisticRegression's


def fit_linear_shared(task, n_outputs, train, valid, C, all_sum, stop_when_worse=False):
    """:func:`~sklearn_deepfm._linear.fit_linear` on the rows of every process.

    ``n_outputs`` is 1, or the number of classes for 'multiclass';
    ``all_sum(*values)`` sums numbers and arrays over the processes (the same
    bits on every process); ``stop_when_worse`` as in ``fit_linear``.
    Returns ``(weight, bias, C, losses)`` as ``fit_linear`` (the losses of
    this process's validation rows).
    """
    A, y, weight = train
    n_features = A.shape[1]
    (total_weight,) = all_sum(weight.sum())
    objective = _OBJECTIVES[task]
    targets = _targets(task, y, n_outputs)
    grid = C_GRID if valid is not None and C is None else (C or 1.0,)
    start = np.zeros((n_features + 1) * n_outputs)  # every C, as in _linear
    solutions, losses = {}, {}
    for candidate in grid:
        penalty = 1.0 / (candidate * total_weight)

        def value_and_gradient(theta, penalty=penalty):
            coef, intercept = _unpack(theta, n_features, n_outputs)
            loss, gradient, gradient_intercept = all_sum(
                *objective(A, targets, weight, coef, intercept)
            )
            value = loss / total_weight + 0.5 * penalty * np.sum(coef * coef)
            gradient = gradient / total_weight + penalty * coef
            return value, _pack(gradient, gradient_intercept / total_weight)

        result = minimize(
            value_and_gradient,
            start,
            method="L-BFGS-B",
            jac=True,
            options={
                "maxiter": MAX_ITER,
                "maxls": MAX_LINE_SEARCH,
                "gtol": TOL[task],
                "ftol": 64 * np.finfo(float).eps,
            },
        )
        solutions[candidate] = result.x
        if valid is not None:
            coef, intercept = _unpack(result.x, n_features, n_outputs)
            losses[candidate] = _row_losses(task, *valid, coef, intercept)
            if ends_sweep(candidate, stop_when_worse) and len(losses) > 1:
                previous = losses[grid[len(losses) - 2]]
                current, before = all_sum(losses[candidate].sum(), previous.sum())
                if current > before:
                    break
    chosen = choose_shared(losses, all_sum) if losses else grid[0]
    theta = solutions[chosen]
    coef, intercept = _unpack(theta, n_features, n_outputs)
    return (
        coef.astype(np.float32),
        intercept.astype(np.float32),
        chosen,
        losses.get(chosen),
    )


def _unpack(theta, n_features, n_outputs):
    coef = theta[: n_features * n_outputs].reshape(n_features, n_outputs)
    return coef, theta[n_features * n_outputs :]


def _pack(coef, intercept):
    return np.concatenate([coef.ravel(), intercept])


def _targets(task, y, n_outputs):
    if task == "multiclass":
        return np.eye(n_outputs)[y.astype(np.int64)]
    return y.astype(np.float64)[:, None]


# Each objective returns this process's (sum_i w_i loss_i, gradient of it in
# coef, in intercept) for coef (n_features, n_outputs) and intercept.
def _logistic(A, targets, weight, coef, intercept):
    scores = A @ coef + intercept
    loss = np.logaddexp(0.0, scores) - targets * scores
    residual = weight[:, None] * (expit(scores) - targets)
    return weight @ loss[:, 0], A.T @ residual, residual.sum(axis=0)


def _multinomial(A, targets, weight, coef, intercept):
    scores = A @ coef + intercept
    log_proba = log_softmax(scores, axis=1)
    loss = -np.sum(targets * log_proba, axis=1)
    residual = weight[:, None] * (np.exp(log_proba) - targets)
    return weight @ loss, A.T @ residual, residual.sum(axis=0)


def _squared(A, targets, weight, coef, intercept):
    residual = A @ coef + intercept - targets
    loss = 0.5 * residual[:, 0] ** 2
    weighted = weight[:, None] * residual
    return weight @ loss, A.T @ weighted, weighted.sum(axis=0)


_OBJECTIVES = {"binary": _logistic, "multiclass": _multinomial, "regression": _squared}


def _row_losses(task, A, y, weight, coef, intercept):
    """This process's weighted validation loss of every row, as
    :func:`sklearn_deepfm._linear._row_losses` measures them."""
    return output_losses(task, A @ coef + intercept, y, weight)


def choose_shared(losses, all_sum, default=DEFAULT_C):
    """:func:`sklearn_deepfm._linear.choose` on every process's rows."""
    (n_rows,) = all_sum(float(next(iter(losses.values())).size))
    means = {key: all_sum(rows.sum())[0] / n_rows for key, rows in losses.items()}
    best = min(means, key=means.get)
    if best == default or default not in losses:
        return best
    if n_rows < 2:
        return default
    difference = losses[best] - losses[default]
    total, squares = all_sum(difference.sum(), (difference**2).sum())
    mean = total / n_rows
    variance = max(squares / n_rows - mean**2, 0.0) * n_rows / max(n_rows - 1, 1)
    standard_error = np.sqrt(variance / n_rows)
    return best if mean < -standard_error else default
