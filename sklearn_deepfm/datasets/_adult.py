"""Loader for the UCI Adult (Census Income) data shipped with the package."""

import csv
import gzip
from importlib.resources import files

import numpy as np
from sklearn.utils import Bunch

from ._synthetic import _check_bool

__all__ = ["load_adult"]

_FILES = {"train": "adult.data.gz", "test": "adult.test.gz"}
_SUBSETS = ("train", "test", "all")

_NUMERIC = (
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
)

# Every category of every categorical column, sorted; "?" (missing) excluded.
_CATEGORIES = {
    "workclass": (
        "Federal-gov",
        "Local-gov",
        "Never-worked",
        "Private",
        "Self-emp-inc",
        "Self-emp-not-inc",
        "State-gov",
        "Without-pay",
    ),
    "education": (
        "10th",
        "11th",
        "12th",
        "1st-4th",
        "5th-6th",
        "7th-8th",
        "9th",
        "Assoc-acdm",
        "Assoc-voc",
        "Bachelors",
        "Doctorate",
        "HS-grad",
        "Masters",
        "Preschool",
        "Prof-school",
        "Some-college",
    ),
    "marital-status": (
        "Divorced",
        "Married-AF-spouse",
        "Married-civ-spouse",
        "Married-spouse-absent",
        "Never-married",
        "Separated",
        "Widowed",
    ),
    "occupation": (
        "Adm-clerical",
        "Armed-Forces",
        "Craft-repair",
        "Exec-managerial",
        "Farming-fishing",
        "Handlers-cleaners",
        "Machine-op-inspct",
        "Other-service",
        "Priv-house-serv",
        "Prof-specialty",
        "Protective-serv",
        "Sales",
        "Tech-support",
        "Transport-moving",
    ),
    "relationship": (
        "Husband",
        "Not-in-family",
        "Other-relative",
        "Own-child",
        "Unmarried",
        "Wife",
    ),
    "race": ("Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White"),
    "sex": ("Female", "Male"),
    "native-country": (
        "Cambodia",
        "Canada",
        "China",
        "Columbia",
        "Cuba",
        "Dominican-Republic",
        "Ecuador",
        "El-Salvador",
        "England",
        "France",
        "Germany",
        "Greece",
        "Guatemala",
        "Haiti",
        "Holand-Netherlands",
        "Honduras",
        "Hong",
        "Hungary",
        "India",
        "Iran",
        "Ireland",
        "Italy",
        "Jamaica",
        "Japan",
        "Laos",
        "Mexico",
        "Nicaragua",
        "Outlying-US(Guam-USVI-etc)",
        "Peru",
        "Philippines",
        "Poland",
        "Portugal",
        "Puerto-Rico",
        "Scotland",
        "South",
        "Taiwan",
        "Thailand",
        "Trinadad&Tobago",
        "United-States",
        "Vietnam",
        "Yugoslavia",
    ),
}

# Column order of the original files, label excluded.
_FEATURES = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
)
_TARGET = "income_>50K"
_LABELS = {"<=50K": 0, ">50K": 1}
_MISSING = "?"

