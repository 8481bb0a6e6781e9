"""The VLAE comparison (Chen et al. 2017): a VAE, an IAF posterior, an AF prior and VLAE (an
AF prior with a small-field PixelCNN decoder) on binarised MNIST, and the posterior-collapse
contrast: a large-field PixelCNN decoder trained with the plain ELBO beside VLAE.

    python experiments/vlae/main.py --preset smoke
    python experiments/vlae/main.py --preset cpu        # resumable: rerun to continue

Rows train in their own folders under the preset's ``workdir``; ``table.md``, one JSON per row
and ``collapse.png`` (KL per test image, and decoder samples from one z per image) go to the
preset's ``results`` folder.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

if __package__ in (None, ""):  # run as a script: make `experiments` importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from experiments.vlae.configs import PRESETS, get_config  # noqa: E402
from experiments.vlae.table import markdown, summarise  # noqa: E402
from jvae.diagnostics.rate import rate_distortion  # noqa: E402
from jvae.reports.collapse import save_collapse_figure  # noqa: E402
from jvae.reports.machine import describe  # noqa: E402
from jvae.run import experiment  # noqa: E402
from jvae.run.config import Config  # noqa: E402


def decoder_samples(model, params, rng_key, x: np.ndarray, num: int) -> np.ndarray:
    """``[num, B, D]``: one z per image from q(z|x), then ``num`` draws of x from p(x|z)."""
    k_z, k_x = jax.random.split(rng_key)
    _, latents = model.importance_samples(params, k_z, jnp.asarray(x), 1)
    z = jnp.broadcast_to(latents["z1"][0], (num, *latents["z1"].shape[1:]))
    decoder = params["decoder"][model.parts.likelihood_key]
    return np.asarray(jax.jit(model.parts.likelihood.sample)(decoder, k_x, (z,)))


def run_table(spec: dict, data_dir: str | None = None, root: pathlib.Path | None = None) -> str:
    """Every row of ``spec`` (a preset's config) and the collapse figure; returns the table,
    which is also rewritten after each row (the rows finished so far)."""
    root = root or pathlib.Path.cwd()
    workdir, results = root / spec["workdir"], root / spec["results"]
    (results / "rows").mkdir(parents=True, exist_ok=True)
    rows, rates, decoded = {}, {}, {}
    for i, (name, row) in enumerate(spec["rows"].items()):
        config = Config.from_preset(spec["preset"], **{**spec["overrides"], **row})
        folder = workdir / name
        result = experiment.train_and_evaluate_once(config, folder, data_dir)
        _, model, params = experiment.load_run(folder)
        test = experiment.load_data(config, data_dir)["test"]
        key = jax.random.PRNGKey(config.seed + 3)
        rate = rate_distortion(model, params, key, test, spec["rate_samples"])
        rows[name] = summarise(folder, config, result, rate)
        (results / "rows" / f"{name}.json").write_text(json.dumps(rows[name], indent=2))
        (results / "table.md").write_text(markdown(rows, spec["preset"], describe()))
        if name in ("vlae", "pixelcnn_large_field"):
            rates[name] = rate["rate"]
            images = test[: spec["figure_images"]]
            decoded[name] = decoder_samples(
                model, params, jax.random.fold_in(key, i), images, spec["figure_samples"]
            )
    save_collapse_figure(rates, images, decoded, results / "collapse.png")
    return (results / "table.md").read_text()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="smoke", choices=PRESETS)
    parser.add_argument("--data-dir", help="dataset folder (default: ../shared/data)")
    args = parser.parse_args(argv)
    print(run_table(get_config(args.preset), args.data_dir))


if __name__ == "__main__":
    main()
