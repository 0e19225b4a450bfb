"""Numeric columns: one embedding row scaled by the standardised value."""

import numpy as np

from ._columns import _as_float, _check_no_infinity, _fitted_numbers
from ._layout import NUMERIC


def _here(*values):
    return values


def root_mean_square(deviations, weights, total=_here, largest_of=max):
    """The weighted root mean square of ``deviations`` (float64).  When
    distributed, ``total`` sums values over the processes and
    ``largest_of`` takes the largest of a list over them, so that every
    process decides the same.  Squares beyond float64's range (deviations
    from 1e155 on) or below it (under 1e-162: the target was left unscaled,
    a constant prediction) are summed scaled by the largest deviation."""
    with np.errstate(over="ignore", under="ignore"):
        squares, weight, nonzero = total(
            np.dot(weights, deviations**2),
            float(np.sum(weights)),
            float(np.count_nonzero(deviations)),
        )
        if np.isfinite(squares) and (squares > 0 or nonzero == 0):
            return float(np.sqrt(squares / weight))
        largest = largest_of([float(np.abs(deviations).max(initial=0.0))])
        (scaled,) = total(np.dot(weights, (deviations / largest) ** 2))
    return float(largest * np.sqrt(scaled / weight))


def spread_or_one(spread, mean):
    """``spread`` (a standard deviation) as a scale, or 1 where the values
    do not vary: within rounding of ``mean``, as scikit-learn's scalers
    judge it (numpy gives 50 copies of 0.1 a deviation of 2.8e-17, which
    standardised a later 0.5 to 1.4e16 and a constant target to nothing)."""
    if spread > 10 * np.finfo(np.float64).eps * abs(mean):
        return float(spread)
    return 1.0


class _NumericColumn:
    """A real-valued column: one embedding row scaled by the standardised value."""

    kind = NUMERIC
    size = 1
    number_of = None

    def __init__(self, values, name, weighted=None):
        """Scaled by the mean and deviation of ``weighted`` (the values of
        the rows of positive weight; None: all of ``values``)."""
        _check_finite(values, name)
        if weighted is None or not weighted.size:  # (a shard of weights 0)
            weighted = values
        self.mean = float(np.mean(weighted))
        self.scale = spread_or_one(float(np.std(weighted)), self.mean)

    def prepare(self, column, name):
        values = _fitted_numbers(column, name, "numbers", _as_float)
        _check_finite(values, name)
        _check_in_range(values, self.mean, self.scale, name)
        return values

    def scaled(self, values):
        return ((values - self.mean) / self.scale).astype(np.float32)


class _NumberOfCategories(_NumericColumn):
    """The number of a whole-number column that field ``number_of`` reads as
    categories (see :mod:`~sklearn_deepfm._quantities`): standardised as a
    numeric column, with missing values at the mean (0) where the categorical
    field sends them to its unknown row."""

    def __init__(self, scaling, name, number_of):
        self.mean, self.scale = scaling
        self.number_of = number_of

    def prepare(self, column, name):
        values = _fitted_numbers(column, name, "integer codes", _as_float)
        _check_no_infinity(values, name)
        # as a numeric column: 1e20 had given P = 1, 1e39 an infinite logit
        _check_in_range(values, self.mean, self.scale, name)
        return values

    def scaled(self, values):
        scaled = (values - self.mean) / self.scale
        return np.where(np.isnan(scaled), 0.0, scaled).astype(np.float32)


def pooled_scaling(values, all_sum=None):
    """``(mean, scale)`` of the finite ``values``, of every process's when
    ``all_sum`` sums over the processes (the scale 1 where they do not
    vary): the mean first, then the squared deviations from it.  The sum of
    squares less the rows times the squared mean cancelled: 20 whole numbers
    offset by 1e12 got the scale 11,585 instead of 5.83."""
    add = all_sum or (lambda *sums: list(sums))
    finite = values[np.isfinite(values)]
    n_rows, total = add(float(finite.size), float(finite.sum()))
    n_rows = max(n_rows, 1.0)
    mean = total / n_rows
    (squares,) = add(float(np.sum((finite - mean) ** 2)))
    variance = squares / n_rows
    return float(mean), spread_or_one(float(np.sqrt(variance)), mean)


# Standardised values beyond this many standard deviations overflow the
# float32 arithmetic of the network: the FM squares its field sums, and a
# value 1e20 standard deviations out gave NaN predictions (fill values for
# missing data, such as -3.4e38 or NetCDF's 9.97e36, reach that).
MAX_STANDARD_DEVIATIONS = 1e15


def _check_in_range(values, mean, scale, name):
    far = np.abs(values - mean) > MAX_STANDARD_DEVIATIONS * scale
    if np.any(far):
        raise ValueError(
            f"{name} holds {float(values[far][0])!r}, more than "
            f"{MAX_STANDARD_DEVIATIONS:.0e} standard deviations from its mean in "
            "fit: the network's float32 arithmetic would give NaN. Is it a fill "
            "value for missing data? Replace it (with a value in the range seen "
            "in fit, or NaN and impute it)."
        )


def _check_finite(values, name):
    finite = np.isfinite(values)
    if np.all(finite):
        return
    if np.isinf(values).any():
        raise ValueError(
            f"Input X contains infinity in numeric {name}. Infinity is no "
            "usable quantity: replace it with a value in the range of the "
            "column, or drop the rows."
        )
    advice = "(SimpleImputer(add_indicator=True) keeps the information)"
    whole = values[finite]
    if whole.size and np.all(whole == np.round(whole)) and whole.min() >= 0:
        # (categorical, a real-valued column is refused: one category per
        # amount; and negative codes would all read as missing)
        advice += (
            ", or mark the column as categorical with categorical_features "
            "(missing values go to an unknown embedding)"
        )
    raise ValueError(
        f"Input X contains NaN in numeric {name}. Impute or drop the missing "
        f"values {advice}."
    )
