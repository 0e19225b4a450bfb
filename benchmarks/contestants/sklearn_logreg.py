"""scikit-learn LogisticRegression on the one-hot CSR matrix.

Solver: ``lbfgs`` (scikit-learn's default).  It works directly on CSR input,
each iteration costs a couple of sparse mat-vecs over the ~26 non-zeros per
row, and it needs no step-size tuning; on the "medium" set (800k rows, 286k
one-hot columns) it converged in 379 iterations.  ``saga`` also accepts CSR
and can be tried with the ``solver`` option; it has not been benchmarked here.
Unlike the neural contestants it is trained to convergence (``max_iter=1000``,
``tol=1e-4``, ``C=1.0``), not for one epoch; the number of iterations used is
reported.
"""


def unavailable(options):
    return None


class Runner:
    def __init__(self, cardinalities, config, device, **options):
        from sklearn.linear_model import LogisticRegression

        self.model = LogisticRegression(
            solver=options.get("solver", "lbfgs"),
            C=options.get("C", 1.0),
            max_iter=options.get("max_iter", 1000),
            tol=1e-4,
        )

    def fit(self, X, y):
        self.model.fit(X, y)
        self.extra = {"n_iter": int(self.model.n_iter_[0])}

    def predict_proba(self, X):
        return self.model.predict_proba(X)[:, 1]
