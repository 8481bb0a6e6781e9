"""The VLAE comparison (Chen et al. 2017): a VAE, an IAF posterior, an AF prior and VLAE (an
AF prior with a small-field PixelCNN decoder) on binarised MNIST, and the posterior-collapse
contrast: a large-field PixelCNN decoder trained with the plain ELBO beside VLAE.

    python -m experiments.vlae --preset smoke
    python -m experiments.vlae --preset cpu        # resumable: rerun to continue

Rows train in their own folders under the preset's ``workdir``, run by :mod:`experiments.runner`;
``table.md``, one JSON per row and ``collapse.png`` (KL per test image, and decoder samples from
one z per image) go to the preset's ``results`` folder.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments import runner
from experiments.vlae.configs import PRESETS, get_config
from experiments.vlae.table import markdown, specs, summarise
from jvae.diagnostics.rate import rate_distortion
from jvae.reports.collapse import save_collapse_figure
from jvae.run.evaluate import load_run
from jvae.run.spec import RunSpec
from jvae.run.train import load_arrays

COLLAPSE = ("vlae", "pixelcnn_large_field")  # the rows of the collapse figure


def decoder_samples(model, params, rng_key, x: np.ndarray, num: int) -> np.ndarray:
    """``[num, B, D]``: one z per image from q(z|x), then ``num`` draws of x from p(x|z)."""
    k_z, k_x = jax.random.split(rng_key)
    _, latents = model.importance_samples(params, k_z, jnp.asarray(x), 1)
    z = jnp.broadcast_to(latents["z1"][0], (num, *latents["z1"].shape[1:]))
    decoder = params["decoder"][model.parts.likelihood_key]
    return np.asarray(jax.jit(model.parts.likelihood.sample)(decoder, k_x, (z,)))


def rates(folder: pathlib.Path, config: dict, data_dir: str | None) -> dict[str, Any]:
    """The trained run of ``folder``: its model, parameters, test images and the rate and
    distortion of each test image (``config['rate_samples']`` draws, key ``seed + 3``)."""
    spec, model, params = load_run(folder)
    test = load_arrays(spec, data_dir)["test"]
    key = jax.random.PRNGKey(spec.seed + 3)
    rate = rate_distortion(model, params, key, test, config["rate_samples"])
    return dict(model=model, params=params, test=test, key=key, rate=rate)


def run_table(
    config: dict,
    data_dir: str | None = None,
    root: pathlib.Path | None = None,
    only: tuple[str, ...] = (),
) -> str:
    """Every row of ``config`` (a preset's) and the collapse figure (when both of its rows have
    their runs); returns the table, which is also rewritten after each row."""
    table = runner.Table(config, root or pathlib.Path.cwd(), data_dir, only)
    measured: dict[str, dict[str, Any]] = {}

    def summarise_row(folder: pathlib.Path, spec: RunSpec, result: dict) -> dict:
        measured[folder.name] = rates(folder, config, data_dir)
        return summarise(folder, spec, result, measured[folder.name]["rate"])

    runner.run_rows(table, specs(config), summarise_row, markdown)
    names = list(config["rows"])
    if all((table.folder(name) / "eval.json").exists() for name in COLLAPSE):
        decoded, kl = {}, {}
        for name in COLLAPSE:
            run = measured.get(name) or rates(table.folder(name), config, data_dir)
            images = run["test"][: config["figure_images"]]
            key = jax.random.fold_in(run["key"], names.index(name))
            decoded[name] = decoder_samples(
                run["model"], run["params"], key, images, config["figure_samples"]
            )
            kl[name] = run["rate"]["rate"]
        save_collapse_figure(kl, images, decoded, table.results / "collapse.png")
    return table.read()


def main(argv: list[str] | None = None) -> None:
    runner.main(run_table, get_config, PRESETS, __doc__, argv)
