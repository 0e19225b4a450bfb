"""Data sets as pandas DataFrames, the way a user would hold them.

Used by ``benchmarks/quality.py``, which resplits every table itself, so each
loader returns ALL the rows it has (train and test files pooled).  A table is
a :class:`Table`:

* ``X``: a DataFrame whose categorical columns have the pandas ``category``
  dtype (missing values stay missing, NaN) and whose numeric columns are
  float64 without NaN (each loader documents how it imputes);
* ``y``: 0/1 int64 labels;
* ``groups``: row groups that a split must keep together (diabetes:
  ``patient_nbr``, which is not a feature), else None;
* ``proba``: the true probability of each row (synthetic sets), else None;
* ``note``: what the loader did, for the results file.

Real tables are read from ``<data_dir>/<folder>`` (see each folder's
``SOURCE.md``); a missing folder or file raises
:class:`_data.DatasetUnavailable`.  The older sets (frappe, movielens, criteo,
avazu) reuse the parsing of ``_data.py`` and are all-categorical; Adult is
read again here as the mixed table it is (8 categorical + 6 numeric columns).
"""

import io
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import _data
import numpy as np
import pandas as pd

DEFAULT_DATA_DIR = _data.DEFAULT_DATA_DIR


@dataclass
class Table:
    name: str
    X: pd.DataFrame
    y: np.ndarray
    note: str
    groups: np.ndarray | None = None
    proba: np.ndarray | None = None

    @property
    def categorical_columns(self):
        return [
            c
            for c in self.X.columns
            if isinstance(self.X[c].dtype, pd.CategoricalDtype)
        ]

    @property
    def numeric_columns(self):
        return [c for c in self.X.columns if c not in set(self.categorical_columns)]


def _frame(df, categorical, numeric):
    """Categorical columns as ``category`` (NaN kept), numeric as float64."""
    out = {}
    for name in df.columns:
        if name in categorical:
            column = df[name]
            if column.dtype.kind in "iufb":  # codes or flags: categories as strings
                column = column.astype("Int64").astype("string")
            out[name] = column.astype("category")
        elif name in numeric:
            out[name] = df[name].astype(np.float64)
            if out[name].isna().any():
                raise ValueError(f"numeric column {name!r} has missing values")
        else:
            raise ValueError(f"column {name!r} is neither categorical nor numeric")
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


def _require(path):
    path = Path(path)
    if not path.exists():
        raise _data.DatasetUnavailable(f"{path} is absent")
    return path


def _from_split_columns(names, parts, missing=()):
    """All-categorical DataFrame from ``_data``'s (train, test) column lists."""
    tr, te, y_tr, y_te = parts
    columns = {}
    for name, a, b in zip(names, tr, te, strict=True):
        values = pd.Series(np.concatenate([np.asarray(a), np.asarray(b)]))
        if missing:
            values = values.where(~values.isin(missing))
        columns[name] = values
    X = _frame(pd.DataFrame(columns), categorical=set(names), numeric=())
    return X, np.concatenate([y_tr, y_te]).astype(np.int64)


# --------------------------------------------------------------------------
# The older sets (parsing shared with _data.py)
# --------------------------------------------------------------------------

FRAPPE_FIELDS = [
    "user",
    "item",
    "daytime",
    "weekday",
    "isweekend",
    "homework",
    "cost",
    "weather",
    "country",
    "city",
]


def load_frappe_rebuilt(data_dir):
    """Frappe rebuilt from the raw log: 2 sampled negatives per positive.

    Each logged (user, item, context) row of ``frappe.csv`` is a positive;
    each gets two negatives with the same user and context and an item drawn
    uniformly from the other items (seed 0), as NFM built its split.  All
    rows are returned (96,203 positives + 192,406 negatives); the harness
    splits them.  All 10 fields categorical.
    """
    path = _require(Path(data_dir) / "frappe" / "frappe.csv")
    log = pd.read_csv(path, sep="\t")[FRAPPE_FIELDS]
    factorized = [pd.factorize(log[name], sort=True) for name in FRAPPE_FIELDS]
    codes = np.column_stack([codes for codes, _ in factorized])
    rng = np.random.default_rng(0)
    n_items = codes[:, 1].max() + 1
    negatives = np.repeat(codes, 2, axis=0)
    shift = rng.integers(1, n_items, size=len(negatives))
    negatives[:, 1] = (negatives[:, 1] + shift) % n_items  # never the logged item
    all_codes = np.vstack([codes, negatives])
    y = np.r_[np.ones(len(codes), np.int64), np.zeros(len(negatives), np.int64)]
    X = pd.DataFrame(
        {
            name: pd.Categorical.from_codes(
                all_codes[:, j], categories=uniques.astype(str)
            )
            for j, (name, (_, uniques)) in enumerate(
                zip(FRAPPE_FIELDS, factorized, strict=True)
            )
        }
    )
    note = (
        f"{len(y):,} rows from frappe.csv: each logged row a positive plus 2 "
        "negatives with the same user and context and an item drawn uniformly "
        "among the others (seed 0); 10 categorical fields"
    )
    return Table("frappe_rebuilt", X, y, note)


