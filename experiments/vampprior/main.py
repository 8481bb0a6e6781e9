"""Rebuilds the VampPrior paper's HVAE table (Tomczak & Welling 2018, table 2): a two-level
hierarchical VAE with a standard normal prior, a mixture of Gaussians, the VampPrior with
training images as pseudo-inputs, and the learned VampPrior; then the VampPrior under IWAE (k=5),
trained with plain reparameterisation and with DReG.

    python -m experiments.vampprior --preset smoke
    python -m experiments.vampprior --preset cpu        # resumable: rerun to continue

Rows train in their own folders under the preset's ``workdir``, run by :mod:`experiments.runner`
(a row whose JSON exists is read back, a killed one resumes). ``table.md``, one JSON per row and
each row's figures go to the preset's ``results`` folder.
"""

from __future__ import annotations

import pathlib

from experiments import runner
from experiments.vampprior.configs import PRESETS, get_config
from experiments.vampprior.table import copy_figures, markdown, specs, summarise


def run_table(
    config: dict,
    data_dir: str | None = None,
    root: pathlib.Path | None = None,
    only: tuple[str, ...] = (),
) -> str:
    """Every row of ``config`` (a preset's); returns the markdown table, which is also
    rewritten after each row (a table of the rows finished so far)."""
    table = runner.Table(config, root or pathlib.Path.cwd(), data_dir, only)

    def draw(name: str, rows: dict[str, dict]) -> None:
        copy_figures(table.folder(name), table.results / "figures", name)

    runner.run_rows(table, specs(config), summarise, markdown, draw)
    return table.read()


def main(argv: list[str] | None = None) -> None:
    runner.main(run_table, get_config, PRESETS, __doc__, argv)
