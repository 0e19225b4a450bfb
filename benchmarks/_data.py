"""Data sets for the benchmarks, prepared once and cached as ``.npz``.

Every data set ends up in the same form, so that each contestant sees exactly
the same numbers:

* ``X_train``, ``X_test``: int64 arrays of shape ``(n, n_fields)`` holding
  label-encoded categories.  The encoding is fitted on the training rows of
  each field: the categories seen in training get codes ``1..k`` (in sorted
  order) and code ``0`` stands for "not seen in training", so the test set may
  contain ``0`` while the training set never does.
* ``cardinalities``: ``k + 1`` per field (the number of codes, unknown
  included), which is what the peers that need vocabulary sizes are given.
* ``y_train``, ``y_test``: 0/1 int64 labels.
* ``p_test`` (synthetic sets only): the true click probability of each test
  row, from which the Bayes-optimal AUC and logloss are reported.

Synthetic sets come from :func:`sklearn_deepfm.datasets.make_ctr_classification`.
Real sets are read from ``<repo>/../shared/data/<folder>`` (see each folder's
``SOURCE.md``); a missing folder makes :func:`prepare` raise
:class:`DatasetUnavailable`, which the orchestrator reports as a skip.

Criteo's integer columns and Adult's wide-ranged numeric columns are
bucketised (see :func:`log2_bucket`) so that every field is categorical.
"""

import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
CACHE_DIR = REPO_ROOT / "benchmarks" / "results" / "tmp"

# Bump when the preparation of any data set changes, so stale caches are
# not reused.
CACHE_VERSION = 2

# name -> (n_train, n_test, n_fields, generator total)
#
# The generator total is the sum of the planted cardinalities passed to
# ``ctr_cardinalities``.  With Zipf-distributed categories many of them never
# occur in 800k rows, so the totals were chosen so that the number of
# categories SEEN in the training rows -- the embedding rows a model trained
# on them needs, and what drives speed and memory -- is about 285k ("medium")
# and about 1.4M ("wide"): 385k planted -> ~286k seen, 14M planted -> ~1.4M
# seen.  Both numbers are recorded in the data set's description.
SYNTHETIC = {
    "medium": (800_000, 200_000, 26, 385_000),
    "wide": (800_000, 200_000, 26, 14_000_000),
}
SYNTHETIC_QUICK = {
    "medium": (20_000, 5_000, 26, 9_625),
    "wide": (20_000, 5_000, 26, 350_000),
}

# name -> (folder under the shared data directory, loader function name)
REAL = {
    "criteo": ("criteo_10k", "_load_criteo"),
    "avazu": ("avazu_9k", "_load_avazu"),
    "movielens": ("movielens_100k", "_load_movielens"),
    "frappe": ("frappe", "_load_frappe"),
    "adult": ("adult", "_load_adult"),
}

ALL_DATASETS = [*SYNTHETIC, *REAL]


class DatasetUnavailable(Exception):
    """The files a data set needs are not there."""


# --------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------


def encode_train_test(train_columns, test_columns):
    """Label-encode columns on the training rows; unseen test values -> 0.

    Parameters
    ----------
    train_columns, test_columns : list of 1-d arrays (one per field)
        Any dtype that :func:`numpy.unique` can sort (strings, ints, floats).

    Returns
    -------
    X_train, X_test : int64 arrays of shape (n, n_fields)
    cardinalities : int64 array of shape (n_fields,)
    """
    n_fields = len(train_columns)
    X_train = np.empty((len(train_columns[0]), n_fields), dtype=np.int64)
    X_test = np.empty((len(test_columns[0]), n_fields), dtype=np.int64)
    cardinalities = np.empty(n_fields, dtype=np.int64)
    for j, (tr, te) in enumerate(zip(train_columns, test_columns, strict=True)):
        categories, codes = np.unique(np.asarray(tr), return_inverse=True)
        X_train[:, j] = codes.reshape(-1) + 1
        te = np.asarray(te)
        # Compare in a common dtype so that, e.g., longer test strings are not
        # truncated to the training strings' width.
        common = np.promote_types(categories.dtype, te.dtype)
        cats = categories.astype(common, copy=False)
        te = te.astype(common, copy=False)
        pos = np.searchsorted(cats, te)
        pos_clipped = np.minimum(pos, len(cats) - 1)
        found = cats[pos_clipped] == te
        X_test[:, j] = np.where(found, pos_clipped + 1, 0)
        cardinalities[j] = len(categories) + 1
    return X_train, X_test, cardinalities