def load_frappe(data_dir):
    """NFM's libFM files (validation + test) pooled: 10 categorical fields."""
    folder = Path(data_dir) / "frappe"
    _require(folder / "nfm_frappe.validation.libfm")
    _require(folder / "nfm_frappe.test.libfm")
    parts, _ = _data._load_frappe(folder)
    X, y = _from_split_columns(FRAPPE_FIELDS, parts)
    note = (
        "nfm_frappe.validation.libfm + nfm_frappe.test.libfm pooled (the NFM "
        "train file is not available); 10 categorical fields by position "
        "(feature indices as categories)"
    )
    return Table("frappe", X, y, note)


MOVIELENS_FIELDS = [
    "user_id",
    "item_id",
    "age",
    "gender",
    "occupation",
    "zip",
    "genres",
    "year",
]


def load_movielens(data_dir):
    """MovieLens 100k ratings joined with users and items; label rating >= 4.

    Fields user, item, age, gender, occupation, zip, genre combination (the
    19 genre flags as one string) and release year, all categorical; an
    unknown release year is missing.
    """
    folder = Path(data_dir) / "movielens_100k"
    for name in ("u.data", "u.user", "u.item"):
        _require(folder / name)
    parts, _ = _data._load_movielens(folder)
    X, y = _from_split_columns(MOVIELENS_FIELDS, parts, missing=("",))
    note = (
        "u.data joined with u.user and u.item, label rating >= 4; 8 categorical "
        "fields: user, item, age, gender, occupation, zip, genre combination, "
        "release year (unknown year missing)"
    )
    return Table("movielens", X, y, note)


def load_criteo(data_dir):
    """Criteo 10k: 13 count columns log2-bucketised, 26 hashed categoricals.

    The count columns are heavy-tailed, so they are bucketised as in
    ``_data.py`` (``_data.log2_bucket``) and used as categories; empty
    values (missing) in any column stay missing.
    """
    folder = Path(data_dir) / "criteo_10k"
    _require(folder / "criteo_sampled_data_10k.csv")
    parts, _ = _data._load_criteo(folder)
    names = [f"I{j}" for j in range(1, 14)] + [f"C{j}" for j in range(1, 27)]
    X, y = _from_split_columns(names, parts, missing=("", "nan"))
    note = (
        "criteo_sampled_data_10k.csv (the head of a chronological log, here "
        "split at random); I1-I13 log2-bucketised as categories, C1-C26 as is; "
        "missing stays missing"
    )
    return Table("criteo", X, y, note)


def load_avazu(data_dir):
    """Avazu 9k: train.csv, dev.csv and test.csv pooled; 21 categorical fields."""
    folder = Path(data_dir) / "avazu_9k"
    for name in ("train.csv", "dev.csv", "test.csv"):
        _require(folder / name)
    parts, _ = _data._load_avazu(folder)
    names = _data._read_csv(folder / "train.csv", nrows=0).columns.tolist()
    fields = [c for c in names if c not in ("id", "click", "hour")]
    X, y = _from_split_columns(fields, parts)
    note = (
        "train.csv + dev.csv + test.csv pooled; 21 categorical fields (id and "
        "the constant hour dropped)"
    )
    return Table("avazu", X, y, note)


ADULT_NUMERIC = [
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
]


def load_adult(data_dir):
    """UCI Adult, adult.data + adult.test pooled: 8 categorical + 6 numeric.

    '?' (missing) stays missing in the categorical columns; the numeric
    columns have no missing values.  Label: income > 50K (the trailing dot
    of adult.test removed).
    """
    folder = Path(data_dir) / "adult"
    frames = []
    for name, skiprows in (("adult.data", 0), ("adult.test", 1)):
        frames.append(
            pd.read_csv(
                _require(folder / name),
                header=None,
                names=_data.ADULT_COLUMNS,
                skiprows=skiprows,
                skipinitialspace=True,
                na_values=["?"],
            ).dropna(subset=["income"])
        )
    df = pd.concat(frames, ignore_index=True)
    y = df.pop("income").str.strip().str.rstrip(".").eq(">50K").to_numpy(np.int64)
    categorical = [c for c in df.columns if c not in ADULT_NUMERIC]
    X = _frame(df, categorical=set(categorical), numeric=set(ADULT_NUMERIC))
    note = (
        "adult.data + adult.test pooled; 8 categorical ('?' missing) + 6 numeric "
        "columns (age, fnlwgt, education-num, capital gain/loss, hours per week)"
    )
    return Table("adult", X, y, note)


