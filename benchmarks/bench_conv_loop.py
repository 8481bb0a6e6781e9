"""Convolutional VAEs trained in a scanned epoch: Flax's ``nn.Conv``/``nn.ConvTranspose``
against :class:`jvae.nn.Conv`/:class:`jvae.nn.ConvTranspose` (same numbers, same parameters),
each as one ``lax.scan`` epoch (``jvae.make_epoch``) and as the same steps dispatched one by
one from Python.

On CPU, XLA runs a convolution inside a loop body as a naive loop unless it is in the
NHWC/HWIO form (jax-ml/jax#12868); JAX's own gradients of ``lax.conv`` are not in that form,
jvae's are (``jvae.compiler``). Two models, IWAE K=5 with DReG at batch 100: the tutorial's
(``docs/tutorials/your_own_model.md``, 8x8x1 images) and a 28x28x1 one (convolutions of 32
and 64 channels at stride 2, transposed back). Every repeat times each contender once, in
turn, in one process; the table gives medians and ratios to jvae's scanned epoch.

    python benchmarks/bench_conv_loop.py
    python benchmarks/bench_conv_loop.py --repeats 9 --name conv_loop
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import flax.linen as nn
import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import command, describe, git_rev, interleaved, machine, write  # noqa: E402

from jvae import compiler  # noqa: E402
from jvae.models import vae  # noqa: E402
from jvae.nn import Conv, ConvTranspose  # noqa: E402
from jvae.training.train import init_state, make_epoch, make_optimizer, make_train_step  # noqa: E402

# (image side, encoder channels at stride 2 after a stride-1 layer?, steps per timed call)
SHAPES = {"8x8x1": (8, (16, 32), 30), "28x28x1": (28, (32, 64), 6)}
LIBRARIES = {
    "flax": (nn.Conv, lambda f, k, s, p: nn.ConvTranspose(f, k, (s, s), p, transpose_kernel=True)),
    "jvae": (Conv, ConvTranspose),
}


def conv_vae(side: int, channels: tuple[int, int], library: str):
    """The encoder: a stride-1 then a stride-2 convolution (8x8), or two stride-2 ones
    (28x28), a dense layer of 64; the decoder mirrors it with transposed convolutions."""
    conv, transpose = LIBRARIES[library]
    first_stride = 1 if side == 8 else 2
    inner = side // 2 // first_stride

    class Encoder(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.relu(conv(channels[0], (3, 3), first_stride, "SAME")(x))
            h = nn.relu(conv(channels[1], (3, 3), 2, "SAME")(h)).reshape(x.shape[0], -1)
            h = nn.relu(nn.Dense(64)(h))
            return nn.Dense(8)(h), nn.Dense(8)(h)

    class Decoder(nn.Module):
        @nn.compact
        def __call__(self, z):
            h = nn.relu(nn.Dense(64)(z))
            h = nn.relu(nn.Dense(inner * inner * channels[1])(h))
            h = h.reshape(z.shape[0], inner, inner, channels[1])
            h = nn.relu(transpose(channels[0], (3, 3), 2, "SAME")(h))
            if first_stride == 2:
                return transpose(1, (3, 3), 2, "SAME")(h)
            return conv(1, (3, 3), 1, "SAME")(h)

    return vae(Encoder(), Decoder(), event_shape=(side, side, 1))


def contenders(shape: str, batch: int, scale: float) -> tuple[dict, int]:
    """``{name: run()}``, each one epoch of ``steps`` steps, and ``steps``."""
    side, channels, steps = SHAPES[shape]
    steps = max(2, int(steps * scale))
    data = jax.random.uniform(jax.random.key(1), (steps * batch, side, side, 1))
    batches = data.reshape(steps, batch, side, side, 1)
    fns = {}
    for library in LIBRARIES:
        model = conv_vae(side, channels, library)
        opt = make_optimizer(steps)
        step = make_train_step(model, opt, 5, estimator="dreg")
        state0 = init_state(jax.random.key(0), model, opt)
        epoch = compiler.jit(make_epoch(step, batch))
        jitted_step = compiler.jit(step)

        def run_scan(epoch=epoch, state0=state0):
            jax.block_until_ready(epoch(jax.random.key(2), state0, data))

        def run_steps(jitted_step=jitted_step, state0=state0):
            state = state0
            for i in range(steps):
                state, _ = jitted_step(jax.random.key(i), state, batches[i])
            jax.block_until_ready(state)

        fns[f"{library} scan"] = run_scan
        fns[f"{library} per-step"] = run_steps
    for run in fns.values():
        run()  # compile
    return fns, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply steps per call")
    parser.add_argument("--name", default="conv_loop")
    args = parser.parse_args()
    info = machine()
    rows = []
    for shape in SHAPES:
        fns, steps = contenders(shape, args.batch, args.scale)
        wall, cpu, loads = interleaved(fns, args.repeats)
        ms = {n: 1e3 * float(np.median(wall[n])) / steps for n in fns}
        row = {
            "image": shape,
            "batch": args.batch,
            "steps_per_call": steps,
            "ms_per_step": ms,
            "cpu_ms_per_step": {n: 1e3 * float(np.median(cpu[n])) / steps for n in fns},
            "ratio_to_jvae_scan": {n: ms[n] / ms["jvae scan"] for n in fns},
            "loadavg_1min": loads,
        }
        rows.append(row)
        print(row, flush=True)
    info["loadavg_end"] = os.getloadavg()
    names = list(rows[0]["ms_per_step"])
    md = [
        "# Convolutional VAEs in a scanned epoch: Flax's convolutions against jvae's",
        "",
        f"Command: `{command()}` (git {git_rev()}, working tree)  ",
        f"Machine: {describe(info)}; XLA_FLAGS=`{info['XLA_FLAGS']}`  ",
        f"Load average (1/5/15 min) at start {tuple(round(v, 2) for v in info['loadavg_start'])}, "
        f"at end {tuple(round(v, 2) for v in info['loadavg_end'])}.  ",
        f"Medians over {args.repeats} interleaved repeats; IWAE K=5, DReG, batch {args.batch}.",
        "",
        "| image | "
        + " | ".join(f"{n} ms/step" for n in names)
        + " | "
        + " | ".join(f"{n} / jvae scan" for n in names if n != "jvae scan")
        + " |",
        "|---|" + "---|" * (2 * len(names) - 1),
    ]
    for r in rows:
        md.append(
            f"| {r['image']} | "
            + " | ".join(f"{r['ms_per_step'][n]:.1f}" for n in names)
            + " | "
            + " | ".join(f"{r['ratio_to_jvae_scan'][n]:.2f}" for n in names if n != "jvae scan")
            + " |"
        )
    md += [
        "",
        "Milliseconds per training step (wall, lower is better); a ratio above 1 is slower "
        "than jvae's convolutions in jvae's scanned epoch.",
        "",
    ]
    write(args.name, {"machine": info, "command": command(), "rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
