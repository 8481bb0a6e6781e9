"""How tight is K=5000? For trained models of the committed experiments (the 1-layer VAE and
IWAE k=50, the HVAE with a VampPrior, VLAE): L_K up to K=5000 against annealed importance
sampling at increasing T on test images, and the BDMC sandwich on images simulated from each
model, which bounds log p(x) from both sides (Wu et al. 2017; Grosse et al. 2015).

    python -m experiments.sandwich --preset smoke
    python -m experiments.sandwich --preset cpu        # resumable: rerun to continue

Rows train in their own folders under the preset's ``workdir`` (:mod:`experiments.runner`: a row
whose JSON exists is read back, a killed training resumes); each row's measurement writes a
tightness report (``reports/<row>/``); ``table.md``, one JSON per row and ``sandwich.png`` (every
estimate against the evaluations it spent) go to the preset's ``results`` folder.
"""

from __future__ import annotations

import pathlib

from experiments import runner
from experiments.sandwich.configs import PRESETS, get_config
from experiments.sandwich.figure import save_sandwich_figure
from experiments.sandwich.table import LABELS, markdown, measure, specs, summarise
from jvae.run.spec import RunSpec


def run_table(
    config: dict,
    data_dir: str | None = None,
    root: pathlib.Path | None = None,
    only: tuple[str, ...] = (),
) -> str:
    """Every row of ``config`` (a preset's) and the figure; returns the table, which is also
    rewritten after each row."""
    table = runner.Table(config, root or pathlib.Path.cwd(), data_dir, only)

    def summarise_row(folder: pathlib.Path, spec: RunSpec, result: dict) -> dict:
        report = measure(folder, config, data_dir, table.results / "reports" / folder.name)
        return summarise(folder, spec, result, report)

    def draw(name: str, rows: dict[str, dict]) -> None:
        save_sandwich_figure(rows, LABELS, table.results / "sandwich.png")

    runner.run_rows(table, specs(config), summarise_row, markdown, draw)
    return table.read()


def main(argv: list[str] | None = None) -> None:
    runner.main(run_table, get_config, PRESETS, __doc__, argv)