# --------------------------------------------------------------------------
# The four general tables
# --------------------------------------------------------------------------


def load_coupon(data_dir):
    """UCI in-vehicle coupon: 22 categorical columns, label Y.

    ``car`` (99% missing) and the constant ``toCoupon_GEQ5min`` are dropped,
    and so is ``direction_opp`` (= 1 - ``direction_same``).  Every other
    column, temperature and the 0/1 flags included, is categorical; the
    empty visit frequencies (about 1%) stay missing.  The 74 duplicate rows
    are kept.
    """
    path = _require(Path(data_dir) / "uci_in_vehicle_coupon" / "coupons.csv")
    df = pd.read_csv(path, dtype=str)
    y = df.pop("Y").astype(np.int64).to_numpy()
    df = df.drop(columns=["car", "toCoupon_GEQ5min", "direction_opp"])
    X = _frame(df, categorical=set(df.columns), numeric=())
    note = (
        "coupons.csv; 22 categorical columns (car, the constant toCoupon_GEQ5min "
        "and the redundant direction_opp dropped; temperature and the flags as "
        "categories; empty visit frequencies missing); random splits put the "
        "same respondent in train and test (no respondent id)"
    )
    return Table("coupon", X, y, note)


DIABETES_NUMERIC = [
    "time_in_hospital",
    "num_lab_procedures",
    "num_procedures",
    "num_medications",
    "number_outpatient",
    "number_emergency",
    "number_inpatient",
    "number_diagnoses",
]


def load_diabetes(data_dir):
    """Diabetes 130-US hospitals: 37 categorical + 8 numeric, label '<30'.

    ``diabetic_data.csv`` is read from the zip with ``keep_default_na=False,
    na_values=['?']`` (so "None" stays a level of max_glu_serum and
    A1Cresult).  encounter_id and patient_nbr are dropped (patient_nbr is
    returned as the split groups), as are the constant examide and
    citoglipton.  The three *_id columns and the ICD-9 codes diag_1..3 are
    categorical; the 8 counts are numeric (no missing values).  Label:
    readmitted == '<30'.  All 101,766 encounters are kept (also the 1,652
    ending in death or hospice).
    """
    path = _require(Path(data_dir) / "uci_diabetes_130us" / "dataset_diabetes.zip")
    with zipfile.ZipFile(path) as archive:
        raw = archive.read("dataset_diabetes/diabetic_data.csv")
    df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_values=["?"])
    y = df.pop("readmitted").eq("<30").to_numpy(np.int64)
    groups = df.pop("patient_nbr").to_numpy()
    df = df.drop(columns=["encounter_id", "examide", "citoglipton"])
    categorical = [c for c in df.columns if c not in DIABETES_NUMERIC]
    X = _frame(df, categorical=set(categorical), numeric=set(DIABETES_NUMERIC))
    note = (
        "diabetic_data.csv from the zip ('?' missing, 'None' a level); 37 "
        "categorical (diag_1..3 ICD-9 codes, the *_id codes, 21 medications, ...) "
        "+ 8 numeric counts; encounter_id, the constant examide and citoglipton "
        "dropped; label readmitted == '<30'; split grouped by patient_nbr (not "
        "a feature); all encounters kept"
    )
    return Table("diabetes", X, y, note, groups=groups)


HR_NUMERIC = ["city_development_index", "training_hours"]


def load_hr(data_dir):
    """HR job change of data scientists: 10 categorical + 2 numeric.

    ``enrollee_id`` dropped; missing categories (informative here) stay
    missing; ``city_development_index`` is kept although it is a function
    of ``city``.  Label: target == 1.
    """
    path = _require(Path(data_dir) / "hr_job_change_ds" / "aug_train.csv")
    df = pd.read_csv(path, dtype=str)
    y = df.pop("target").astype(np.float64).astype(np.int64).to_numpy()
    df = df.drop(columns=["enrollee_id"])
    categorical = [c for c in df.columns if c not in HR_NUMERIC]
    X = _frame(df, categorical=set(categorical), numeric=set(HR_NUMERIC))
    note = (
        "aug_train.csv; enrollee_id dropped; 10 categorical columns (missing "
        "stays missing) + 2 numeric (city_development_index, training_hours)"
    )
    return Table("hr", X, y, note)


TELCO_NUMERIC = ["tenure", "MonthlyCharges", "TotalCharges"]


