"""Compares training objectives and gradient estimators at the same k, seed and budget:
VAE, IWAE, IWAE-STL, IWAE-DReG, MIWAE, CIWAE, PIWAE (1 stochastic layer, MNIST).

    python -m experiments.bounds_mnist --preset smoke
    python -m experiments.bounds_mnist --preset cpu        # resumable: rerun to continue
    python -m experiments.bounds_mnist --preset cpu --only IWAE-DReG

Rainforth et al. 2018's choices: MIWAE and PIWAE with M groups of k/M, CIWAE with its mixing
weight beta. Each objective trains in its own folder under the preset's ``workdir`` (run by
:mod:`experiments.runner`); the table (test NLL, test ELBO, active units, wall times) and the
figure of NLL against -ELBO, both rewritten after each row, and one JSON per row go to the
preset's ``results`` folder.
"""

from __future__ import annotations

import pathlib

from experiments import runner
from experiments.bounds_mnist.configs import PRESETS, get_config
from experiments.bounds_mnist.figure import tradeoff
from experiments.bounds_mnist.table import NAMES, markdown, specs, summarise


def run_table(
    config: dict,
    data_dir: str | None = None,
    root: pathlib.Path | None = None,
    only: tuple[str, ...] = (),
) -> str:
    """Every objective (or those in ``only``, and the finished ones) under ``config`` (a
    preset's); returns the markdown table of the rows finished so far."""
    table = runner.Table(config, root or pathlib.Path.cwd(), data_dir, only)

    def draw(name: str, rows: dict[str, dict]) -> None:
        named = {NAMES[key]: row for key, row in rows.items()}
        tradeoff(named, table.results / "nll_vs_elbo.png")

    runner.run_rows(table, specs(config), summarise, markdown, draw)
    return table.read()


def main(argv: list[str] | None = None) -> None:
    runner.main(run_table, get_config, PRESETS, __doc__, argv)
