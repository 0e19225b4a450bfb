"""
Streaming a Parquet click log into ``partial_fit``
==================================================

A click log longer than memory is read from a Parquet dataset record batch
by record batch with :mod:`pyarrow.dataset` and fed to
:meth:`~sklearn_deepfm.DeepFMClassifier.partial_fit`, one pass per epoch.
Only one batch is in memory at a time; the model's memory follows its
vocabulary (categories first seen in a later batch get embeddings of their
own), never the number of rows.

``partial_fit`` does no early stopping of its own (that, and the solved
first-order part, belong to ``fit``): as with
:class:`~sklearn.linear_model.SGDClassifier`, we score a held-out file after
every epoch and keep the best model. Needs ``pyarrow``
(``pip install "sklearn-deepfm[streaming]"``).
"""

import copy
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sklearn.metrics import log_loss, roc_auc_score
from tqdm.auto import tqdm

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import stream_ctr_classification

# %%
# A click log on disk
# -------------------
# 210,000 synthetic impressions of 8 categorical fields with planted
# interactions, written as six Parquet files of training rows (180,000) and
# one held-out file (30,000). The categories are strings, as in a real log; they are
# generated and written 30,000 rows at a time.
folder = Path(tempfile.mkdtemp()) / "clicks"
(folder / "train").mkdir(parents=True)
fields = [f"f{j}" for j in range(8)]
batches = stream_ctr_classification(
    n_samples=210_000, n_fields=8, cardinalities=200, batch_size=30_000, random_state=0
)
for part, (X, y) in enumerate(batches):
    columns = {
        f: pa.array(np.char.add(f"{f}_", X[:, j].astype(str)))
        for j, f in enumerate(fields)
    }
    table = pa.table({**columns, "click": y})
    name = "holdout.parquet" if part == 6 else f"train/part-{part}.parquet"
    pq.write_table(table, folder / name)

train = ds.dataset(folder / "train", format="parquet")
holdout = pq.read_table(folder / "holdout.parquet").to_pandas()
X_holdout, y_holdout = holdout[fields], holdout["click"].to_numpy()
print(f"{train.count_rows():,} training rows in {len(train.files)} files")

# %%
# Epochs of ``partial_fit`` over record batches
# ---------------------------------------------
# Each record batch becomes a pandas DataFrame of string columns (a polars
# frame, ``polars.from_arrow(batch)``, works as well). The first call fixes
# the input layout and needs ``classes``.
model = DeepFMClassifier(batch_size=512, random_state=0)
best, best_loss, misses = None, np.inf, 0
for epoch in range(1, 6):
    record_batches = train.to_batches(batch_size=20_000)
    # batches do not span files: each file ends its last one
    n_batches = sum(-(-part.count_rows() // 20_000) for part in train.get_fragments())
    for batch in tqdm(record_batches, total=n_batches, desc=f"epoch {epoch}"):
        frame = batch.to_pandas()
        model.partial_fit(frame[fields], frame["click"], classes=[0, 1])
    proba = model.predict_proba(X_holdout)[:, 1]
    loss = log_loss(y_holdout, proba)
    print(
        f"epoch {epoch}: held-out log loss {loss:.4f}, AUC "
        f"{roc_auc_score(y_holdout, proba):.4f}, "
        f"{model.input_layout_.n_embeddings:,} embedding rows"
    )
    if loss < best_loss - 1e-4:
        best, best_loss, misses = copy.deepcopy(model), loss, 0
    else:
        misses += 1
        if misses == 2:
            break

# %%
# The model to keep is the best epoch's.
proba = best.predict_proba(X_holdout)[:, 1]
print(f"kept: held-out log loss {log_loss(y_holdout, proba):.4f}")
print(best.input_layout_)

# %%
# The click log was written to a temporary folder: remove it.
shutil.rmtree(folder.parent)
