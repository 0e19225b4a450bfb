"""scikit-learn's own estimator checks, run on both estimators."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_deepfm import DeepFMClassifier, DeepFMRegressor

# Each check fits with the library defaults: together, most of the suite's time.
pytestmark = pytest.mark.slow

# Mini-batch training visits rows in a shuffled order and normalises the loss
# per batch, so a row with weight 2 is not the same as that row twice (rows of
# weight 0 are left out, as if absent).
SAMPLE_WEIGHT_EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch SGD: weighting a row is not equivalent to repeating it, "
        "because repetition changes the batches and the number of steps"
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "mini-batch SGD: weighting a row is not equivalent to repeating it, "
        "because repetition changes the batches and the number of steps"
    ),
}


def _expected_failures(estimator):
    return SAMPLE_WEIGHT_EXPECTED_FAILURES


@parametrize_with_checks(
    [DeepFMClassifier(random_state=0), DeepFMRegressor(random_state=0)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
