"""What the documentation promises: the code of the getting-started page and
the user guide runs as shown, the progress bar works, and a model saved on a
GPU loads on a CPU-only machine."""

import doctest
import pickle
import warnings
from pathlib import Path

import pytest
from numpy.testing import assert_array_equal
from skorch.callbacks import ProgressBar
from skorch.exceptions import DeviceWarning

from sklearn_deepfm import DeepFMClassifier

from .conftest import FAST, make_categorical

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(
    [DOCS / "getting_started.rst", *(DOCS / "user_guide").glob("*.rst")],
    key=lambda path: path.name,
)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_documentation_code_runs_as_shown(page):
    if page.name in ("inspection.rst", "explaining.rst"):
        pytest.importorskip("matplotlib")
    if page.name == "input.rst":
        pytest.importorskip("pandas")
    if page.name == "serving.rst":
        for module in ("pandas", "skl2onnx", "onnxruntime", "skops"):
            pytest.importorskip(module)
    result = doctest.testfile(
        str(page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.failed == 0


def test_progress_bar_callback(capsys):
    X, y = make_categorical(n_samples=1200)
    model = DeepFMClassifier(
        **{**FAST, "max_epochs": 2, "early_stopping": True},
        callbacks=[ProgressBar()],
    ).fit(X, y)
    assert len(model.history_) >= 1
    assert "ProgressBar" in dict(model.net_.callbacks_)
    assert "it/s" in capsys.readouterr().err  # tqdm draws on stderr


def test_model_saved_with_cuda_device_loads_on_cpu_only_machine():
    """Simulates a model pickled on a GPU machine: its net records
    ``device='cuda'``; loading it where CUDA is unavailable maps to the CPU."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    X, y = make_categorical(n_samples=300)
    model = DeepFMClassifier(**FAST).fit(X, y)
    expected = model.predict_proba(X)
    model.net_.device = "cuda"
    model.set_params(device="cuda")
    data = pickle.dumps(model)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = pickle.loads(data)
    assert any(issubclass(w.category, DeviceWarning) for w in caught)
    assert str(loaded.net_.device) == "cpu"
    assert loaded.device == "cpu"  # the parameter follows, as documented
    assert_array_equal(loaded.predict_proba(X), expected)
    loaded.fit(X, y)
    assert loaded.predict_proba(X).shape == (len(X), 2)
