"""Sphinx configuration of jvae's documentation site.

Build (from the repository root, with the ``docs`` extra installed)::

    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

Warnings are errors: an undocumented public name, a cross-reference to a jvae name that does
not exist, or a tutorial cell that raises fails the build (``tests/test_docs.py`` runs it).
Tutorials (MyST markdown notebooks under ``tutorials/``) are executed at every build;
``JVAE_DOCS_EXECUTION=cache`` reuses outputs of unchanged notebooks from a cache outside the
repository (``~/.cache/jvae/jupyter-cache``), ``off`` skips execution (pages without outputs).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jvae  # noqa: E402

project = "jvae"
author = "the jvae authors"
copyright = "2026, the jvae authors"
release = jvae.__version__
version = jvae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_nb",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static: math renders offline too
]

# The sources: MyST markdown pages and notebooks, and reStructuredText API pages.
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "screenshots", "**/.ipynb_checkpoints"]
root_doc = "index"

# MyST: $...$ math, ::: fences, definition lists.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Executed tutorials.
nb_execution_mode = os.environ.get("JVAE_DOCS_EXECUTION", "force")
nb_execution_cache_path = str(Path.home() / ".cache" / "jvae" / "jupyter-cache")
nb_execution_timeout = 300  # seconds per cell
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True
nb_output_stderr = "remove"  # library warnings (tqdm's notebook hint); a failing cell still fails

# API reference: autodoc + napoleon (Google style, as jvae's docstrings are written).
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"show-inheritance": False}
autodoc_preserve_defaults = True
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True
napoleon_use_ivar = False  # "Attributes:" entries are objects (Model.log_weights links)

# Cross-references: every reference to a jvae name must resolve (a renamed function breaks
# the build, not the reader); references to other libraries' names are not checked (the build
# is offline, without their inventories).
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(?!jvae\b).*"),
    # The run layer (configurations, results folders, reports, the command line) is being
    # rewritten and is not in the reference yet; docstrings may point at it.
    (r"py:.*", r"jvae\.(run|cli|reports|models\.build)(\..*)?"),
]
# Library docstrings that still name a path from before the layout by idea (first wave:
# jvae.train, jvae.linear_gaussian); each resolves to the object's public path. Fix the
# docstring, then delete its line here.
STALE_REFERENCES = {
    "jvae.train.make_epoch": "jvae.training.make_epoch",
    "jvae.train.TrainState": "jvae.training.TrainState",
    "jvae.linear_gaussian": "jvae.models.linear_gaussian",
}

html_theme = "sphinx_book_theme"
html_title = f"jvae {jvae.__version__}"
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": False,
    "use_fullscreen_button": False,
}
html_static_path: list[str] = []
html_last_updated_fmt = None
html_show_sourcelink = False
# The build is offline: no fonts or icons from the web.
html_permalinks_icon = "#"

logger = logging.getLogger("jvae.docs")

# ---------------------------------------------------------------------------------------------
# The public API: every name of jvae.__all__ and of the public subpackages' __all__ must be
# documented once, at its public path (jvae.bounds.iwae, jvae.components.VampPrior, ...).

PUBLIC_MODULES = (
    "jvae",
    "jvae.numerics",
    "jvae.distributions",
    "jvae.bounds",
    "jvae.estimators",
    "jvae.objectives",
    "jvae.components",
    "jvae.models",
    "jvae.nn",
    "jvae.diagnostics.disentanglement",
    "jvae.data",
    "jvae.training",
)

# jvae.__all__ grouped by concept for the API index: (title, page, defining-module prefixes).
CONCEPTS = (
    ("Bounds of the log-weights", "api/bounds", ("jvae.bounds", "jvae.numerics")),
    ("Gradient estimators", "api/estimators", ("jvae.estimators",)),
    ("Objectives: KL weighting, beta-VAE, free bits, capacity", "api/objectives",
     ("jvae.objectives",)),
    ("Components: posteriors, priors, conditionals, likelihoods", "api/components",
     ("jvae.components",)),
    ("Models", "api/models", ("jvae.models",)),
    ("Diagnostics", "api/diagnostics", ("jvae.diagnostics",)),
    ("Training", "api/training", ("jvae.training",)),
)  # fmt: skip


def _public_names() -> dict[str, object]:
    """``{'jvae.components.VampPrior': obj, ...}`` for every public module's ``__all__``
    (flat modules without ``__all__``: their functions and classes defined there)."""
    out = {}
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [
                n
                for n, v in vars(module).items()
                if not n.startswith("_") and getattr(v, "__module__", None) == name
            ]
        for n in names:
            out[f"{name}.{n}"] = getattr(module, n)
    return out


def _documented(env) -> set[str]:
    return set(env.get_domain("py").objects)


def _defining_module(obj: object) -> str:
    return getattr(obj, "__module__", None) or ""


class PublicNames(SphinxDirective):
    """``.. jvae-public-names::``: the names of ``jvae.__all__`` grouped by concept, each
    linked to where it is documented (the table follows ``__all__``, so it never drifts)."""

    def run(self) -> list[nodes.Node]:
        groups: dict[str, list[str]] = {title: [] for title, _, _ in CONCEPTS}
        for name in jvae.__all__:
            obj = getattr(jvae, name)
            module = _defining_module(obj)
            if not isinstance(obj, type) and not callable(obj):
                module = "jvae.models"  # constants (PRIOR_ENCODER)
            for title, _, prefixes in CONCEPTS:
                if module.startswith(prefixes):
                    groups[title].append(name)
                    break
            else:
                logger.warning(
                    f"jvae.{name} (from {module}) belongs to no concept of the API index"
                )
        lines: list[str] = []
        for title, page, _ in CONCEPTS:
            lines += [f".. rubric:: {title} (:doc:`/{page}`)", "", ".. autosummary::", ""]
            lines += [f"   ~{_public_path(n)}" for n in groups[title]]
            lines.append("")
        container = nodes.section()
        container.document = self.state.document
        self.state.nested_parse(StringList(lines, source="jvae-public-names"), 0, container)
        return container.children


class Submodules(SphinxDirective):
    """``.. jvae-submodules:: jvae.diagnostics``: one section per submodule of a package (its
    title the module docstring's first line), ``:first:`` modules in that order, then the
    rest alphabetically, less ``:exclude:``. A module added to the package is documented
    without editing these pages."""

    required_arguments = 1
    option_spec = {"first": str, "exclude": str}

    def run(self) -> list[nodes.Node]:
        import pkgutil

        package = importlib.import_module(self.arguments[0])
        names = sorted(m.name for m in pkgutil.iter_modules(package.__path__))
        first = self.options.get("first", "").split()
        exclude = set(self.options.get("exclude", "").split())
        ordered = [n for n in first if n in names] + [n for n in names if n not in first]
        lines: list[str] = []
        for name in ordered:
            if name in exclude or name.startswith("_"):
                continue
            full = f"{package.__name__}.{name}"
            module = importlib.import_module(full)
            title = (module.__doc__ or full).strip().splitlines()[0].strip()
            title = title.split(": ")[0].rstrip(".") if len(title) > 70 else title.rstrip(".")
            title = f"``{full}``: {title}" if title != full else f"``{full}``"
            lines += [title, "-" * len(title), "", f".. automodule:: {full}", "   :members:", ""]
            if getattr(module, "__all__", None) is not None:
                lines.append("   :undoc-members:")
                lines.append("")
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source=self.arguments[0]), container)
        return container.children


def _public_path(name: str) -> str:
    """The documented path of ``jvae.<name>``: the public subpackage or flat module that
    exports it, else its defining module."""
    obj = getattr(jvae, name)
    module = _defining_module(obj)
    if not module:
        return f"jvae.models.{name}"
    for candidate in PUBLIC_MODULES[1:]:
        if module == candidate or module.startswith(candidate + "."):
            if getattr(importlib.import_module(candidate), name, None) is obj:
                return f"{candidate}.{name}"
    return f"{module}.{name}"


_BY_ID: dict[int, str] = {}


def _index_documented(app, env) -> None:
    """Maps each documented object (by identity) to its documented name, so that a docstring
    referring to a private path (``jvae.objectives.kl.analytic_kl``) finds the public one."""
    _BY_ID.clear()
    for full in _documented(env):
        obj = _resolve(full)
        if obj is not None:
            _BY_ID.setdefault(id(obj), full)


def _resolve(path: str) -> object | None:
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except Exception:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _experiment_links(app, relative_path, parent_docname, content) -> None:
    """The experiment index (``experiments/README.md``, included in ``experiments.md``) links
    ``name/`` and ``name/results/cpu/table.md``; on the site both are the page
    ``experiments/name``, which includes that table (``include-read`` event)."""
    import re

    if Path(relative_path).as_posix().endswith("experiments/README.md"):
        content[0] = re.sub(
            r"\]\((\w+)/(?:results/cpu/table\.md)?\)",
            lambda m: (
                f"](experiments/{m.group(1)}.md)"
                if (Path(app.srcdir) / "experiments" / f"{m.group(1)}.md").is_file()
                else m.group(0)
            ),
            content[0],
        )
        # Other relative links name files of the repository, not pages of the site: keep the
        # text, drop the link.
        content[0] = re.sub(
            r"\[([^\]]+)\]\((?!experiments/\w+\.md\)|[a-z]+:|#)[^)\s]+\)", r"\1", content[0]
        )


def _missing_reference(app, env, node, contnode):
    """Resolves a jvae path that is not the documented one: a private module path in a
    docstring (``jvae.objectives.kl.analytic_kl``) to the public path of the same object, a
    private submodule (``jvae.components.priors``) to its documented package, and the
    :data:`STALE_REFERENCES`. Anything else is left to nitpicky's warning."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    candidates = [STALE_REFERENCES.get(target, target)]
    if node.get("py:module") and not target.startswith("jvae"):
        candidates.append(f"{node['py:module']}.{target}")
    domain = env.get_domain("py")
    documented_names = _documented(env)
    for candidate in candidates:
        if not candidate.startswith("jvae."):
            continue
        obj = _resolve(candidate)
        documented = None if obj is None else _BY_ID.get(id(obj))
        if documented is None and isinstance(obj, type(sys)):
            parts = candidate.split(".")
            for i in range(len(parts) - 1, 1, -1):
                if ".".join(parts[:i]) in documented_names:
                    documented = ".".join(parts[:i])
                    break
        if documented is None:
            if obj is not None:  # exists, but has no page (a private helper): plain text
                return contnode
            continue
        found = domain.resolve_any_xref(
            env, node["refdoc"], app.builder, documented, node, contnode
        )
        if found:
            return found[0][1]
    return None


def _check_coverage(app, env) -> None:
    """Warns (an error under -W) for every public name that no API page documents."""
    documented = _documented(env)
    ids = {id(_resolve(name)) for name in documented}
    for name, obj in sorted(_public_names().items()):
        if name.startswith("jvae.") and name.count(".") == 1:
            name = _public_path(name.split(".")[1])
        if name in documented or (callable(obj) and id(obj) in ids):
            continue
        logger.warning(f"public name {name} is not documented in docs/api/")


_CONTROL = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}


