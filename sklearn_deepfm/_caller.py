"""Warnings that point at the user's line.

A warning raised deep in the encoder points, with a fixed ``stacklevel``,
at one of the library's own lines whenever the path to it changes (predict,
explain, export.encode, partial_fit reach the encoder at different depths):
the one that sklearn-deepfm issues here points at the first frame outside
the library and outside scikit-learn's ``base.py`` (the parameter
validation wrapping ``fit``, and ``score`` calling ``predict``).
"""

import os
import sys
import warnings

_LIBRARY = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message, category=UserWarning):
    """``warnings.warn`` at the caller's line of the public call."""
    frame, level = sys._getframe(1), 2
    while frame is not None and _inside(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _inside(filename):
    """Whether ``filename`` is the library's or scikit-learn's base.py."""
    path = os.path.abspath(filename)
    return path.startswith(_LIBRARY) or path.endswith(
        os.path.join("sklearn", "base.py")
    )
