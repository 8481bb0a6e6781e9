"""Sweeps in one program against sequential runs: S beta-VAEs on dSprites-sized data.

The contenders train the same S models (KL weights 1..S, Higgins et al.'s MLP or Burgess et
al.'s conv net, batch 64, the ELBO's analytic KL) for the same number of steps:

- ``sweep``: one jitted ``jax.vmap`` of the scanned epoch over the S members
  (``jvae.training.sweep.make_swept_epoch``, as ``jvae train --sweep`` runs them);
- ``sequential``: one jitted scanned epoch of a single member, called S times (what S
  separate ``jvae train`` runs do, without their S compilations).

Each repeat times every contender once, in a rotating order (interleaved, so background load
hits them alike); the table gives medians per member step and the ratio sequential / sweep
(> 1: the sweep is faster), in wall time and in process CPU time (all threads).

    python benchmarks/bench_sweep.py                          # Higgins MLP, S = 4 and 8
    python benchmarks/bench_sweep.py --architecture burgess-conv --steps 10
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import command, describe, machine, timed, write  # noqa: E402

from jvae import compiler  # noqa: E402
from jvae.objectives import KLReweighting  # noqa: E402
from jvae.training.sweep import make_swept_epoch, stack  # noqa: E402
from jvae.training.train import init_state, make_epoch, make_optimizer, make_train_step  # noqa: E402

BUILDERS = ("higgins-mlp", "burgess-conv")


def build(architecture: str):
    from jvae.models.dsprites_vae import BUILDERS as MODELS

    return MODELS[architecture]()


def contenders(architecture: str, size: int, steps: int, batch: int):
    """``{'sweep': run, 'sequential': run}`` for ``size`` members, each run ``steps`` steps."""
    model = build(architecture)
    optimizer = make_optimizer(steps, 5e-4, "constant", 1e-8)
    data = (jax.random.uniform(jax.random.key(1), (steps * batch, 64 * 64)) < 0.1).astype(
        jnp.float32
    )

    def epoch_for(values):
        reweighting = KLReweighting("kl", kl_weight=values["kl_weight"])
        step = make_train_step(model, optimizer, 1, reweighting=reweighting)
        return make_epoch(step, batch)

    weights = jnp.arange(1, size + 1, dtype=jnp.float32)
    keys = jax.random.split(jax.random.key(0), size)
    states = [init_state(k, model, optimizer) for k in keys]
    run_keys = jax.random.split(jax.random.key(2), size)
    swept = compiler.jit(make_swept_epoch(epoch_for))
    single = compiler.jit(lambda v, k, s, d: epoch_for(v)(k, s, d))
    stacked = stack(states)

    def sweep():
        jax.block_until_ready(swept({"kl_weight": weights}, run_keys, stacked, data))

    def sequential():
        for i in range(size):
            out = single({"kl_weight": weights[i]}, run_keys[i], states[i], data)
        jax.block_until_ready(out)

    sweep(), sequential()  # compile
    return {"sweep": sweep, "sequential": sequential}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", choices=BUILDERS, default="higgins-mlp")
    parser.add_argument("--sizes", default="4,8", help="comma-separated S")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed call")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--name", default="sweep_speed")
    args = parser.parse_args()
    info = machine()
    payload = {"machine": info, "command": command(), "results": {}}
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = {
        (s, name): fn
        for s in sizes
        for name, fn in contenders(args.architecture, s, args.steps, args.batch).items()
    }
    order = list(runs)
    wall: dict = {key: [] for key in runs}
    cpu: dict = {key: [] for key in runs}
    loads = []
    for r in range(args.repeats):
        for key in order[r % len(order) :] + order[: r % len(order)]:
            w, c = timed(runs[key])
            wall[key].append(w / (key[0] * args.steps))
            cpu[key].append(c / (key[0] * args.steps))
        loads.append(os.getloadavg()[0])
    rows = []
    for s in sizes:
        med = {n: float(np.median(wall[(s, n)])) for n in ("sweep", "sequential")}
        cpu_med = {n: float(np.median(cpu[(s, n)])) for n in ("sweep", "sequential")}
        payload["results"][s] = {
            "wall_s_per_member_step": {n: wall[(s, n)] for n in ("sweep", "sequential")},
            "cpu_s_per_member_step": {n: cpu[(s, n)] for n in ("sweep", "sequential")},
        }
        rows.append(
            f"| {s} | {1e3 * med['sequential']:.1f} | {1e3 * med['sweep']:.1f} | "
            f"{med['sequential'] / med['sweep']:.2f} | {1e3 * cpu_med['sequential']:.1f} | "
            f"{1e3 * cpu_med['sweep']:.1f} | {cpu_med['sequential'] / cpu_med['sweep']:.2f} |"
        )
    payload["load"] = loads
    header = [
        f"S beta-VAEs ({args.architecture}, batch {args.batch}, {args.steps} steps per timed "
        "call, analytic KL) trained as one vmapped jitted program (`sweep`) or as S calls of "
        "one member's jitted epoch (`sequential`): milliseconds per member step, median of "
        f"{args.repeats} interleaved repeats; ratio > 1 means the sweep is faster. Load average "
        f"{min(loads):.1f}-{max(loads):.1f}. Machine: {describe(info)}. Command: "
        f"`{command()}`.",
        "",
        "| S | sequential wall (ms) | sweep wall (ms) | wall ratio | sequential CPU (ms) | "
        "sweep CPU (ms) | CPU ratio |",
        "|" + " --- |" * 7,
    ]
    write(args.name, payload, "\n".join(header + rows) + "\n")


if __name__ == "__main__":
    main()
