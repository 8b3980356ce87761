"""Sphinx configuration of skrnn's documentation.

Build (warnings are errors, as in CI)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Pages are Markdown (MyST) or reStructuredText; the API reference is generated
from the numpydoc docstrings by autodoc + autosummary (stub pages go to
``docs/generated/``, which git ignores). The build needs no network: there is
no intersphinx and the theme loads nothing remote at build time.
"""

import os
import re
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document the working tree even without `pip install -e .`.
sys.path.insert(0, str(ROOT))

# TensorFlow is imported by autodoc for skrnn.keras_model: keep it quiet, as
# the estimators do. These variables must be set before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _import_tensorflow_quietly():
    """Import TensorFlow once, with file descriptor 2 pointed at /dev/null.

    TensorFlow 2.20+ writes C++ log lines (``All log messages before
    absl::InitializeLog()``, ``Could not find cuda drivers``, oneDNN notices)
    straight to descriptor 2 while it is imported, and
    ``TF_CPP_MIN_LOG_LEVEL`` no longer hides them; ``skrnn._tensorflow`` does
    the same on its first use. Errors still surface as Python exceptions, and
    a missing TensorFlow is left for autodoc to report.
    """
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        return
    from skrnn._tensorflow import stderr_to_devnull

    try:
        with stderr_to_devnull():
            import tensorflow  # noqa: F401
    except ImportError:
        pass  # autodoc reports it, with the module that needed it


_import_tensorflow_quietly()

import sphinx  # noqa: E402

import skrnn  # noqa: E402

# -- Project -----------------------------------------------------------------
project = "skrnn"
author = "the skrnn developers"
copyright = f"{time.gmtime().tm_year}, {author}"
release = skrnn.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"

# Everything under docs/ that is not a page of this site.
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/.ipynb_checkpoints"]

# -- MyST (Markdown) ---------------------------------------------------------
myst_enable_extensions = [
    "colon_fence",  # ::: directives
    "deflist",
    "dollarmath",
    "fieldlist",
]
# Headings up to ### get anchors, so that [text](page.md#a-heading) works.
myst_heading_anchors = 3

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    "show-inheritance": False,
}
autodoc_member_order = "groupwise"
autodoc_typehints = "none"  # numpydoc docstrings carry the types
# Each class page lists its methods itself (docs/_templates/autosummary/class.rst).
numpydoc_show_class_members = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

templates_path = ["_templates"]


def _skip_foreign_member(app, what, name, obj, skip, options):
    """Document skrnn's own members only.

    Methods inherited from scikit-learn (``get_params``, ``set_params``,
    ``score`` of ``ClassifierMixin``, the ``set_*_request`` metadata-routing
    methods) and from Keras are described once, on the API page, instead of
    being copied into every class page: their docstrings link to pages of
    those projects' own documentation.
    """
    if skip:
        return True
    if name.startswith("set_") and name.endswith("_request"):
        return True
    if callable(obj) and not getattr(obj, "__doc__", None):
        return True  # undocumented (e.g. Keras Layer.call overrides)
    target = getattr(obj, "fget", obj)  # properties
    module = getattr(target, "__module__", None) or ""
    # `what` is the parent's type for autodoc and the member's for autosummary.
    if module and not module.startswith("skrnn"):
        return True
    return None


# Markdown pages written for GitHub (docs/benchmarks.md and the other records
# kept next to the code) link to files of the repository by relative paths.
# Links to existing files become downloads, but a link to a folder or to a
# Markdown file outside docs/ has no target in the site: keep its text, add the
# path, drop the link.
_MD_LINK = re.compile(r"(?<![!\]])\[([^\]\n]+)\]\(([^)\s]+)\)")


def _unlink_outside_docs(text, base):
    def replace(match):
        label, target = match.groups()
        if ":" in target or target.startswith("#"):
            return match.group(0)  # URLs, mailto:, anchors
        path = (base / target.split("#", 1)[0]).resolve()
        if path.is_relative_to(DOCS) or (path.is_file() and path.suffix != ".md"):
            return match.group(0)
        shown = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else target
        return label if shown in label else f"{label} (`{shown}`)"

    return _MD_LINK.sub(replace, text)


def _on_source_read(app, docname, source):
    if Path(app.env.doc2path(docname)).suffix == ".md":
        source[0] = _unlink_outside_docs(source[0], (DOCS / docname).parent)


def _on_include_read(app, relative_path, parent_docname, content):
    if Path(relative_path).suffix == ".md":
        content[0] = _unlink_outside_docs(content[0], (DOCS / relative_path).parent)


def _full_width_figures(app, doctree, docname):
    """Show every figure at the page's full width and link it to its full-size file.

    Sphinx links an image to its file only when the page scales it, so each
    image without an explicit size gets ``width: 100%`` (which also makes
    Sphinx add that link) and the ``skrnn-figure`` class (``_static/skrnn.css``).
    The plots are all wider than the page, so none of them is enlarged.
    """
    from docutils import nodes

    for node in doctree.findall(nodes.image):
        if any(key in node for key in ("scale", "width", "height")) or isinstance(
            node.parent, nodes.reference
        ):
            continue
        node["width"] = "100%"
        node["classes"].append("skrnn-figure")


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_member)
    app.connect("doctree-resolved", _full_width_figures)
    app.connect("source-read", _on_source_read)
    if sphinx.version_info >= (7, 2, 5):  # the event's first release
        app.connect("include-read", _on_include_read)


# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skrnn {release}"
html_static_path = ["_static"]
html_css_files = ["skrnn.css"]  # wrapped code lines, wider page, full-width figures
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
html_last_updated_fmt = "%Y-%m-%d"
