"""Plots of fitted DeepFM estimators, in the style of scikit-learn's displays.

Each display is built with ``from_estimator`` (or from precomputed arrays),
draws with ``plot(ax=...)`` and keeps the computed arrays and the matplotlib
objects (``ax_``, ``figure_``) as attributes.  matplotlib is an optional
dependency (``pip install "sklearn-deepfm[plots]"``), imported only when a
display is drawn.
"""

from ._interaction import FieldInteractionDisplay
from ._learning_curve import LearningCurveDisplay

__all__ = ["FieldInteractionDisplay", "LearningCurveDisplay"]
