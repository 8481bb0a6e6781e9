"""How wide each trained row's prior and aggregate posterior are, per latent dimension.

A learned prior (the AF prior) fixes no scale for z: prior and encoder can drift together. This
prints, for each row folder of a VLAE table run, the median (and range) over the 50 dimensions of
the standard deviation of z ~ q(z|x) over test images (the aggregate posterior), of draws from
p(z), and E_q log p(z):

    python -m experiments.vlae.prior_width runs/vlae/cpu/vae runs/vlae/cpu/af_vae
"""

from __future__ import annotations

import argparse
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from jvae.run.evaluate import load_run
from jvae.run.train import load_arrays


def widths(folder: str, num_images: int, num_prior: int, batch_size: int = 100) -> str:
    """One line: the spread of the aggregate posterior and of the prior of ``folder``'s run."""
    spec, model, params = load_run(folder)
    test = load_arrays(spec)["test"][:num_images]
    draw = jax.jit(lambda key, x: model.importance_samples(params, key, x, 1)[1]["z1"][0])
    z = np.concatenate(
        [
            np.asarray(draw(jax.random.PRNGKey(j), jnp.asarray(test[i : i + batch_size])))
            for j, i in enumerate(range(0, len(test), batch_size))
        ]
    )
    prior_draws = model.parts.prior.sample(params.get("prior"), jax.random.PRNGKey(1), num_prior)
    log_p = float(jnp.mean(model.log_prior(params, jnp.asarray(z))))

    def spread(a) -> str:
        lo, mid, hi = np.percentile(np.std(np.asarray(a), axis=0), [0, 50, 100])
        return f"{mid:.2f} [{lo:.2f}, {hi:.2f}]"

    return (
        f"| {pathlib.Path(folder).name} | {spec.model.prior} | {spread(z)} | "
        f"{spread(prior_draws)} | {log_p:.2f} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="row folders of a VLAE table run")
    parser.add_argument("--images", type=int, default=2000, help="test images")
    parser.add_argument("--prior-draws", type=int, default=5000)
    args = parser.parse_args(argv)
    print("| row | prior | std of z ~ q(z|x) | std of z ~ p(z) | E_q log p(z) |")
    print("| --- | --- | --- | --- | --- |")
    for folder in args.folders:
        print(widths(folder, args.images, args.prior_draws))


if __name__ == "__main__":
    main()
