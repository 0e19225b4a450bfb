"""Sphinx configuration of the sklearn-deepfm documentation.

Build (from the repository root)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build runs every script in ``examples/`` (sphinx-gallery) and needs
nothing but the ``docs`` extra: ``pip install -e ".[docs]"``.  It works
offline; set ``SKLEARN_DEEPFM_DOCS_INTERSPHINX=1`` to link the names of
scikit-learn, NumPy, PyTorch, ... to their documentation (this downloads
their inventories).
"""

import os
import re
import sys
from pathlib import Path

import sklearn_deepfm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "sphinxext"))

project = "sklearn-deepfm"
author = "The sklearn-deepfm developers"
copyright = "The sklearn-deepfm developers"
version = release = sklearn_deepfm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "sphinxext", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"

# -- API reference -----------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# numpydoc renders the parameter tables; the class templates list the methods
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- Links to other projects (opt-in: needs the network) ---------------------
INTERSPHINX = bool(os.environ.get("SKLEARN_DEEPFM_DOCS_INTERSPHINX"))
if INTERSPHINX:
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "pandas": ("https://pandas.pydata.org/docs", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    }

# -- Example gallery ---------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # run every script, not only plot_*.py
    "filename_pattern": r".*",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "doc_module": ("sklearn_deepfm",),
    "backreferences_dir": "generated/backreferences",
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-deepfm {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sg_download_links", "sg_launcher_links"],
}
html_sidebars = {"getting_started": [], "index": []}
html_show_sourcelink = False


# -- Inherited docstrings ----------------------------------------------------
# Methods inherited from scikit-learn (score, get_params, set_fit_request, ...)
# refer to labels and glossary terms of scikit-learn's own documentation.
# Offline, those cannot resolve: keep their text and drop the link.
_FOREIGN_ROLE = re.compile(r":(?:ref|term):`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")


def _unlink_foreign_references(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if INTERSPHINX or module.startswith("sklearn_deepfm"):
        return
    for index, line in enumerate(lines):
        lines[index] = _FOREIGN_ROLE.sub(
            lambda match: match.group(1) or match.group(2), line
        )


def setup(app):
    app.connect("autodoc-process-docstring", _unlink_foreign_references)