def _repair_docstrings(app) -> None:
    """A control character in a docstring is a LaTeX command written in a non-raw string
    (``"\\frac"`` became form feed + ``rac``); restore the backslash so the math renders.
    Done on the objects before autodoc reads them (it splits lines at a form feed)."""
    import pkgutil

    for info in pkgutil.walk_packages(jvae.__path__, "jvae."):
        if not info.name.startswith(("jvae.run", "jvae.cli", "jvae.reports")):
            try:
                importlib.import_module(info.name)
            except Exception:  # autodoc reports a module that does not import
                pass
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("jvae") or module is None:
            continue
        for value in list(vars(module).values()):
            doc = getattr(value, "__doc__", None)
            if getattr(value, "__module__", None) != module_name or not isinstance(doc, str):
                continue
            if any(c in doc for c in _CONTROL):
                for c, escaped in _CONTROL.items():
                    doc = doc.replace(c, escaped)
                try:
                    value.__doc__ = doc
                    logger.info(
                        f"docs: repaired a control character in {module_name}.{value.__name__}"
                    )
                except (AttributeError, TypeError):
                    pass


def _skip_member(app, what, name, obj, skip, options):
    """A class's data attributes (NamedTuple and dataclass fields) are documented once, by
    its docstring's ``Attributes:`` section; autodoc documents its methods."""
    if what != "class":
        return None
    if not (callable(obj) or isinstance(obj, property)):
        return True
    if callable(obj) and getattr(obj, "__name__", name) != name:
        return True  # a field whose default is a function (a Flax module's activation)
    return None


def setup(app):
    app.add_directive("jvae-public-names", PublicNames)
    app.add_directive("jvae-submodules", Submodules)
    app.connect("builder-inited", _repair_docstrings)
    app.connect("env-updated", lambda app, env: _index_documented(app, env) or [])
    app.connect("env-check-consistency", _check_coverage)
    app.connect("missing-reference", _missing_reference)
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("include-read", _experiment_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
