"""The two five-line scikit-learn alternatives a user tries after LR.

Both take a :class:`_tables.Table`'s DataFrame (``category`` columns, float64
numeric columns) as they are:

* **LR + crosses**: :class:`~sklearn.linear_model.LogisticRegression` over
  the one-hot categorical columns, the standardised numeric columns and the
  one-hot *pairwise crosses* of every two categorical columns (the ``a|b``
  strings of a hand-made cross, built here as integer codes: one cross value
  per pair of categories, missing included), ``C`` chosen from ``C_GRID`` by
  the validation log loss on a stratified 10% of the training rows (seed
  ``k``), as the tuned LR of ``quality.py``, then refitted on all training
  rows;
* **HGB**: ``OrdinalEncoder(max_categories=255)`` on the categorical
  columns (categories first seen in the test rows as missing), then
  :class:`~sklearn.ensemble.HistGradientBoostingClassifier` with
  ``categorical_features`` set to them, library defaults otherwise
  (``random_state=k``).
"""

import time
import warnings
from itertools import combinations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

C_GRID = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
VALIDATION_SIZE = 0.1
EPS = 1e-7


class PairCrosses:
    """Callable for ``FunctionTransformer``: every pair of the categorical
    columns crossed, as one integer code per row and pair (0 = missing)."""

    def __init__(self, categorical):
        self.categorical = list(categorical)

    def __call__(self, X):
        codes = [X[c].cat.codes.to_numpy(np.int64) + 1 for c in self.categorical]
        sizes = [X[c].cat.categories.size + 1 for c in self.categorical]
        pairs = combinations(range(len(codes)), 2)
        crossed = [codes[i] * sizes[j] + codes[j] for i, j in pairs]
        return np.column_stack(crossed) if crossed else np.zeros((len(X), 0))


def crosses_encoder(numeric, categorical):
    parts = [
        ("num", StandardScaler(), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
    ]
    if len(categorical) > 1:
        crosses = make_pipeline(
            FunctionTransformer(PairCrosses(categorical)),
            OneHotEncoder(handle_unknown="ignore"),
        )
        parts.append(("crosses", crosses, categorical))
    return ColumnTransformer(parts)


def _logloss(y, proba):
    return float(log_loss(y, np.clip(proba, EPS, 1 - EPS), labels=[0, 1]))


def fit_lr_crosses(X_train, y_train, X_test, numeric, categorical, k):
    """Probabilities on ``X_test`` and what the fit cost and chose."""
    tic = time.perf_counter()
    encoder = crosses_encoder(numeric, categorical)
    A_train = encoder.fit_transform(X_train)
    fit_rows, valid_rows = train_test_split(
        np.arange(len(y_train)),
        test_size=VALIDATION_SIZE,
        stratify=y_train,
        random_state=k,
    )
    sweep = []
    model = LogisticRegression(max_iter=1000, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for C in C_GRID:  # weakest penalty last: each fit starts from the last
            model.set_params(C=C).fit(A_train[fit_rows], y_train[fit_rows])
            proba = model.predict_proba(A_train[valid_rows])[:, 1]
            sweep.append((_logloss(y_train[valid_rows], proba), C))
        best_C = min(sweep)[1]
        final = LogisticRegression(C=best_C, max_iter=1000).fit(A_train, y_train)
    fit_seconds = time.perf_counter() - tic
    proba = final.predict_proba(encoder.transform(X_test))[:, 1]
    return proba, {
        "fit_seconds": fit_seconds,
        "C": best_C,
        "n_columns": int(A_train.shape[1]),
    }


def fit_hgb(X_train, y_train, X_test, numeric, categorical, k):
    tic = time.perf_counter()
    model = make_pipeline(
        ColumnTransformer(
            [
                (
                    "cat",
                    OrdinalEncoder(
                        max_categories=255,
                        handle_unknown="use_encoded_value",
                        unknown_value=-1,  # HGB reads negative categories as missing
                    ),
                    categorical,
                ),
                ("num", "passthrough", numeric),
            ]
        ),
        HistGradientBoostingClassifier(
            categorical_features=list(range(len(categorical))), random_state=k
        ),
    )
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - tic
    proba = model.predict_proba(X_test)[:, 1]
    return proba, {
        "fit_seconds": fit_seconds,
        "n_iter": int(model[-1].n_iter_),
    }
