"""Training step time of the flow and PixelCNN models as a ratio to the MLP VAE, and the time
to sample 64 MNIST images pixel by pixel from a PixelCNN decoder.

Contenders are the VLAE experiment's rows (``experiments/vlae/configs/rows.py``), built from a
:class:`jvae.run.spec.RunSpec` exactly as ``jvae train`` builds them: the IWAE paper's 1-layer
MLP VAE, an IAF posterior and an AF prior (2 steps each), VLAE (AF prior, PixelCNN decoder of
radius 3) and a PixelCNN decoder of radius 14 (PixelVAE-style). All run in one process,
interleaved (each repeat times every contender once, in a rotating order), so background load
hits them alike; the table reports medians over repeats.

    python benchmarks/bench_components.py                   # K = 1, batch 100
    python benchmarks/bench_components.py --ks 1,5 --channels 16
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from common import command, describe, machine, timed, write  # noqa: E402

from experiments.vlae.configs.rows import rows as vlae_rows  # noqa: E402
from jvae import compiler  # noqa: E402
from jvae.run.spec import RunSpec  # noqa: E402
from jvae.run.train import build_model, make_step  # noqa: E402
from jvae.training.train import init_state, make_epoch, make_optimizer  # noqa: E402

# Steps per timed call at K=1: about a second of work each on a quiet 2-core machine.
STEPS = {"vae": 200, "iaf_vae": 100, "af_vae": 100, "vlae": 4, "pixelcnn_large_field": 2}


def config_of(name: str, k: int, channels: int, small: int, large: int) -> RunSpec:
    overrides = vlae_rows(small, large)[name]
    return RunSpec.from_preset(
        "cpu",
        model="vae" if k == 1 else "iwae",
        k=k,
        pixelcnn_channels=channels,
        **overrides,
    )


def train_contender(config: RunSpec, batch: int, steps: int):
    """A jitted scanned epoch of ``steps`` steps of ``config``'s model on random grey images."""
    data = jax.random.uniform(jax.random.key(1), (steps * batch, 784))
    model = build_model(config)
    opt = make_optimizer(600)
    state0 = init_state(jax.random.key(0), model, opt)
    step = make_step(config, model, opt)
    epoch = compiler.jit(make_epoch(step, batch))
    key = jax.random.key(2)

    def run():
        state, _ = epoch(key, state0, data)
        jax.block_until_ready(state)

    run()  # compile
    return run


def sample_contender(config: RunSpec, n: int):
    """A jitted draw of ``n`` images from the model (prior, then the decoder)."""
    model = build_model(config)
    params = init_state(jax.random.key(0), model, make_optimizer(600)).params
    sample = compiler.jit(lambda key: model.sample(params, key, n))

    def run():
        jax.block_until_ready(sample(jax.random.key(3)))

    run()  # compile
    return run


def interleaved(runs: dict, repeats: int, per_call: dict[str, int]) -> dict[str, list[float]]:
    """Seconds per unit (step or draw) of each contender, ``repeats`` rotating rounds."""
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(timed(runs[name])[0] / per_call[name])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="1", help="comma-separated K")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--channels", type=int, default=16, help="PixelCNN channels")
    parser.add_argument("--small-field", type=int, default=3)
    parser.add_argument("--large-field", type=int, default=14)
    parser.add_argument("--samples", type=int, default=64, help="images per sampling call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply steps per call")
    parser.add_argument("--name", default="component_speed")
    args = parser.parse_args()
    info = machine()
    names = list(STEPS)
    payload = {"machine": info, "command": command(), "train": {}, "sample": {}}
    lines = [
        f"Training step time of each model as a ratio to the MLP VAE (the IWAE paper's 1-layer "
        f"nets), batch {args.batch}, PixelCNN {args.channels} channels, radius "
        f"{args.small_field} (VLAE) and {args.large_field}; median of {args.repeats} "
        f"interleaved repeats. Machine: {describe(info)}. Command: `{command()}`.",
        "",
        "| K | " + " | ".join(f"{n} (steps/s)" for n in names) + " | "
        + " | ".join(f"{n} / vae" for n in names[1:]) + " | load |",
        "|" + " --- |" * (2 * len(names) + 1),
    ]  # fmt: skip
    for k in (int(v) for v in args.ks.split(",")):
        steps = {n: max(1, int(STEPS[n] * args.scale / k)) for n in names}
        configs = {
            n: config_of(n, k, args.channels, args.small_field, args.large_field) for n in names
        }
        runs = {n: train_contender(configs[n], args.batch, steps[n]) for n in names}
        times = interleaved(runs, args.repeats, steps)
        median = {n: float(np.median(times[n])) for n in names}
        payload["train"][k] = {"steps_per_call": steps, "seconds_per_step": times}
        lines.append(
            f"| {k} | "
            + " | ".join(f"{1 / median[n]:.2f}" for n in names)
            + " | "
            + " | ".join(f"{median[n] / median['vae']:.1f}" for n in names[1:])
            + f" | {os.getloadavg()[0]:.1f} |"
        )
    samplers = ("vae", "vlae", "pixelcnn_large_field")
    runs = {
        n: sample_contender(
            config_of(n, 1, args.channels, args.small_field, args.large_field), args.samples
        )
        for n in samplers
    }
    times = interleaved(runs, args.repeats, {n: 1 for n in samplers})
    payload["sample"] = {"images": args.samples, "seconds_per_call": times}
    lines += [
        "",
        f"Seconds to draw {args.samples} images (prior, then the decoder; a PixelCNN decodes "
        "784 pixels in sequence inside one jitted loop), median of the same repeats:",
        "",
        "| " + " | ".join(samplers) + " | load |",
        "|" + " --- |" * (len(samplers) + 1),
        "| " + " | ".join(f"{np.median(times[n]):.3f}" for n in samplers)
        + f" | {os.getloadavg()[0]:.1f} |",
    ]  # fmt: skip
    write(args.name, payload, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
