"""Helpers shared by the displays: the lazy matplotlib import and finding the
fitted DeepFM estimator inside a pipeline."""

from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .._base import BaseDeepFM


def import_pyplot(caller):
    """``matplotlib.pyplot``, or an ImportError saying how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install it "
            'with `pip install matplotlib` or `pip install "sklearn-deepfm[plots]"`.'
        ) from exc
    return plt


def split_estimator(estimator, caller):
    """``(preprocessing, model)``: the steps before a fitted DeepFM estimator
    (None when ``estimator`` is the DeepFM estimator itself) and the model."""
    preprocessing, model = None, estimator
    if isinstance(estimator, Pipeline):
        preprocessing, model = estimator[:-1], estimator[-1]
    if not isinstance(model, BaseDeepFM):
        raise TypeError(
            f"{caller} needs a DeepFMClassifier or DeepFMRegressor, or a Pipeline "
            f"ending with one; got {type(model).__name__}."
        )
    check_is_fitted(model)
    return preprocessing, model