def load_telco(data_dir):
    """IBM telco churn: 16 categorical + 3 numeric, label Churn == 'Yes'.

    ``customerID`` dropped; SeniorCitizen (0/1) is categorical.  The 11
    blank TotalCharges belong to customers with tenure 0, who have not been
    charged yet: they are set to 0.
    """
    folder = Path(data_dir) / "telco_customer_churn"
    path = _require(folder / "WA_Fn-UseC_-Telco-Customer-Churn.csv")
    df = pd.read_csv(path, dtype=str)
    y = df.pop("Churn").eq("Yes").to_numpy(np.int64)
    df = df.drop(columns=["customerID"])
    total = pd.to_numeric(df["TotalCharges"], errors="coerce")
    blank = total.isna()
    if not (df.loc[blank, "tenure"].astype(int) == 0).all():
        raise ValueError("a blank TotalCharges belongs to a customer with tenure > 0")
    df["TotalCharges"] = total.fillna(0.0)
    categorical = [c for c in df.columns if c not in TELCO_NUMERIC]
    X = _frame(df, categorical=set(categorical), numeric=set(TELCO_NUMERIC))
    note = (
        "WA_Fn-UseC_-Telco-Customer-Churn.csv; customerID dropped; 16 categorical "
        "(SeniorCitizen too) + 3 numeric; the "
        f"{int(blank.sum())} blank TotalCharges (all tenure 0) set to 0"
    )
    return Table("telco", X, y, note)


# --------------------------------------------------------------------------
# Synthetic sets
# --------------------------------------------------------------------------

# name -> keyword arguments of make_ctr_classification (besides random_state=0)
SYNTHETIC = {
    "synthetic_interactions": dict(n_samples=25_000, n_fields=8, cardinalities=50),
    # _data.py's "medium" set: 1M rows, ~285k categories seen; slow.
    "medium": dict(n_samples=1_000_000, n_fields=26, cardinalities="medium"),
}


def load_synthetic(name):
    """Rows of :func:`sklearn_deepfm.datasets.make_ctr_classification`.

    The first-order, pairwise and non-linear effects all have the default
    strength 1; the true probabilities come back as ``Table.proba`` (the
    harness reports the Bayes AUC of each test split).  The label-encoded
    codes are given as ``category`` columns.
    """
    if str(_data.REPO_ROOT) not in sys.path:  # the checkout, not an install
        sys.path.insert(1, str(_data.REPO_ROOT))
    try:
        from sklearn_deepfm.datasets import (
            ctr_cardinalities,
            make_ctr_classification,
        )
    except ImportError as exc:  # pragma: no cover - depends on repo state
        raise _data.DatasetUnavailable(
            f"sklearn_deepfm.datasets is not importable ({exc})"
        ) from exc
    kwargs = dict(SYNTHETIC[name])
    if kwargs["cardinalities"] == "medium":
        n_train, n_test, n_fields, total = _data.SYNTHETIC["medium"]
        kwargs["cardinalities"] = ctr_cardinalities(
            n_fields, total, random_state=0
        ).tolist()
        described = f"ctr_cardinalities({n_fields}, {total}, random_state=0)"
    else:
        described = repr(kwargs["cardinalities"])
    codes, y, proba = make_ctr_classification(
        **kwargs, return_proba=True, random_state=0
    )
    X = pd.DataFrame(
        {f"f{j}": pd.Categorical(codes[:, j]) for j in range(codes.shape[1])}
    )
    note = (
        f"make_ctr_classification(n_samples={kwargs['n_samples']:,}, "
        f"n_fields={kwargs['n_fields']}, cardinalities={described}, "
        "return_proba=True, random_state=0): first-order, pairwise and "
        "three-way effects planted; codes as category columns"
    )
    return Table(name, X, np.asarray(y, np.int64), note, proba=np.asarray(proba))


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------

LOADERS = {
    "frappe_rebuilt": load_frappe_rebuilt,
    "frappe": load_frappe,
    "movielens": load_movielens,
    "adult": load_adult,
    "criteo": load_criteo,
    "avazu": load_avazu,
    "coupon": load_coupon,
    "diabetes": load_diabetes,
    "hr": load_hr,
    "telco": load_telco,
    "synthetic_interactions": None,
    "medium": None,
}
ALL_TABLES = list(LOADERS)


def load_table(name, data_dir=DEFAULT_DATA_DIR):
    """The :class:`Table` called ``name``; raises ``DatasetUnavailable``."""
    if name not in LOADERS:
        raise KeyError(f"unknown data set {name!r}; choose from {ALL_TABLES}")
    if name in SYNTHETIC:
        return load_synthetic(name)
    return LOADERS[name](data_dir)
