"""Order of the examples in the gallery: from first steps to inspection."""

from pathlib import Path

ORDER = [
    "quickstart.py",
    "onehot_pipeline.py",
    "unknown_categories.py",
    "plot_compare_logistic_regression.py",
    "plot_grid_search_embedding_dim.py",
    "plot_multiclass.py",
    "plot_regression.py",
    "plot_early_stopping.py",
    "plot_field_interactions.py",
    "plot_explain_adult.py",
    "gpu_training.py",
    "serving_onnx.py",
]


class ExampleOrder:
    """sphinx-gallery sort key: position in ``ORDER``, unknown files last."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __repr__(self):
        return "ExampleOrder"

    def __call__(self, filename):
        name = Path(filename).name
        position = ORDER.index(name) if name in ORDER else len(ORDER)
        return (position, name)
