"""DeepFM as scikit-learn estimators, built on skorch and PyTorch."""

from ._caller import DeepFMWarning
from ._classifier import DeepFMClassifier
from ._explain import Explanation
from ._regressor import DeepFMRegressor

__version__ = "0.1.0"

__all__ = [
    "DeepFMClassifier",
    "DeepFMRegressor",
    "DeepFMWarning",
    "Explanation",
    "__version__",
]
