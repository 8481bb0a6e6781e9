"""K=5000 evaluation speed and memory: ``jvae.diagnostics.nll.dataset_bound`` with K streamed in
chunks, for several (batch size, chunk size) settings.

Each setting runs in a fresh subprocess, so the RSS high-water mark (``ru_maxrss``) is its own;
the reported memory is that peak minus the process's peak just before evaluating (jax, the
model and the data already loaded). The first batch (which compiles) is timed apart; the
throughput of the other batches gives the time for the full 10,000 test images when fewer
are run (``--images``), stated as an extrapolation in the table.

    python benchmarks/bench_eval.py                       # sweep on 200 images, best on 1,000
    python benchmarks/bench_eval.py --images 10000 --settings 100:500   # the full test set
    python benchmarks/bench_eval.py --decoder conv --settings plan --images 500 --mnist \
        --name eval_budget_conv        # batch and chunk planned within the default budget
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_precision_argument, command, describe, machine, set_precision, write  # noqa: E402

FULL = 10_000
K = 5000
DEC_FLOP_PER_SAMPLE = 2 * (50 * 200 + 200 * 200 + 200 * 784)


def build(decoder: str):
    """The 1-layer IWAE model with the ``decoder`` of ``jvae train --decoder`` (defaults)."""
    from jvae.models import iwae_mlp
    from jvae.models.conv_models import conv_posterior, image_decoder

    if decoder == "mlp":
        return iwae_mlp(1, (28, 28, 1))
    likelihood = image_decoder(decoder, "bernoulli", (50,), (28, 28, 1))
    return iwae_mlp(1, (28, 28, 1), None, None, conv_posterior(50, (28, 28, 1)), likelihood)


def child(images: int, batch: int, chunk: int, mnist: bool, decoder: str = "mlp") -> dict:
    """``batch = chunk = 0``: both planned within the default memory budget."""
    import jax
    import numpy as np

    from jvae.diagnostics import memory
    from jvae.diagnostics.nll import dataset_bound, plan_dataset_bound

    model = build(decoder)
    params = model.init(jax.random.key(0))
    if mnist:
        from jvae.data import load_mnist

        test = np.asarray(load_mnist()["test"])[:images]
        data = (test > 0.5).astype(np.float32)
    else:
        data = (np.random.default_rng(0).random((images, 784)) < 0.3).astype(np.float32)
    base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    plan, _ = plan_dataset_bound(
        model,
        params,
        jax.random.key(1),
        data,
        K,
        batch_size=batch or None,
        chunk_size=chunk or None,
    )
    plan_s = time.perf_counter() - t0
    planned = not (batch and chunk)
    batch, chunk = plan.batch_size, plan.chunk_size
    t0 = time.perf_counter()
    dataset_bound(model, params, jax.random.key(1), data[:batch], K, batch, chunk)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    values = dataset_bound(model, params, jax.random.key(1), data[batch:], K, batch, chunk)
    rest = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats = jax.devices()[0].memory_stats() or {}
    per_image = rest / max(images - batch, 1)
    return {
        "decoder": decoder,
        "planned": planned,
        "budget_bytes": memory.default_memory_bytes(),
        "xla_bytes": plan.bytes,
        "plan_s": plan_s,
        "images": images,
        "batch": batch,
        "chunk": chunk,
        "first_batch_s": first,
        "rest_s": rest,
        "s_per_image": per_image,
        "full_10k_s": first + per_image * (FULL - batch),
        "extrapolated": images < FULL,
        "gflops": DEC_FLOP_PER_SAMPLE * K / per_image / 1e9,
        "peak_rss_mib": peak_kib / 1024,
        "baseline_rss_mib": base_kib / 1024,
        "eval_rss_mib": (peak_kib - base_kib) / 1024,
        "device_peak_mib": stats.get("peak_bytes_in_use", float("nan")) / 2**20,
        "mean_bound": float(np.mean(values)),
        "loadavg": os.getloadavg(),
    }


def run_child(
    images: int, batch: int, chunk: int, mnist: bool, precision: str, decoder: str = "mlp"
) -> dict:
    cmd = [sys.executable, __file__, "--child", f"{images}:{batch}:{chunk}"]
    cmd += ["--precision", precision, "--decoder", decoder]
    if mnist:
        cmd.append("--mnist")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="images for the final run")
    parser.add_argument("--sweep-images", type=int, default=200)
    parser.add_argument(
        "--settings",
        default="100:100,100:500,500:100,1000:50",
        help="batch:chunk pairs to sweep (the best goes to the final run); 'plan': planned "
        "within the default memory budget (jvae.diagnostics.memory)",
    )
    parser.add_argument("--decoder", choices=("mlp", "conv", "pixelcnn"), default="mlp")
    parser.add_argument("--mnist", action="store_true", help="real MNIST test images")
    add_precision_argument(parser)
    parser.add_argument("--name", default="eval_speed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    set_precision(args.precision)
    if args.child:
        images, batch, chunk = (int(v) for v in args.child.split(":"))
        print(json.dumps(child(images, batch, chunk, args.mnist, args.decoder)))
        return

    info = machine()
    if args.settings == "plan":
        args.settings = "0:0"
    settings = [tuple(int(v) for v in s.split(":")) for s in args.settings.split(",")]
    rows = []
    if len(settings) > 1:
        for batch, chunk in settings:
            r = run_child(
                max(args.sweep_images, 2 * batch),
                batch,
                chunk,
                args.mnist,
                args.precision,
                args.decoder,
            )
            r["stage"] = "sweep"
            rows.append(r)
            print(r, flush=True)
        best = min(rows, key=lambda r: r["s_per_image"])
        settings = [(best["batch"], best["chunk"])]
    batch, chunk = settings[0]
    final = run_child(args.images, batch, chunk, args.mnist, args.precision, args.decoder)
    final["stage"] = "final"
    rows.append(final)
    print(final, flush=True)
    info["loadavg_end"] = os.getloadavg()

    md = [
        f"# K={K} evaluation speed and memory (`jvae.diagnostics.nll.dataset_bound`)",
        "",
        f"Command: `{command()}`  ",
        f"Machine: {describe(info)}; jax {info['jax']}; matmul precision {args.precision}; "
        f"XLA_FLAGS=`{info['XLA_FLAGS']}`  ",
        f"Load average (1/5/15 min) at start {tuple(round(v, 2) for v in info['loadavg_start'])}, "
        f"at end {tuple(round(v, 2) for v in info['loadavg_end'])}.  ",
        f"Data: {'MNIST test images' if args.mnist else 'random binary images'}; 1-layer "
        f"model with the {args.decoder} decoder at its initialisation (the cost does not "
        "depend on the weights).",
        "",
        "| stage | decoder | images run | batch | chunk K | planned (XLA MiB / budget MiB, "
        "plan s) | compile + 1st batch s | s / image | 10k images s | GFLOP/s (MLP decoder) | "
        "eval memory MiB | peak RSS MiB | device peak MiB | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        full = f"{r['full_10k_s']:.0f}" + (" (extrapolated)" if r["extrapolated"] else "")
        md.append(
            f"| {r['stage']} | {r['decoder']} | {r['images']} | {r['batch']} | {r['chunk']} | "
            + (
                f"yes ({r['xla_bytes'] / 2**20:.0f} / {r['budget_bytes'] / 2**20:.0f}, "
                f"{r['plan_s']:.0f} s) | "
                if r["planned"]
                else "no | "
            )
            + f"{r['first_batch_s']:.1f} | {r['s_per_image']:.3f} | {full} | {r['gflops']:.1f} | "
            f"{r['eval_rss_mib']:.0f} | {r['peak_rss_mib']:.0f} | {r['device_peak_mib']:.0f} | "
            f"{r['loadavg'][0]:.1f} |"
        )
    md += [
        "",
        "10k time = compile + first batch + (10,000 - batch) x the per-image time of the other "
        f"batches. The decoder alone costs {DEC_FLOP_PER_SAMPLE * K * FULL / 1e12:.1f} TFLOP "
        "for 10k images. Eval memory = RSS high-water mark minus the mark before evaluating; "
        "device peak = the accelerator's peak bytes in use (`memory_stats`; none on CPU).",
        "",
    ]
    write(args.name, {"machine": info, "command": command(), "rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()
