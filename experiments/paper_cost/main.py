"""Projects what every experiment's ``paper`` preset would take on this machine, from the
measured speed of each of its rows (:mod:`experiments.paper_cost.table`).

    python -m experiments.paper_cost --preset smoke
    python -m experiments.paper_cost --preset cpu          # every paper row; resumable
    python -m experiments.paper_cost --preset cpu --only iwae_table/mnist_l1_iwae_k1

Each row's measurement (``rows/<experiment>/<row>.json``) is kept and read back on a rerun;
the table of totals and rows is rewritten after each.
"""

from __future__ import annotations

import pathlib

from experiments import runner
from experiments.paper_cost.configs import PRESETS, get_config
from experiments.paper_cost.table import markdown, measure_row, paper_runs
from jvae.reports.machine import describe


def run_table(
    config: dict,
    data_dir: str | None = None,
    root: pathlib.Path | None = None,
    only: tuple[str, ...] = (),
) -> str:
    """Every row of the config's experiments (those in ``config['only']`` or ``only`` when
    given: ``<experiment>/<row>`` or a row name), measured; returns the markdown table."""
    table = runner.Table(config, root or pathlib.Path.cwd(), data_dir)
    wanted = {name.lower() for name in (*config["only"], *only)}
    rows: dict[str, dict] = {}
    for experiment in config["experiments"]:
        paper, runs = paper_runs(experiment)
        for name, run in runs.items():
            key = f"{experiment}/{name}"
            if wanted and not {key.lower(), name.lower()} & wanted:
                continue
            folder = table.folder(key)

            def make(experiment=experiment, name=name, run=run, folder=folder, paper=paper):
                return measure_row(experiment, paper, name, run, config, folder)

            rows[key] = table.row(key, make)
            table.write(markdown(config, rows, describe()))
    return table.read()


def main(argv: list[str] | None = None) -> None:
    runner.main(run_table, get_config, PRESETS, __doc__, argv)