def log2_bucket(values):
    """Bucketise a numeric column into strings usable as categories.

    Missing values (NaN) -> ``"nan"``; values below 1 keep their integer part
    (``"0"``, ``"-1"``, ...); values ``v >= 1`` -> ``"b<1 + floor(log2 v)>"``.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.empty(values.shape, dtype=object)
    missing = np.isnan(values)
    small = ~missing & (values < 1)
    large = ~missing & ~small
    out[missing] = "nan"
    out[small] = [str(int(v)) for v in np.trunc(values[small])]
    buckets = 1 + np.floor(np.log2(values[large])).astype(np.int64)
    out[large] = ["b" + str(b) for b in buckets]
    return out.astype(str)


# --------------------------------------------------------------------------
# Real data sets
# --------------------------------------------------------------------------


def _read_csv(path, **kwargs):
    import pandas as pd

    return pd.read_csv(path, **kwargs)


def _load_criteo(folder):
    df = _read_csv(
        folder / "criteo_sampled_data_10k.csv", dtype=str, keep_default_na=False
    )
    # The file is the head of a chronologically ordered log: train on the
    # first 80% of the rows, test on the last 20%.
    n_train = int(len(df) * 0.8)
    columns = []
    for j in range(1, 14):
        raw = df[f"I{j}"].replace("", "nan").astype(np.float64).to_numpy()
        columns.append(log2_bucket(raw))
    for j in range(1, 27):
        # Empty string (missing) is kept as a category of its own.
        columns.append(df[f"C{j}"].to_numpy(dtype=str))
    y = df["label"].astype(np.int64).to_numpy()
    return _split_by_position(columns, y, n_train), (
        "first 80% of rows train, last 20% test (chronological); 13 integer columns "
        "log2-bucketised with a missing bucket, 26 categorical columns as is"
    )


def _split_by_position(columns, y, n_train):
    tr = [c[:n_train] for c in columns]
    te = [c[n_train:] for c in columns]
    return tr, te, y[:n_train], y[n_train:]


def _load_avazu(folder):
    names = _read_csv(folder / "train.csv", nrows=0).columns.tolist()
    train = _read_csv(folder / "train.csv", dtype=str)
    test = _read_csv(folder / "dev.csv", dtype=str, header=None, names=names)
    test2 = _read_csv(folder / "test.csv", dtype=str, header=None, names=names)
    import pandas as pd

    test = pd.concat([test, test2], ignore_index=True)
    fields = [c for c in names if c not in ("id", "click", "hour")]
    tr = [train[c].to_numpy(dtype=str) for c in fields]
    te = [test[c].to_numpy(dtype=str) for c in fields]
    y_tr = train["click"].astype(np.int64).to_numpy()
    y_te = test["click"].astype(np.int64).to_numpy()
    return (tr, te, y_tr, y_te), (
        "train.csv train, dev.csv + test.csv test; 21 categorical fields "
        "(id and the constant hour dropped)"
    )


def _load_movielens(folder):
    ratings = _read_csv(
        folder / "u.data",
        sep="\t",
        header=None,
        names=["user_id", "item_id", "rating", "timestamp"],
    )
    users = _read_csv(
        folder / "u.user",
        sep="|",
        header=None,
        names=["user_id", "age", "gender", "occupation", "zip"],
        dtype=str,
    )
    users["user_id"] = users["user_id"].astype(np.int64)
    genre_cols = [f"g{i}" for i in range(19)]
    items = _read_csv(
        folder / "u.item",
        sep="|",
        header=None,
        encoding="latin-1",
        names=[
            "item_id",
            "title",
            "release_date",
            "video_release_date",
            "url",
            *genre_cols,
        ],
    )
    items["genres"] = items[genre_cols].astype(str).agg("".join, axis=1)
    items["year"] = items["release_date"].fillna("").str[-4:]
    df = ratings.merge(users, on="user_id", how="left").merge(
        items[["item_id", "genres", "year"]], on="item_id", how="left"
    )
    fields = [
        "user_id",
        "item_id",
        "age",
        "gender",
        "occupation",
        "zip",
        "genres",
        "year",
    ]
    columns = [df[c].astype(str).to_numpy() for c in fields]
    y = (df["rating"].to_numpy() >= 4).astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(df))
    n_train = int(len(df) * 0.8)
    tr_idx, te_idx = perm[:n_train], perm[n_train:]
    return (
        [c[tr_idx] for c in columns],
        [c[te_idx] for c in columns],
        y[tr_idx],
        y[te_idx],
    ), (
        "u.data joined with u.user and u.item, label rating >= 4; seeded random "
        "80/20 split; fields user, item, age, gender, occupation, zip, genre "
        "combination, release year"
    )


def _read_libfm(path):
    labels, rows = [], []
    with open(path, encoding="ascii", newline="") as f:
        for line in f:
            parts = line.strip().split()
            if not parts:
                continue
            labels.append(1 if float(parts[0]) > 0 else 0)
            rows.append([int(p.split(":")[0]) for p in parts[1:]])
    X = np.asarray(rows, dtype=np.int64)
    return [X[:, j] for j in range(X.shape[1])], np.asarray(labels, dtype=np.int64)


def _load_frappe(folder):
    tr, y_tr = _read_libfm(folder / "nfm_frappe.validation.libfm")
    te, y_te = _read_libfm(folder / "nfm_frappe.test.libfm")
    return (tr, te, y_tr, y_te), (
        "NFM split: trained on nfm_frappe.validation.libfm, tested on "
        "nfm_frappe.test.libfm (the NFM train file is not available); 10 fields "
        "by position"
    )


ADULT_COLUMNS = [
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
    "income",
]
# Numeric columns with a few dozen values are used as categories directly;
# the wide-ranged ones are log2-bucketised.
ADULT_BUCKETISED = ("fnlwgt", "capital-gain", "capital-loss")


def _load_adult(folder):
    def read(name, skiprows):
        df = _read_csv(
            folder / name,
            header=None,
            names=ADULT_COLUMNS,
            skiprows=skiprows,
            sep=",",
            skipinitialspace=True,
            dtype=str,
        ).dropna(subset=["income"])
        return df

    train = read("adult.data", 0)
    test = read("adult.test", 1)
    fields = ADULT_COLUMNS[:-1]

    def column(df, name):
        if name in ADULT_BUCKETISED:
            return log2_bucket(df[name].astype(np.float64).to_numpy())
        return df[name].str.strip().to_numpy(dtype=str)

    tr = [column(train, c) for c in fields]
    te = [column(test, c) for c in fields]

    def label(df):
        return (
            df["income"]
            .str.strip()
            .str.rstrip(".")
            .eq(">50K")
            .astype(np.int64)
            .to_numpy()
        )

    return (tr, te, label(train), label(test)), (
        "adult.data train, adult.test test; 14 fields: categorical as is ('?' is a "
        "category), age/education-num/hours-per-week as categories, fnlwgt and "
        "capital gain/loss log2-bucketised"
    )


# --------------------------------------------------------------------------
# Synthetic data sets
# --------------------------------------------------------------------------


def _make_synthetic(name, quick):
    if str(REPO_ROOT) not in sys.path:  # use the checkout without installing it
        sys.path.insert(1, str(REPO_ROOT))
    try:
        from sklearn_deepfm.datasets import (
            ctr_cardinalities,
            make_ctr_classification,
        )
    except ImportError as exc:  # pragma: no cover - depends on repo state
        raise DatasetUnavailable(
            f"sklearn_deepfm.datasets.make_ctr_classification is not importable ({exc})"
        ) from exc
    n_train, n_test, n_fields, total = (SYNTHETIC_QUICK if quick else SYNTHETIC)[name]
    cards = ctr_cardinalities(n_fields, total, random_state=0)
    X, y, p = make_ctr_classification(
        n_train + n_test, n_fields, cards.tolist(), return_proba=True, random_state=0
    )
    X = np.asarray(X)
    y = np.asarray(y).astype(np.int64)
    p = np.asarray(p, dtype=np.float64)
    tr = [X[:n_train, j] for j in range(n_fields)]
    te = [X[n_train:, j] for j in range(n_fields)]
    note = (
        f"make_ctr_classification(n_samples={n_train + n_test}, n_fields={n_fields}, "
        f"cardinalities=ctr_cardinalities({n_fields}, {total}, random_state=0), "
        f"return_proba=True, random_state=0); first {n_train} rows train, rest "
        "test; re-encoded on train (unseen -> 0), so the categories counted here "
        "are those seen in training"
    )
    return (tr, te, y[:n_train], y[n_train:]), note, p[n_train:], cards


# --------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------


def bayes_metrics(y, p):
    """AUC and logloss of the true probabilities (the best any model can do)."""
    from sklearn.metrics import log_loss, roc_auc_score

    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(roc_auc_score(y, p)), float(log_loss(y, p))


def cache_path(name, quick, cache_dir=CACHE_DIR):
    suffix = "_quick" if quick and name in SYNTHETIC else ""
    return Path(cache_dir) / f"{name}{suffix}_v{CACHE_VERSION}.npz"


def prepare(
    name, *, quick=False, data_dir=DEFAULT_DATA_DIR, cache_dir=CACHE_DIR, force=False
):
    """Build (or reuse) the cached ``.npz`` of a data set.

    Returns
    -------
    path : Path of the ``.npz`` file
    info : dict describing the data set (sizes, provenance, Bayes metrics)

    Raises
    ------
    DatasetUnavailable
        When the data set's source files (or the generator) are missing.
    """
    path = cache_path(name, quick, cache_dir)
    info_path = path.with_suffix(".json")
    if not force and path.exists() and info_path.exists():
        return path, json.loads(info_path.read_text())

    p_test = None
    generator_cards = None
    if name in SYNTHETIC:
        (tr, te, y_tr, y_te), note, p_test, generator_cards = _make_synthetic(
            name, quick
        )
        kind = "synthetic"
    elif name in REAL:
        folder_name, loader = REAL[name]
        folder = Path(data_dir) / folder_name
        if not folder.is_dir():
            raise DatasetUnavailable(f"folder {folder} is absent")
        (tr, te, y_tr, y_te), note = getattr(sys.modules[__name__], loader)(folder)
        kind = "real"
    else:
        raise KeyError(f"unknown data set {name!r}; choose from {ALL_DATASETS}")

    X_tr, X_te, cards = encode_train_test(tr, te)
    arrays = dict(
        X_train=X_tr,
        y_train=np.asarray(y_tr, dtype=np.int64),
        X_test=X_te,
        y_test=np.asarray(y_te, dtype=np.int64),
        cardinalities=cards,
    )
    info = dict(
        name=name,
        kind=kind,
        quick=bool(quick and name in SYNTHETIC),
        n_train=int(X_tr.shape[0]),
        n_test=int(X_te.shape[0]),
        n_fields=int(X_tr.shape[1]),
        n_categories=int(cards.sum()),
        positive_rate_train=float(np.mean(y_tr)),
        unseen_test_fraction=float(np.mean(X_te == 0)),
        note=note,
    )
    if generator_cards is not None:
        info["generator_cardinalities"] = [int(c) for c in generator_cards]
        info["generator_total"] = int(generator_cards.sum())
    if p_test is not None:
        arrays["p_test"] = p_test
        auc, ll = bayes_metrics(arrays["y_test"], p_test)
        info["bayes_auc"], info["bayes_logloss"] = auc, ll
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    info_path.write_text(json.dumps(info, indent=2))
    return path, info


def load(path):
    """Load a cached data set as a dict of arrays."""
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def main(argv=None):
    """Prepare one data set; print ``{"path", "info"}`` or ``{"unavailable"}``.

    ``run.py`` calls this in a child process, so that generating the data does
    not raise the orchestrator's memory high-water mark (which Linux passes on
    to the contestants' ``ru_maxrss``).
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("name", choices=ALL_DATASETS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    try:
        path, info = prepare(
            args.name, quick=args.quick, data_dir=args.data_dir, force=args.force
        )
    except DatasetUnavailable as exc:
        print(json.dumps({"unavailable": str(exc)}))
        return 0
    print(json.dumps({"path": str(path), "info": info}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
