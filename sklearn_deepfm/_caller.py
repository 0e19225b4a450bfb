r"""Warnings that point at the user's line, of the library's own category.

A warning raised deep in the encoder points, with a fixed ``stacklevel``,
at one of the library's own lines whenever the path to it changes (predict,
explain, export.encode, partial_fit reach the encoder at different depths):
the one that sklearn-deepfm issues here points at the first frame outside
the library and outside scikit-learn (the parameter validation wrapping
``fit``, ``score`` calling ``predict``, a ``Pipeline``, a cross-validation
or inspection tool calling the estimator), or in pickle, joblib and skops
when a model is loaded.  Being at the user's line,
they are no longer told apart by ``module=`` in a warnings filter: they are
:class:`DeepFMWarning`\ s instead, as scikit-learn's have categories of
their own.
"""

import os
import sys
import sysconfig
import warnings

import sklearn

_LIBRARY = os.path.dirname(os.path.abspath(__file__)) + os.sep
# frames of the code between the user and the library: scikit-learn's
# (parameter validation, score, and the tools that call the estimator: a
# Pipeline's, partial_dependence's and cross_val_predict's warnings had
# pointed inside them), and the loading of a saved model
_BETWEEN = (
    os.sep + "pickle.py",
    os.sep + "copyreg.py",
)
_SKLEARN = os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep
_STDLIB = os.path.abspath(sysconfig.get_paths()["stdlib"]) + os.sep
_BETWEEN_PACKAGES = (os.sep + "joblib" + os.sep, os.sep + "skops" + os.sep)


class DeepFMWarning(UserWarning):
    """What sklearn-deepfm warns of about the input it reads and the
    decisions of its recipe: ``warnings.filterwarnings("ignore",
    category=DeepFMWarning)`` silences them."""


def warn(message, category=DeepFMWarning):
    """``warnings.warn`` at the caller's line of the public call."""
    frame, level, tool = sys._getframe(1), 2, None
    while frame is not None and _inside(path := _path(frame)):
        if path.startswith(_SKLEARN):
            tool = level  # (the outermost scikit-learn frame so far)
        frame, level = frame.f_back, level + 1
    if tool is not None and (frame is None or _standard(_path(frame))):
        # no user's frame: a worker of joblib's processes or threads
        # (cross_val_score(n_jobs=2)) points at the scikit-learn tool that
        # called the estimator, not at multiprocessing's or no line at all
        level = tool
    warnings.warn(message, category, stacklevel=level)


def _path(frame):
    return os.path.abspath(frame.f_code.co_filename)


def _standard(path):
    """Whether ``path`` is the standard library's (outside its
    site-packages)."""
    return path.startswith(_STDLIB) and "site-packages" not in path


def _inside(path):
    """Whether ``path`` is the library's, or code between it and the user
    (see ``_BETWEEN``)."""
    return (
        path.startswith((_LIBRARY, _SKLEARN))
        or path.endswith(_BETWEEN)
        or any(package in path for package in _BETWEEN_PACKAGES)
    )
