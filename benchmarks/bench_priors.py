"""Training step time of the IWAE paper's 1-layer model with each prior, as a ratio to the
standard normal prior: mixture of Gaussians and VampPrior (learned and "data"), C=500.

A VampPrior evaluates the encoder on its C pseudo-inputs and a C-component mixture at every
sample in every step; the mixture's squared distances are matrix products
(``jvae.distributions.diag_gaussian_mixture_log_prob``). All contenders run in one process,
interleaved (each repeat times every prior once, in a rotating order), so background load hits
them alike; the table reports medians over repeats.

    python benchmarks/bench_priors.py                       # K = 1 and 50, batch 100, C = 500
    python benchmarks/bench_priors.py --ks 50 --repeats 9
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import command, describe, machine, timed, write  # noqa: E402

from jvae import compiler  # noqa: E402
from jvae.models import iwae_mlp  # noqa: E402
from jvae.models.build import make_prior  # noqa: E402
from jvae.training.train import init_state, make_epoch, make_optimizer, make_train_step  # noqa: E402

PRIORS = ("sg", "mog", "vamp", "vamp-data")
# Steps per timed call: about a second of work each on a lightly loaded 2-core machine.
STEPS = {1: 200, 5: 60, 50: 8}


def contender(prior: str, k: int, batch: int, steps: int, components: int):
    """A jitted scanned epoch of ``steps`` steps of the 1-layer model with ``prior``."""
    data = jax.random.uniform(jax.random.key(1), (steps * batch, 784))
    images = np.asarray(jax.random.uniform(jax.random.key(3), (components, 784)))
    model = iwae_mlp(1, prior=make_prior(prior, 50, components, 784, images))
    opt = make_optimizer(600)
    state0 = init_state(jax.random.key(0), model, opt)
    epoch = compiler.jit(make_epoch(make_train_step(model, opt, k), batch))
    key = jax.random.key(2)

    def run():
        state, _ = epoch(key, state0, data)
        jax.block_until_ready(state)

    run()  # compile
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="1,50", help="comma-separated K")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--components", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply steps per call")
    parser.add_argument("--name", default="prior_speed")
    args = parser.parse_args()
    info = machine()
    rows, payload = [], {"machine": info, "command": command(), "results": {}}
    for k in (int(v) for v in args.ks.split(",")):
        steps = max(1, int(STEPS.get(k, 8) * args.scale))
        runs = {p: contender(p, k, args.batch, steps, args.components) for p in PRIORS}
        times: dict[str, list[float]] = {p: [] for p in PRIORS}
        for r in range(args.repeats):
            for p in PRIORS[r % len(PRIORS) :] + PRIORS[: r % len(PRIORS)]:
                times[p].append(timed(runs[p])[0] / steps)
        median = {p: float(np.median(times[p])) for p in PRIORS}
        payload["results"][k] = {"steps_per_call": steps, "seconds_per_step": times}
        rows.append(
            f"| {k} | "
            + " | ".join(f"{1 / median[p]:.1f}" for p in PRIORS)
            + " | "
            + " | ".join(f"{median[p] / median['sg']:.2f}" for p in PRIORS[1:])
            + f" | {os.getloadavg()[0]:.1f} |"
        )
    header = [
        f"Training steps/s of the 1-layer IWAE model (784-200-200-50), batch {args.batch}, "
        f"C = {args.components}, and the step time as a ratio to the standard normal prior "
        f"(median of {args.repeats} interleaved repeats). Machine: {describe(info)}. "
        f"Command: `{command()}`.",
        "",
        "| K | SG | MoG | VampPrior | VampPrior data | MoG / SG | Vamp / SG | Vamp data / SG "
        "| load |",
        "|" + " --- |" * 9,
    ]
    write(args.name, payload, "\n".join(header + rows) + "\n")


if __name__ == "__main__":
    main()
