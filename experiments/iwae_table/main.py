"""Rebuilds the IWAE paper's table 1 (Burda et al. 2015): VAE and IWAE with 1 and 2 stochastic
layers for k in {1, 5, 50}, on MNIST and Omniglot; test NLL (K=5000) and active units.

    python -m experiments.iwae_table --preset smoke
    python -m experiments.iwae_table --preset cpu        # resumable: rerun to continue
    python -m experiments.iwae_table --preset cpu --only mnist_l2_iwae_k5

Each row trains in its own folder under the preset's ``workdir`` (checkpoints there, never
committed) and is run by :mod:`experiments.runner` (a row whose JSON exists is read back, a
killed one resumes). The table (``table.md``, rewritten with ``nll_vs_k.png`` after each row),
one JSON per row and the figure go to the preset's ``results`` folder; a run that logged its
test ELBO during training (the ``paper`` preset's ``curve_every``) adds its learning curves
(``curves/<row>.json``, ``learning_curves.png``).
"""

from __future__ import annotations

import json
import pathlib

from experiments import runner
from experiments.iwae_table.configs import PRESETS, get_config
from experiments.iwae_table.table import (
    curve_figure,
    figure,
    keyed,
    learning_curve,
    markdown,
    specs,
    summarise,
)


def run_table(
    config: dict,
    data_dir: str | None = None,
    root: pathlib.Path | None = None,
    only: tuple[str, ...] = (),
) -> str:
    """Every row of ``config`` (a preset's; with ``only``, those rows and the finished ones);
    returns the markdown table."""
    table = runner.Table(config, root or pathlib.Path.cwd(), data_dir, only)

    def draw(name: str, rows: dict[str, dict]) -> None:
        cells = keyed(config, rows)
        if cells:
            figure(cells, table.results / "nll_vs_k.png")
        curve = learning_curve(table.folder(name))
        if curve["test_passes"]:  # the runs that logged a test ELBO (``curve_every``)
            (table.results / "curves").mkdir(exist_ok=True)
            (table.results / "curves" / f"{name}.json").write_text(json.dumps(curve))
            curves = {
                path.stem: json.loads(path.read_text())
                for path in (table.results / "curves").glob("*.json")
            }
            curve_figure(curves, table.results / "learning_curves.png")

    runner.run_rows(table, specs(config), summarise, markdown, draw)
    return table.read()


def main(argv: list[str] | None = None) -> None:
    runner.main(run_table, get_config, PRESETS, __doc__, argv)
