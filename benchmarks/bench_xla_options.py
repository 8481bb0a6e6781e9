"""jvae's XLA options (``jvae.compiler``) against XLA's defaults, on the same functions.

Three workloads, each compiled both ways in one process and timed interleaved: the three
decoder-shaped matrix products of a K=50 step alone, a scanned K=50 training epoch, and one
K=5000 evaluation batch (``jvae.diagnostics.nll.make_bound_evaluator``).

    python benchmarks/bench_xla_options.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import command, describe, machine, timed, write  # noqa: E402

from jvae import compiler  # noqa: E402
from jvae.diagnostics.nll import make_bound_evaluator  # noqa: E402
from jvae.models import iwae_mlp  # noqa: E402
from jvae.training.train import init_state, make_epoch, make_optimizer, make_train_step  # noqa: E402

OPTIONS = {"jvae options": compiler.CPU_OPTIONS, "XLA defaults": {}}


def products(rows: int = 5000) -> dict:
    """The last decoder layer's products: forward, input gradient, weight gradient."""
    ks = jax.random.split(jax.random.key(0), 3)
    h = jax.random.normal(ks[0], (rows, 200))
    g = jax.random.normal(ks[1], (rows, 784))
    w = jax.random.normal(ks[2], (200, 784))

    def dot(ca: int, cb: int):
        return lambda a, b: lax.dot_general(a, b, (((ca,), (cb,)), ((), ())))

    flop = 2 * rows * 200 * 784
    return {
        f"[{rows},200]x[200,784]": (dot(1, 0), (h, w), flop, 1),
        f"[{rows},784]x[200,784]^T": (dot(1, 1), (g, w), flop, 1),
        f"[{rows},200]^T x[{rows},784]": (dot(0, 0), (h, g), flop, 1),
    }


def training(k: int, batch: int, steps: int) -> dict:
    model = iwae_mlp(1)
    opt = make_optimizer(600)
    state = init_state(jax.random.key(0), model, opt)
    data = jax.random.uniform(jax.random.key(1), (steps * batch, 784))
    epoch = make_epoch(make_train_step(model, opt, k), batch)
    return {f"train K={k} batch {batch}": (epoch, (jax.random.key(2), state, data), None, steps)}


def evaluation(images: int, chunk: int) -> dict:
    model = iwae_mlp(1)
    params = model.init(jax.random.key(0))
    x = (jax.random.uniform(jax.random.key(1), (images, 784)) < 0.3).astype(jnp.float32)
    # The jitted evaluator's undecorated function, to compile it both ways.
    fn = make_bound_evaluator(model, 5000, chunk).__wrapped__
    return {f"eval K=5000, {images} images": (fn, (params, jax.random.key(3), x), None, images)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--eval-images", type=int, default=100)
    args = parser.parse_args()
    info = machine()
    work = {**products(), **training(50, 100, 8), **evaluation(args.eval_images, 500)}
    rows = []
    for name, (fn, fargs, flop, units) in work.items():
        compiled = {
            o: jax.jit(fn).lower(*fargs).compile(compiler_options=opts)
            for o, opts in OPTIONS.items()
        }
        for c in compiled.values():
            jax.block_until_ready(c(*fargs))
        wall = {o: [] for o in compiled}
        for _ in range(args.repeats):
            for o, c in compiled.items():
                wall[o].append(timed(lambda c=c, a=fargs: jax.block_until_ready(c(*a)))[0])
        med = {o: float(np.median(v)) for o, v in wall.items()}
        row = {"work": name, "seconds": med, "ratio": med["XLA defaults"] / med["jvae options"]}
        if flop:
            row["gflops"] = {o: flop / t / 1e9 for o, t in med.items()}
        if name.startswith("train"):
            row["steps_per_s"] = {o: units / t for o, t in med.items()}
        if name.startswith("eval"):
            row["full_10k_s"] = {o: t / units * 10_000 for o, t in med.items()}
        row["loadavg_1min"] = os.getloadavg()[0]
        rows.append(row)
        print(row, flush=True)

    def rate(r: dict, o: str) -> str:
        if "gflops" in r:
            return f"{r['gflops'][o]:.1f} GFLOP/s"
        if "steps_per_s" in r:
            return f"{r['steps_per_s'][o]:.2f} steps/s"
        return f"{r['full_10k_s'][o]:.0f} s for 10k images"

    md = [
        "# jvae's XLA options against XLA's defaults (`jvae.compiler`)",
        "",
        f"Command: `{command()}`  ",
        f"Machine: {describe(info)}; jax {info['jax']}; XLA_FLAGS=`{info['XLA_FLAGS']}`  ",
        f"Medians over {args.repeats} interleaved repeats. jvae options: "
        f"`{compiler.CPU_OPTIONS}` (Eigen matrix products, XLA's own fused loops).",
        "",
        "| work | jvae options | XLA defaults | time ratio (defaults / jvae) | load (1 min) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        md.append(
            f"| {r['work']} | {rate(r, 'jvae options')} | {rate(r, 'XLA defaults')} | "
            f"{r['ratio']:.2f} | {r['loadavg_1min']:.1f} |"
        )
    md.append("")
    write("xla_options", {"machine": info, "command": command(), "rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
