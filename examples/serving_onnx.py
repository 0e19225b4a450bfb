"""
Serving a pipeline with ONNX and onnxruntime
============================================

A fitted pipeline, preprocessing included, is converted to one ONNX graph
with `skl2onnx <https://onnx.ai/sklearn-onnx/>`_ (importing
:mod:`sklearn_deepfm.onnx` registers the converters) and scored by
`onnxruntime <https://onnxruntime.ai>`_, which needs neither Python nor
PyTorch where the model is served. We check that the graph gives the
probabilities of ``predict_proba`` and compare the time to score one row and
many rows. Needs ``pip install "sklearn-deepfm[onnx]"``.
"""

# %%
# The data: the UCI Adult census data, which ship with the package, with
# the missing categories written as the string ``"missing"`` (an ONNX string
# input holds strings only) and the numeric columns as floats.
import time

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import sklearn_deepfm.onnx  # noqa: F401  (registers the converters)
from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import load_adult

adult = load_adult()
X, y = adult.data, adult.target
categorical = adult.categorical_features
numeric = [name for name in X.columns if name not in categorical]
X = X.astype({name: object for name in categorical} | {n: float for n in numeric})
X[categorical] = X[categorical].fillna("missing")
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=16000, test_size=10000, stratify=y, random_state=0
)

# %%
# The pipeline: scaled numeric columns and one-hot categories, joined by a
# ColumnTransformer, then DeepFM with its default recipe (which keeps the
# interactions here; the graph follows either way).
columns = ColumnTransformer(
    [
        ("numeric", StandardScaler(), numeric),
        ("categories", OneHotEncoder(handle_unknown="ignore"), categorical),
    ]
)
model = make_pipeline(columns, DeepFMClassifier(random_state=0))
model.fit(X_train, y_train)
print(f"interactions kept: {model[-1].interactions_kept_}")

# %%
# Convert it. skl2onnx makes one graph input per DataFrame column; the
# option ``zipmap=False`` gives the probabilities as one array, as
# ``predict_proba`` does.
onx = to_onnx(model, X_train[:1], options={id(model[-1]): {"zipmap": False}})
print(f"graph: {len(onx.graph.node)} nodes, {len(onx.SerializeToString()):,} bytes")
print("inputs:", [graph_input.name for graph_input in onx.graph.input][:4], "...")

options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(
    onx.SerializeToString(), options, providers=["CPUExecutionProvider"]
)


def feeds(rows):
    """onnxruntime inputs: one (n, 1) array per column, strings as objects
    (skl2onnx names the inputs after the columns, '-' becoming '_')."""
    return {
        graph_input.name: rows[[name]].to_numpy(
            dtype=object if name in categorical else float
        )
        for graph_input, name in zip(session.get_inputs(), rows.columns, strict=True)
    }


# %%
# The same probabilities, from the graph and from ``predict_proba``, on
# 10,000 test rows (categories never seen in training included):
labels, probabilities = session.run(None, feeds(X_test))
expected = model.predict_proba(X_test)
print(f"largest difference: {np.abs(probabilities - expected).max():.1e}")
print(f"same labels: {bool(np.array_equal(labels, model.predict(X_test)))}")


# %%
# Latency of one row (median of many calls) and throughput on the test rows,
# in process and in onnxruntime, on one thread.
def median_ms(call, n_calls=300):
    times = []
    for _ in range(n_calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


model[-1].set_params(n_jobs=1)  # one thread, as onnxruntime's session here
row = X_test[:1]
row_feeds = feeds(row)
in_process = median_ms(lambda: model.predict_proba(row))
in_onnxruntime = median_ms(lambda: session.run(None, row_feeds))
print(f"one row, predict_proba: {in_process:.3f} ms")
print(f"one row, onnxruntime:   {in_onnxruntime:.3f} ms")

test_feeds = feeds(X_test)
for name, call in [
    ("predict_proba", lambda: model.predict_proba(X_test)),
    ("onnxruntime", lambda: session.run(None, test_feeds)),
]:
    start = time.perf_counter()
    call()
    print(f"{len(X_test):,} rows, {name}: {time.perf_counter() - start:.3f} s")

# %%
# Most of the time of a one-row ``predict_proba`` goes to checking and
# encoding the input (here, a ColumnTransformer over 14 DataFrame columns);
# the graph does the same work in compiled code. Save the graph with
# ``open("model.onnx", "wb").write(onx.SerializeToString())``.
