"""
Training on a GPU, predicting anywhere
======================================

``device="cuda"`` trains and predicts on an NVIDIA GPU through PyTorch. This
example picks the GPU when there is one and the CPU otherwise, so it runs
everywhere; it then saves the model and loads it back for prediction on the
CPU, as one would on a machine without a GPU.
"""

# %%
# Pick the device. ``torch.cuda.is_available()`` is False on machines without
# an NVIDIA GPU and with the CPU-only build of PyTorch; asking for
# ``device="cuda"`` there raises a ValueError that says so.
import io
import pickle
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import make_ctr_classification

device = "cuda" if torch.cuda.is_available() else "cpu"
if device == "cuda":
    print(f"training on the GPU: {torch.cuda.get_device_name(0)}")
else:
    print("CUDA is not available: training on the CPU")

# %%
# A GPU pays off with many rows and large batches: the default
# ``batch_size="auto"`` grows with the training set (up to 1,024 rows), and a
# larger one can be given explicitly.
X, y = make_ctr_classification(
    n_samples=20_000, n_fields=10, cardinalities=100, random_state=0
)
X_train, y_train, X_test, y_test = X[:15_000], y[:15_000], X[15_000:], y[15_000:]

model = DeepFMClassifier(device=device, random_state=0)
start = time.perf_counter()
model.fit(X_train, y_train)
elapsed = time.perf_counter() - start
print(f"fit on {device}: {elapsed:.1f} s, {len(model.history_)} epochs")
proba = model.predict_proba(X_test)[:, 1]
print(f"test ROC AUC: {roc_auc_score(y_test, proba):.4f}")

# %%
# Save and load. The fitted model pickles with its weights (``joblib.dump``
# works the same way). Where CUDA is available, a model trained on the GPU
# loads back onto it. Where it is not, the weights are loaded on the CPU
# with a warning, and the model's ``device`` becomes ``"cpu"`` with them, so
# that a later ``fit`` or ``clone`` uses the CPU too.
buffer = io.BytesIO()
pickle.dump(model, buffer)
buffer.seek(0)
loaded = pickle.load(buffer)
print(f"loaded model's device: {loaded.device}")
same = np.allclose(loaded.predict_proba(X_test)[:, 1], proba)
print(f"same predictions after loading: {same}")
