"""What a fit loads into the process beyond torch and scikit-learn."""

import subprocess
import sys

SCRIPT = """
import sys
from sklearn_deepfm import DeepFMClassifier
from sklearn_deepfm.datasets import make_ctr_classification

X, y = make_ctr_classification(n_samples=3000, n_fields=4, random_state=0)
model = DeepFMClassifier(max_epochs=2, n_jobs=1, random_state=0).fit(X, y)
model.partial_fit(X, y)
model.predict_proba(X)
print(sorted(name for name in ("torch._dynamo", "sympy") if name in sys.modules))
"""


def test_fit_and_predict_do_not_import_the_compiler():
    # torch._dynamo and sympy are ~65 MiB of modules, which the default
    # optimizer never needs (it would import them on its first use of
    # torch.optim.Optimizer's wrapped methods)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