_DESCR = """\
.. _adult_dataset:

UCI Adult (Census Income) data set
----------------------------------

**Data Set Characteristics:**

:Number of Instances: 48,842 (32,561 in the "train" subset, 16,281 in the
    "test" subset)
:Number of Attributes: 14 (6 numeric, 8 categorical)
:Target: ``income_>50K``, 1 if the yearly income exceeds 50,000 US dollars,
    else 0 (``target_names`` holds the original labels ``<=50K`` and ``>50K``).
    About 24% of the rows are positive.
:Missing Attribute Values: ``workclass``, ``occupation`` and
    ``native-country`` are sometimes unknown ("?" in the files); they are
    returned as missing values. The numeric columns are always present.

Numeric attributes: age, fnlwgt (census sampling weight), education-num
(years of education, an ordinal code of ``education``), capital-gain,
capital-loss and hours-per-week.

Categorical attributes: workclass, education, marital-status, occupation,
relationship, race, sex and native-country.

The records were extracted by Barry Becker from the 1994 US Census database
and split at random into a training file (two thirds) and a test file (one
third) by the donors, Ronny Kohavi and Barry Becker. The task is to predict
whether a person earns more than 50,000 dollars a year from the other
attributes; it is a common benchmark for models of mixed categorical and
numeric data.

**Source and licence:** UCI Machine Learning Repository, "Adult", donated by
Barry Becker and Ronny Kohavi (1996), https://doi.org/10.24432/C5XW20. The
data are licensed under the Creative Commons Attribution 4.0 International
licence (CC BY 4.0, https://creativecommons.org/licenses/by/4.0/). The files
``adult.data`` and ``adult.test`` ship gzip-compressed and otherwise
unchanged; the original description ``adult.names`` ships next to them, in
``sklearn_deepfm/datasets/data/``.

**References**

- Becker, B. and Kohavi, R. (1996). Adult [Dataset]. UCI Machine Learning
  Repository. https://doi.org/10.24432/C5XW20
- Kohavi, R. (1996). Scaling up the accuracy of Naive-Bayes classifiers: a
  decision-tree hybrid. Proceedings of the Second International Conference on
  Knowledge Discovery and Data Mining (KDD-96), 202-207.
"""


def _import_pandas():
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(
            "load_adult(as_frame=True) needs pandas, which is not installed. "
            "Install it (pip install pandas) or pass as_frame=False to get "
            "NumPy arrays."
        ) from exc
    return pandas


def _read_records(filename):
    """Records of one gzip-compressed data file, as an object array of str.

    Blank lines and comment lines (starting with ``|``, such as the first line
    of the test file) are skipped and the blanks after the commas dropped.
    """
    resource = files(__package__).joinpath("data", filename)
    text = gzip.decompress(resource.read_bytes()).decode("ascii")
    lines = [line for line in text.splitlines() if line and not line.startswith("|")]
    records = list(csv.reader(lines, skipinitialspace=True))
    lengths = set(map(len, records))
    if lengths != {len(_FEATURES) + 1}:
        raise ValueError(
            f"{filename}: expected {len(_FEATURES) + 1} comma-separated values "
            f"per record, found records with {sorted(lengths)} values. The "
            "bundled data file is damaged; reinstall sklearn-deepfm."
        )
    return np.array(records, dtype=object)


def _damaged(filename, what, values):
    return ValueError(
        f"{filename}: unexpected {what} {sorted(values)}. The bundled data file "
        "is damaged; reinstall sklearn-deepfm."
    )


def _parse_records(records, filename):
    """Typed feature columns (dict) and 0/1 target of the records of a file."""
    columns = {}
    for j, name in enumerate(_FEATURES):
        values = records[:, j]
        if name in _NUMERIC:
            columns[name] = values.astype(np.int64)
            continue
        unexpected = set(values) - set(_CATEGORIES[name]) - {_MISSING}
        if unexpected:
            raise _damaged(filename, f"{name} values", unexpected)
        values[values == _MISSING] = np.nan
        columns[name] = values
    labels = [label.rstrip(".") for label in records[:, -1]]
    unexpected = set(labels) - set(_LABELS)
    if unexpected:
        raise _damaged(filename, "income labels", unexpected)
    target = np.array([_LABELS[label] for label in labels], dtype=np.int64)
    return columns, target


def _read_subset(subset):
    """Typed columns and target of one subset ("train", "test" or "all")."""
    names = ("train", "test") if subset == "all" else (subset,)
    parts = [
        _parse_records(_read_records(_FILES[name]), _FILES[name]) for name in names
    ]
    columns = {
        name: np.concatenate([part[0][name] for part in parts]) for name in _FEATURES
    }
    target = np.concatenate([part[1] for part in parts])
    return columns, target


