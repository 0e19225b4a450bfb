"""Data sets for click-through-rate models.

* :func:`make_ctr_classification` generates synthetic click logs with planted
  first-order, pairwise and higher-order effects, and their true click
  probabilities;
* :func:`stream_ctr_classification` yields the same rows batch by batch,
  for click logs longer than memory;
* :func:`ctr_cardinalities` draws realistic per-field cardinalities for it;
* :func:`load_adult` loads the UCI Adult data, which ship with the package.
"""

from ._adult import load_adult
from ._synthetic import (
    ctr_cardinalities,
    make_ctr_classification,
    stream_ctr_classification,
)

__all__ = [
    "ctr_cardinalities",
    "load_adult",
    "make_ctr_classification",
    "stream_ctr_classification",
]
