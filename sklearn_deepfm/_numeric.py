"""Numeric columns: one embedding row scaled by the standardised value."""

import numpy as np

from ._columns import _as_float, _fitted_numbers
from ._layout import NUMERIC


class _NumericColumn:
    """A real-valued column: one embedding row scaled by the standardised value."""

    kind = NUMERIC
    size = 1

    def __init__(self, values, name):
        _check_finite(values, name)
        self.mean = float(np.mean(values))
        std = float(np.std(values))
        self.scale = std if std > 0 else 1.0

    def prepare(self, column, name):
        values = _fitted_numbers(column, name, "numbers", _as_float)
        _check_finite(values, name)
        return values

    def scaled(self, values):
        return ((values - self.mean) / self.scale).astype(np.float32)


def _check_finite(values, name):
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"Input X contains NaN or infinity in numeric {name}. Impute or drop "
            "the missing values, or mark the column as categorical with "
            "categorical_features (missing categories go to an unknown embedding)."
        )
