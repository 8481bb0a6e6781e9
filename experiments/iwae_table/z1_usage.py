"""How many units of z1 a trained 2-layer chain uses, counted two ways.

The paper's active-unit statistic, the variance over x of E_q[z1_d | x] above 0.01, counts a
unit whose posterior merely follows p(z1_d | z2) as active although it costs (and carries)
almost nothing. This prints, for each row folder of the IWAE table, that count beside the
number of units whose KL against the generative conditional,
E_x E_{q(z1|x) q(z2|z1)} [log q(z1_d | x) - log p(z1_d | z2)], exceeds ``--kl-threshold``
nats (on the first ``--images`` test images, ``--samples`` draws each):

    python -m experiments.iwae_table.z1_usage runs/iwae_table/cpu/mnist_l2_iwae_k1 ...
"""

from __future__ import annotations

import argparse
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from jvae.run.evaluate import load_run
from jvae.run.train import load_arrays


def z1_usage(
    folder: str | pathlib.Path, images: int = 1000, samples: int = 20, kl_threshold: float = 0.05
) -> dict[str, float]:
    """Units of z1 above the variance threshold (0.01) and above ``kl_threshold`` nats of KL
    against p(z1 | z2), and the total of that KL, for the 2-layer chain trained in ``folder``."""
    spec, model, params = load_run(folder)
    latents = model.parts.latents if model.parts else ()
    if len(latents) != 2 or latents[0].conditional is None:
        raise ValueError(
            f"{folder} holds no 2-layer chain; z1_usage reads q(z1|x), q(z2|z1), p(z1|z2)."
        )
    bottom, top = latents
    x = jnp.asarray(load_arrays(spec)["test"][:images])
    q_z1 = model.posterior_distribution(params, x)  # q(z1 | x), x as its encoder reads it
    z1 = q_z1.sample(jax.random.PRNGKey(0), samples)
    z2 = top.posterior.distribution(params["encoder"][top.posterior_key], (z1,)).draw(
        jax.random.PRNGKey(1)
    )
    p_z1 = bottom.conditional.distribution(params["decoder"][bottom.conditional_key], (z2,))
    kl = np.asarray(jnp.mean(q_z1.log_prob_per_dim(z1) - p_z1.log_prob_per_dim(z1), axis=(0, 1)))
    variance = np.asarray(jnp.var(q_z1.mean, axis=0))
    return {
        "variance_active": int(np.sum(variance > 0.01)),
        "kl_active": int(np.sum(kl > kl_threshold)),
        "kl_total": float(np.sum(kl)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="row folders of 2-layer runs")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--kl-threshold", type=float, default=0.05)
    args = parser.parse_args(argv)
    print(f"| row | z1 units var > 0.01 | z1 units KL > {args.kl_threshold} | KL of z1 (nats) |")
    print("| --- | --- | --- | --- |")
    for folder in args.folders:
        u = z1_usage(folder, args.images, args.samples, args.kl_threshold)
        print(
            f"| {pathlib.Path(folder).name} | {u['variance_active']} | {u['kl_active']} | "
            f"{u['kl_total']:.2f} |"
        )


if __name__ == "__main__":
    main()
