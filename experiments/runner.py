"""The runner every experiment shares: rows, resume, row JSON, the markdown table, the command.

An experiment keeps only what is its own: its configs (``configs/<preset>.py``, each with
``get_config()``), its rows (a name and a :class:`~jvae.run.spec.RunSpec` each), how a finished
run becomes a row (``summarise``), its table layout (``markdown(config, rows, machine)``) and
its figures. The runner does the rest, the same way for every experiment:

- a row whose JSON (``<results>/rows/<name>.json``) exists is read back and never run again
  (delete the JSON to run the row again);
- otherwise the row's run trains in ``<workdir>/<name>`` and is evaluated
  (:func:`jvae.run.experiment.train_and_evaluate_once`: a finished run is read back from its
  ``eval.json``, a killed one resumes from its last checkpoint), and its JSON is written;
- ``only`` (row names) runs only those rows, in the order named (cheapest first, say); the
  others enter the table when their JSON exists;
- the markdown table is rewritten after each row (every finished row, in the table's order).

``config`` is a preset's experiment config, a dict with at least ``preset``, ``workdir``
(training runs, never committed) and ``results`` (table, row JSON, figures), both relative to
the root (the working directory of ``python -m experiments.<name>``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import pathlib
from collections.abc import Callable, Iterable
from typing import Any

from jvae.reports.machine import describe
from jvae.run.experiment import train_and_evaluate_once
from jvae.run.spec import RunSpec

#: ``summarise(folder, spec, result) -> row``: a row's JSON from its run and its evaluation.
Summarise = Callable[[pathlib.Path, RunSpec, dict[str, Any]], dict[str, Any]]
#: ``markdown(config, rows, machine) -> str``: the table of the rows finished so far.
Markdown = Callable[[dict[str, Any], dict[str, dict], str], str]


def preset_config(package: str, presets: Iterable[str], preset: str) -> dict[str, Any]:
    """``get_config()`` of module ``<package>.<preset>`` (an experiment's ``configs``)."""
    if preset not in tuple(presets):
        raise ValueError(f"unknown preset {preset!r}; choose one of {tuple(presets)}.")
    return importlib.import_module(f"{package}.{preset}").get_config()


def read_rows(results: str | pathlib.Path) -> dict[str, dict[str, Any]]:
    """Every row JSON under ``results/rows`` by name (its path there without ``.json``,
    e.g. ``'vae'`` or ``'beta/kl_weight=1,seed=0'``), sorted by name."""
    folder = pathlib.Path(results) / "rows"
    return {
        path.relative_to(folder).with_suffix("").as_posix(): json.loads(path.read_text())
        for path in sorted(folder.rglob("*.json"))
    }


@dataclasses.dataclass(frozen=True)
class Table:
    """One preset's table of an experiment: where its runs and results go, and which rows to
    run (``only``: row names, compared without case; empty: all)."""

    config: dict[str, Any]
    root: pathlib.Path = dataclasses.field(default_factory=pathlib.Path.cwd)
    data_dir: str | None = None
    only: tuple[str, ...] = ()

    @property
    def preset(self) -> str:
        return self.config["preset"]

    @property
    def workdir(self) -> pathlib.Path:
        return self.root / self.config["workdir"]

    @property
    def results(self) -> pathlib.Path:
        return self.root / self.config["results"]

    def folder(self, name: str) -> pathlib.Path:
        """The training folder of row ``name``."""
        return self.workdir / name

    def row_path(self, name: str) -> pathlib.Path:
        return self.results / "rows" / f"{name}.json"

    def selected(self, name: str) -> bool:
        return not self.only or name.lower() in {o.lower() for o in self.only}

    def row(self, name: str, make: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """Row ``name``'s JSON: read back when it exists, else ``make()`` (which trains,
        resumes or reads back what it needs) written; ``None`` for a row ``only`` leaves out."""
        path = self.row_path(name)
        if path.exists():
            return json.loads(path.read_text())
        if not self.selected(name):
            return None
        row = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(row, indent=2))
        return row

    def evaluated(self, name: str, spec: RunSpec, summarise: Summarise) -> dict[str, Any] | None:
        """Row ``name`` of a run trained and evaluated in its folder (:meth:`row`)."""
        folder = self.folder(name)

        def make() -> dict[str, Any]:
            return summarise(folder, spec, train_and_evaluate_once(spec, folder, self.data_dir))

        return self.row(name, make)

    def write(self, text: str, filename: str = "table.md") -> str:
        """Writes ``results/filename``; returns ``text``."""
        self.results.mkdir(parents=True, exist_ok=True)
        (self.results / filename).write_text(text)
        return text

    def read(self, filename: str = "table.md") -> str:
        """``results/filename`` as written so far (empty before the first row)."""
        path = self.results / filename
        return path.read_text() if path.exists() else ""


def run_rows(
    table: Table,
    specs: dict[str, RunSpec],
    summarise: Summarise,
    markdown: Markdown,
    after_row: Callable[[str, dict[str, dict]], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every row of ``specs`` (name -> run) not yet finished, in order, those ``table.only``
    names in the order named (:meth:`Table.evaluated`), the markdown table rewritten and
    ``after_row(name, rows)`` (figures) called after each, and the table once more at the end;
    returns the rows finished. The table written after a row holds every row finished so far,
    in the table's order (a run stopped mid-way leaves a whole table); rows read back from
    their JSON are not drawn again."""
    done = {
        name: json.loads(table.row_path(name).read_text())
        for name in specs
        if table.row_path(name).exists()
    }

    def in_order() -> dict[str, dict[str, Any]]:
        return {name: done[name] for name in specs if name in done}

    named = [o.lower() for o in table.only]
    order = sorted(specs, key=lambda n: named.index(n.lower()) if n.lower() in named else -1)
    for name in order:
        if name in done:
            continue
        row = table.evaluated(name, specs[name], summarise)
        if row is None:
            continue
        done[name] = row
        table.write(markdown(table.config, in_order(), describe()))
        if after_row is not None:
            after_row(name, in_order())
    if done:
        table.write(markdown(table.config, in_order(), describe()))
    return in_order()


def main(
    run_table: Callable[..., str],
    get_config: Callable[[str], dict[str, Any]],
    presets: Iterable[str],
    doc: str,
    argv: list[str] | None = None,
    only: bool = True,
) -> None:
    """The command of an experiment: ``--preset``, ``--data-dir`` and (with ``only``)
    ``--only ROW...``; prints ``run_table(config, data_dir, only=...)``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--preset", default="smoke", choices=tuple(presets))
    parser.add_argument("--data-dir", help="dataset folder (default: ../shared/data)")
    if only:
        parser.add_argument(
            "--only", nargs="+", default=(), help="run only these rows, in this order (names)"
        )
    args = parser.parse_args(argv)
    kwargs = {"only": tuple(args.only)} if only else {}
    print(run_table(get_config(args.preset), args.data_dir, **kwargs))
