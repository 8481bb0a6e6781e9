"""jvae's scanned epoch against a hand-written JAX scan of the same model and optimizer.

The reference (``reference_scan.py``) is plain JAX: the IWAE paper's 1-layer MLP from the
same initial params, the IWAE bound at K, optax Adam at the paper's learning rates, a fresh
Bernoulli binarisation of every batch, one ``lax.scan`` per epoch. jvae's contender is
``make_epoch(make_train_step(iwae_mlp(1), make_optimizer(...), K), batch)``. Both compile
with jvae's XLA options (``jvae.compiler.jit``) and run interleaved in one process (each
repeat times each contender once, in turn); the table gives medians and the ratio
jvae / reference in steps/s (above 1: jvae is faster).

The data are grey levels on MNIST's grid (multiples of 1/256, as in the IWAE paper's MNIST
pickle); ``--levels 225`` puts them on Omniglot's grid instead.

    python benchmarks/bench_overhead.py                      # K = 1, 5, 50 at batch 100
    python benchmarks/bench_overhead.py --name overhead_after --repeats 9
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference_scan  # noqa: E402
from common import command, describe, git_rev, interleaved, machine, write  # noqa: E402

from jvae import compiler  # noqa: E402
from jvae.models import iwae_mlp  # noqa: E402
from jvae.training.train import init_state, make_epoch, make_optimizer, make_train_step  # noqa: E402

# Steps per timed call: about a second of work each on a lightly loaded 2-core machine.
STEPS = {1: 200, 5: 60, 50: 8}


def load_previous(path: str):
    """A saved copy of ``jvae/training/train.py`` (``git show REV:jvae/training/train.py``) as
    a module, for the previous jvae epoch as a third contender."""
    spec = importlib.util.spec_from_file_location("train_previous", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def contenders(batch: int, k: int, steps: int, levels: int, previous=None) -> tuple[dict, dict]:
    """``{name: run()}`` timing one epoch of ``steps`` steps each, and each one's epoch loss."""
    model = iwae_mlp(1)
    grid = jax.random.randint(jax.random.key(1), (steps * batch, 784), 0, levels + 1)
    data = (grid / levels).astype(jnp.float32)
    opt = make_optimizer(steps)
    state0 = init_state(jax.random.key(0), model, opt)
    jvae_epoch = compiler.jit(make_epoch(make_train_step(model, opt, k), batch))
    ref_epoch, ref_opt = reference_scan.make_epoch(k, batch, steps)
    ref_epoch = compiler.jit(ref_epoch)
    carry0 = reference_scan.init_carry(reference_scan.from_jvae(state0.params), ref_opt)
    key = jax.random.key(2)
    losses = {}

    def run_jvae():
        state, metrics = jvae_epoch(key, state0, data)
        jax.block_until_ready(state)
        losses["jvae"] = float(metrics["loss"])

    def run_reference():
        carry, loss = ref_epoch(key, carry0, data)
        jax.block_until_ready(carry)
        losses["reference"] = float(loss)

    fns = {"jvae": run_jvae, "reference": run_reference}
    if previous is not None:
        prev_opt = previous.make_optimizer(steps)
        prev_epoch = compiler.jit(
            previous.make_epoch(previous.make_train_step(model, prev_opt, k), batch)
        )
        prev_state = previous.init_state(jax.random.key(0), model, prev_opt)

        def run_previous():
            state, metrics = prev_epoch(key, prev_state, data)
            jax.block_until_ready(state)
            losses["jvae before"] = float(metrics["loss"])

        fns["jvae before"] = run_previous
    for run in fns.values():
        run()
    return fns, losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--ks", default="1,5,50", help="comma-separated K at --batch")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--levels", type=int, default=256, help="grey levels v / levels")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply steps per call")
    parser.add_argument("--name", default="overhead")
    parser.add_argument(
        "--previous", help="a saved train.py (git show REV:jvae/training/train.py > FILE)"
    )
    args = parser.parse_args()
    info = machine()
    previous = load_previous(args.previous) if args.previous else None
    rows = []
    for k in (int(v) for v in args.ks.split(",")):
        steps = max(2, int(STEPS.get(k, 8) * args.scale))
        fns, losses = contenders(args.batch, k, steps, args.levels, previous)
        wall, cpu, loads = interleaved(fns, args.repeats)
        rate = {n: steps / float(np.median(wall[n])) for n in fns}
        ratios = [r / f for r, f in zip(wall["reference"], wall["jvae"])]
        if previous is not None:
            rate_before = rate["jvae before"]
            ratios_before = [b / f for b, f in zip(wall["jvae before"], wall["jvae"])]
        row = {
            "batch": args.batch,
            "K": k,
            "steps_per_call": steps,
            "steps_per_s": rate,
            "ratio": rate["jvae"] / rate["reference"],
            "ratio_per_repeat": ratios,
            "ratio_to_before": rate["jvae"] / rate_before if previous else None,
            "ratio_to_before_per_repeat": ratios_before if previous else None,
            "cpu_ms_per_step": {n: 1e3 * float(np.median(cpu[n])) / steps for n in fns},
            "cpu_ratio": float(np.median(cpu["reference"]) / np.median(cpu["jvae"])),
            "epoch_loss": losses,
            "loadavg_1min": loads,
        }
        rows.append(row)
        print(row, flush=True)
    info["loadavg_end"] = os.getloadavg()
    md = [
        "# jvae's scanned epoch against a hand-written JAX scan (1-layer IWAE, 784-200-200-50)",
        "",
        f"Command: `{command()}` (git {git_rev()}, working tree)  ",
        f"Machine: {describe(info)}; XLA_FLAGS=`{info['XLA_FLAGS']}`  ",
        f"Load average (1/5/15 min) at start {tuple(round(v, 2) for v in info['loadavg_start'])}, "
        f"at end {tuple(round(v, 2) for v in info['loadavg_end'])}.  ",
        f"Medians over {args.repeats} interleaved repeats; grey levels v/{args.levels}.",
        "",
        "| batch | K | jvae steps/s | reference steps/s | jvae / reference | per-repeat range "
        "| CPU-time ratio | jvae before steps/s | jvae / before | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = r["steps_per_s"]
        per = r["ratio_per_repeat"]
        before = (
            f"{s['jvae before']:.1f} | {r['ratio_to_before']:.2f}"
            if r["ratio_to_before"]
            else "- | -"
        )
        md.append(
            f"| {r['batch']} | {r['K']} | {s['jvae']:.1f} | {s['reference']:.1f} | "
            f"{r['ratio']:.2f} | {min(per):.2f}-{max(per):.2f} | {r['cpu_ratio']:.2f} | "
            f"{before} | {np.median(r['loadavg_1min']):.1f} |"
        )
    md += [
        "",
        "Steps/s of one scanned epoch (higher is better); `jvae / reference` is the ratio of "
        "the medians, `per-repeat range` the smallest and largest ratio within one repeat, "
        "`CPU-time ratio` the reference's process CPU time over jvae's (all threads); "
        "`jvae before` is the epoch of `--previous` (a saved earlier train.py), when given.",
        "",
    ]
    write(args.name, {"machine": info, "command": command(), "rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
