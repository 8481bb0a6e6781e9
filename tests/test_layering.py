"""Layering: no module of jvae imports from a floor above its own.

The floors, bottom to top (a module may import from its own floor and the floors below):

=====  ==============================================================================
floor  top-level modules and subpackages of ``jvae``
=====  ==============================================================================
0      ``numerics``, ``distributions``, ``bounds``, ``compiler``, ``terminal``, ``options``,
       ``nn``, ``data`` (math on arrays, utilities, network modules, data files)
1      ``components`` (priors, posteriors, likelihoods, flows: built from floor 0)
2      ``models`` (a model assembled from components)
3      ``estimators``, ``objectives`` (losses of a model: gradient estimators, KL reweighting)
4      ``training`` (train steps and states over an objective)
5      ``diagnostics`` (NLL, active units, tightness, surgery on trained models)
6      ``reports`` (tables and figures of diagnostics)
7      ``run`` (experiments: configs, training loops, evaluation)
8      ``cli`` (the ``jvae`` command)
=====  ==============================================================================

``bounds`` is a function of log-weights only, so it sits at the bottom; ``estimators`` turns a
model into a loss, so it sits with ``objectives``. ``jvae/__init__.py`` is the public face and
may import from any floor; importing the face itself (``import jvae``, ``from jvae import
__version__``) counts as importing the highest floor the face imports from. Imports are read
with :mod:`ast` from every file under ``jvae/``, including imports inside functions and ``if
TYPE_CHECKING`` blocks; nothing is imported.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "jvae"

FLOORS: dict[str, int] = {
    "numerics": 0,
    "distributions": 0,
    "bounds": 0,
    "compiler": 0,
    "terminal": 0,
    "options": 0,
    "nn": 0,
    "data": 0,
    "components": 1,
    "models": 2,
    "estimators": 3,
    "objectives": 3,
    "training": 4,
    "diagnostics": 5,
    "reports": 6,
    "run": 7,
    "cli": 8,
}


def _module_name(path: pathlib.Path, package: pathlib.Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> list[pathlib.Path]:
    """Every source file of jvae but the public face ``jvae/__init__.py``."""
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def _imports(path: pathlib.Path, package: pathlib.Path = PACKAGE) -> list[tuple[str, int]]:
    """The jvae modules ``path`` imports, each with its line, relative imports resolved.

    ``from jvae import compiler`` names ``jvae.compiler``; ``from jvae.x import y`` names
    ``jvae.x`` (whose floor is the floor of ``y`` too).
    """
    module = _module_name(path, package)
    parent = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parent.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name == "jvae":  # a submodule, or a name of the public face
                found += [
                    (
                        f"jvae.{alias.name}" if _is_module(package, alias.name) else "jvae",
                        node.lineno,
                    )
                    for alias in node.names
                ]
            else:
                found.append((name, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == "jvae"]


def _is_module(package: pathlib.Path, name: str) -> bool:
    return (package / f"{name}.py").is_file() or (package / name / "__init__.py").is_file()


def _floor(module: str) -> tuple[str, int | None]:
    """``(top-level name, floor)`` of a jvae module; the floor is None when it is not listed.
    The public face ``jvae`` sits at the highest floor it imports from."""
    if module == "jvae":
        face = PACKAGE / "__init__.py"
        return "the public face", max(_floor(name)[1] or 0 for name, _ in _imports(face))
    top = module.split(".")[1]
    return top, FLOORS.get(top)


def test_every_module_has_a_floor() -> None:
    tops = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    tops |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    missing = sorted(tops - FLOORS.keys())
    assert not missing, f"place {missing} in FLOORS in tests/test_layering.py"


def test_no_import_goes_up_a_floor() -> None:
    upward = []
    for path in _modules():
        module = _module_name(path)
        top, floor = _floor(module)
        for imported, line in _imports(path):
            imported_top, imported_floor = _floor(imported)
            if floor is None or imported_floor is None:
                continue  # test_every_module_has_a_floor names it
            if imported_floor > floor:
                upward.append(
                    f"{module} (floor {floor}, {top}) imports {imported} "
                    f"(floor {imported_floor}, {imported_top}) at "
                    f"{path.relative_to(PACKAGE.parent)}:{line}"
                )
    assert not upward, "imports from a lower floor to a higher one:\n" + "\n".join(upward)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from jvae import compiler, bounds", ["jvae.compiler", "jvae.bounds"]),
        ("import jvae\nfrom jvae import __version__", ["jvae", "jvae"]),
        ("from jvae.reports.progress import progress_bar", ["jvae.reports.progress"]),
        ("import jvae.run.experiment as e", ["jvae.run.experiment"]),
        ("def f():\n    from jvae.cli import common", ["jvae.cli"]),
        ("from . import kl", ["jvae.objectives"]),
        ("from .. import models", ["jvae.models"]),
        ("from ..models import model", ["jvae.models"]),
        ("import numpy as np\nfrom jax import numpy", []),
    ],
)
def test_imports_are_read_from_the_source(
    tmp_path: pathlib.Path, source: str, expected: list[str]
) -> None:
    """The reader finds module-level, function-level and relative imports (as written in
    ``jvae/objectives/reweighted.py`` of a package with ``compiler``, ``bounds`` and
    ``models``), and tells a submodule from a name of the public face."""
    package = tmp_path / "jvae"
    for stub in ("__init__.py", "compiler.py", "bounds.py", "models/__init__.py"):
        (package / stub).parent.mkdir(parents=True, exist_ok=True)
        (package / stub).write_text("")
    path = package / "objectives" / "reweighted.py"
    path.parent.mkdir(parents=True)
    path.write_text(source)
    assert [name for name, _ in _imports(path, tmp_path / "jvae")] == expected