def _to_frame(columns, target):
    """DataFrame of the features (categorical dtype) and the target."""
    pd = _import_pandas()
    frame = pd.DataFrame(
        {
            name: (
                values
                if name in _NUMERIC
                else pd.Categorical(values, categories=_CATEGORIES[name])
            )
            for name, values in columns.items()
        }
    )
    frame[_TARGET] = target
    return frame


def _to_array(columns):
    """Object array of the features, in the original column order."""
    data = np.empty((len(columns[_FEATURES[0]]), len(_FEATURES)), dtype=object)
    for j, name in enumerate(_FEATURES):
        data[:, j] = columns[name]
    return data


def load_adult(*, return_X_y=False, as_frame=True, subset="train"):
    """Load the UCI Adult (Census Income) data set (binary classification).

    The data ship with the package (no download): 48,842 people described by
    6 numeric and 8 categorical attributes, and whether their yearly income
    exceeds 50,000 US dollars. The original split is kept: ``subset="train"``
    gives the 32,561 rows of ``adult.data``, ``"test"`` the 16,281 rows of
    ``adult.test`` and ``"all"`` both, training rows first. About 24% of the
    rows are positive. Unknown values ("?" in the files) of ``workclass``,
    ``occupation`` and ``native-country`` are returned as missing values.

    Licence: CC BY 4.0; see ``DESCR`` for the source and the attribution.

    =================   ==============================
    Classes                                          2
    Samples total                               48,842
    Dimensionality                                  14
    Features            6 integer, 8 categorical
    =================   ==============================

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch object.

    as_frame : bool, default=True
        If True (needs pandas), ``data`` is a DataFrame whose 6 numeric
        columns are int64 and whose 8 categorical columns have the
        ``category`` dtype, with the same categories in every subset and
        missing values as NaN; ``target`` is an int64 Series named
        ``"income_>50K"`` and ``frame`` a DataFrame with both. If False,
        ``data`` is an object ndarray holding ints, strings and ``np.nan``
        for missing values, and ``target`` an int64 ndarray.

    subset : {"train", "test", "all"}, default="train"
        Which rows to load.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : DataFrame of shape (n_samples, 14) or ndarray of dtype object
            The features, in the column order of the original files.
        target : Series or ndarray of shape (n_samples,), dtype int64
            1 if the income exceeds 50,000 dollars, else 0.
        feature_names : list of str
            Names of the 14 feature columns.
        target_names : ndarray of shape (2,)
            The original labels: ``target_names[target]`` gives them back.
        categorical_features : list of str
            Names of the 8 categorical columns.
        frame : DataFrame of shape (n_samples, 15) or None
            Features and target together, when ``as_frame=True``.
        DESCR : str
            Description of the data set, with its source and licence.

    (data, target) : tuple if ``return_X_y`` is True
        The ``data`` and ``target`` attributes described above.

    Examples
    --------
    >>> from sklearn_deepfm.datasets import load_adult
    >>> adult = load_adult()
    >>> adult.data.shape
    (32561, 14)
    >>> adult.categorical_features[:3]
    ['workclass', 'education', 'marital-status']
    >>> round(float(adult.target.mean()), 3)
    0.241
    >>> X, y = load_adult(subset="test", as_frame=False, return_X_y=True)
    >>> X.shape, X.dtype, y.dtype
    ((16281, 14), dtype('O'), dtype('int64'))
    """
    if subset not in _SUBSETS:
        raise ValueError(
            f"subset must be one of {', '.join(map(repr, _SUBSETS))}, got {subset!r}."
        )
    as_frame = _check_bool(as_frame, "as_frame")
    return_X_y = _check_bool(return_X_y, "return_X_y")
    columns, target = _read_subset(subset)
    if as_frame:
        frame = _to_frame(columns, target)
        data, target = frame[list(_FEATURES)], frame[_TARGET]
    else:
        frame, data = None, _to_array(columns)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        feature_names=list(_FEATURES),
        target_names=np.array(["<=50K", ">50K"]),
        categorical_features=[name for name in _FEATURES if name not in _NUMERIC],
        frame=frame,
        DESCR=_DESCR,
    )
