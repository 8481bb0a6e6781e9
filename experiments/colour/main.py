"""Colour images: conv VAEs with a Gaussian (on dequantised data), a discretised logistic and a
mixture of discretised logistics, and PixelCNN decoders of a small and a large receptive field
(the posterior-collapse contrast of VLAE, Chen et al. 2017, in colour), on scikit-image's photo
patches (``photo-patches``, 32x32x3).

    python -m experiments.colour --preset smoke
    python -m experiments.colour --preset cpu        # resumable: rerun to continue

Rows train in their own folders under the preset's ``workdir``, run by :mod:`experiments.runner`
(the Gaussian row's dequantised data are written there too); ``table.md``, one JSON per row and
``figures/<row>.png`` (test tiles, reconstructions, samples) go to the preset's ``results``
folder.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments import runner
from experiments.colour.configs import PRESETS, get_config
from experiments.colour.table import markdown, specs, summarise
from experiments.vlae.main import rates  # a trained run's model, test images and rates
from jvae.reports.figures import save_grid
from jvae.run.spec import RunSpec


def save_row_figure(run: dict[str, Any], count: int, title: str, path: pathlib.Path) -> None:
    """One grid of ``count`` columns: test tiles, their reconstructions, then ``count`` samples
    (keys folded from the run's: 1 reconstructions, 2 samples)."""
    model, params, key = run["model"], run["params"], run["key"]
    data = run["test"][:count]
    recon = jax.jit(model.reconstruct)(params, jax.random.fold_in(key, 1), jnp.asarray(data))
    samples = jax.jit(model.sample, static_argnums=2)(params, jax.random.fold_in(key, 2), count)
    images = np.concatenate([data, np.asarray(recon), np.asarray(samples)])
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(images, path, count, title, model.event_shape)


def run_table(
    config: dict,
    data_dir: str | None = None,
    root: pathlib.Path | None = None,
    only: tuple[str, ...] = (),
) -> str:
    """Every row of ``config`` (a preset's) and its figure; returns the table, which is also
    rewritten after each row."""
    table = runner.Table(config, root or pathlib.Path.cwd(), data_dir, only)
    measured: dict[str, dict[str, Any]] = {}

    def summarise_row(folder: pathlib.Path, spec: RunSpec, result: dict) -> dict:
        measured[folder.name] = rates(folder, config, data_dir)
        return summarise(folder, spec, result, measured[folder.name]["rate"])

    def draw(name: str, rows: dict[str, dict]) -> None:
        path = table.results / "figures" / f"{name}.png"
        if path.exists() or not (table.folder(name) / "eval.json").exists():
            return
        run = measured.get(name) or rates(table.folder(name), config, data_dir)
        title = f"{name}: test tiles / reconstructions / samples"
        save_row_figure(run, config["figure_images"], title, path)

    runner.run_rows(table, specs(config, table.root, data_dir), summarise_row, markdown, draw)
    return table.read()


def main(argv: list[str] | None = None) -> None:
    runner.main(run_table, get_config, PRESETS, __doc__, argv)
