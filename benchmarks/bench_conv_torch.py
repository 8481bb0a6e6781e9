"""Forward + backward speed of jvae's gated convolutional encoder and decoder against PyTorch,
and the forms of an XLA convolution tried on the way.

The networks are the VampPrior paper's (``jvae.nn.conv``): the encoder ``ConvGaussian(40)``
(gated convolutions (32, 7, 1), (32, 3, 2), (64, 5, 1), (64, 3, 2), (6, 3, 1), two linear heads)
on ``x [100, H, W, C]``, and the decoder ``ConvBernoulli((H, W, C), ((300,),), (H * W,))``
(gated dense 40 -> 300 -> H*W read as an image, four gated 3x3 convolutions of 64, a 1x1 head to
C channels) on ``z [100, 40]``. A step is the gradient of a scalar of the outputs (encoder:
``sum(mean^2) + sum(log_scale)``; decoder: ``sum(logits * t)``) and an SGD update. jvae runs S
steps as one ``lax.scan`` over S batches compiled with ``jvae.compiler.jit`` (the form of
``jvae.training.train.make_epoch``); PyTorch (``torch NT``, N intra-op threads, NCHW, or
``channels_last``) runs the same S steps in a Python loop on an equivalent ``nn.Module``.

All contenders run in one process, interleaved (each repeat times every contender once, in
turn); the tables give medians and the load average. The machine is shared: under load, wall
times compare shares of the CPU, and the CPU seconds of the process (all threads) compare the
work done.

``--variants`` adds other forms of the same network, re-written here in plain JAX on the
same parameters and run in the same scan: XLA's own autodiff of ``lax.conv_general_dilated``
(NHWC and NCHW), an im2col matrix product, the library compiled with XLA's default options
(YNNPACK convolutions), separate ``h`` and ``g`` convolutions, and the convolution gradients of
git 47feaa8 (explicit pad, then a VALID convolution).

    python benchmarks/bench_conv_torch.py --name conv_torch_after
    python benchmarks/bench_conv_torch.py --variants all --configs encoder:28x28x1 --name conv_forms
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import command, describe, git_rev, interleaved, machine, write  # noqa: E402

from jvae import compiler  # noqa: E402
from jvae.nn.conv import DECODER_CONVS, ENCODER_CONVS, ConvBernoulli, ConvGaussian  # noqa: E402
from jvae.nn.convolution import conv2d  # noqa: E402

BATCH, LATENT = 100, 40
NHWC = ("NHWC", "HWIO", "NHWC")
# Steps per timed call: about a second of work on a lightly loaded 2-core machine.
STEPS = {"encoder": 4, "decoder": 1}


def network(kind: str, shape: tuple[int, int, int]):
    """``(module, loss(params, inputs, target), inputs [S, ...] maker)`` of the library's
    network (the decoder's loss reads a target image; the encoder's ignores it)."""
    height, width, channels = shape
    if kind == "encoder":
        module = ConvGaussian(LATENT)

        def loss(params, x, target):
            mean, log_scale = module.apply({"params": params}, x)
            return jnp.sum(mean**2) + jnp.sum(log_scale)

        return module, loss, lambda s: jax.random.uniform(jax.random.key(1), (s, BATCH, *shape))
    module = ConvBernoulli(shape, ((300,),), (height * width,))

    def loss(params, z, target):
        return jnp.sum(module.apply({"params": params}, z) * target)

    return module, loss, lambda s: jax.random.normal(jax.random.key(1), (s, BATCH, LATENT))


def epoch_of(loss):
    """S steps as one ``lax.scan``: the gradient of ``loss`` and an SGD update per batch."""

    def epoch(params, batches, target):
        def step(params, batch):
            value, grads = jax.value_and_grad(loss)(params, batch, target)
            return jax.tree.map(lambda p, g: p - 1e-6 * g, params, grads), value

        return lax.scan(step, params, batches)

    return epoch


# ---- the other forms (--variants): the same network in plain JAX on the library's params ----


def conv_lax(x, kernel, stride, pad):
    """``lax.conv_general_dilated``, differentiated by JAX's own transpose rules."""
    return lax.conv_general_dilated(x, kernel, (stride,) * 2, [pad, pad], dimension_numbers=NHWC)


def conv_nchw(x, kernel, stride, pad):
    """As :func:`conv_lax` with the activations NCHW and the kernel OIHW (PyTorch's layout)."""
    y = lax.conv_general_dilated(
        jnp.transpose(x, (0, 3, 1, 2)),
        jnp.transpose(kernel, (3, 2, 0, 1)),
        (stride,) * 2,
        [pad, pad],
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
    )
    return jnp.transpose(y, (0, 2, 3, 1))


def conv_im2col(x, kernel, stride, pad):
    """Patches gathered by strided slices into ``[N*OH*OW, kh*kw*C]``, times the kernel as a
    ``[kh*kw*C, O]`` matrix."""
    kh, kw, c, o = kernel.shape
    x = jnp.pad(x, ((0, 0), pad, pad, (0, 0)))
    n, h, w, _ = x.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    taps = [
        x[:, p : p + stride * (oh - 1) + 1 : stride, q : q + stride * (ow - 1) + 1 : stride]
        for p in range(kh)
        for q in range(kw)
    ]
    patches = jnp.concatenate(taps, axis=-1).reshape(-1, kh * kw * c)
    return jnp.dot(patches, kernel.reshape(-1, o)).reshape(n, oh, ow, o)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv_47feaa8(x, kernel, stride):
    return lax.conv_general_dilated(x, kernel, (stride,) * 2, "VALID", dimension_numbers=NHWC)


def _conv_47feaa8_fwd(x, kernel, stride):
    return _conv_47feaa8(x, kernel, stride), (x, kernel)


def _conv_47feaa8_bwd(stride, residuals, g):
    x, kernel = residuals
    kh, kw = kernel.shape[:2]
    dw = lax.conv_general_dilated(
        jnp.transpose(x, (3, 1, 2, 0)),
        jnp.transpose(g, (1, 2, 0, 3)),
        (1, 1),
        "VALID",
        rhs_dilation=(stride,) * 2,
        dimension_numbers=NHWC,
    )
    dw = jnp.transpose(dw[:, :kh, :kw], (1, 2, 0, 3))
    spare = [x.shape[d] - stride * (g.shape[d] - 1) - k for d, k in ((1, kh), (2, kw))]
    dx = lax.conv_general_dilated(
        g,
        jnp.transpose(jnp.flip(kernel, (0, 1)), (0, 1, 3, 2)),
        (1, 1),
        [(kh - 1, kh - 1 + spare[0]), (kw - 1, kw - 1 + spare[1])],
        lhs_dilation=(stride,) * 2,
        dimension_numbers=NHWC,
    )
    return dx, dw


_conv_47feaa8.defvjp(_conv_47feaa8_fwd, _conv_47feaa8_bwd)


def conv_47feaa8(x, kernel, stride, pad):
    """git 47feaa8's ``conv2d``: x padded first, a VALID convolution with a custom VJP whose
    kernel gradient covers the whole padded input (then sliced)."""
    return _conv_47feaa8(jnp.pad(x, ((0, 0), pad, pad, (0, 0))), kernel, stride)


def conv_library(x, kernel, stride, pad):
    """``jvae.nn.convolution.conv2d`` as it is now."""
    return conv2d(x, kernel, stride, (pad, pad))


def gated(conv, fused: bool, params, h, kernel: int, stride: int):
    pad = (kernel // 2, kernel // 2)
    ph, pg = params["h"], params["g"]
    if fused:
        w = jnp.concatenate([ph["kernel"], pg["kernel"]], -1)
        y = conv(h, w, stride, pad) + jnp.concatenate([ph["bias"], pg["bias"]])
        a, b = jnp.split(y, 2, -1)
    else:
        a = conv(h, ph["kernel"], stride, pad) + ph["bias"]
        b = conv(h, pg["kernel"], stride, pad) + pg["bias"]
    return a * jax.nn.sigmoid(b)


def plain_loss(kind: str, shape, conv, fused: bool):
    """The network's loss in plain JAX with the convolution ``conv``."""

    def dense(p, h):
        return h @ p["kernel"] + p["bias"]

    def gated_dense(p, h):
        return dense(p["h"], h) * jax.nn.sigmoid(dense(p["g"], h))

    if kind == "encoder":

        def loss(params, x, target):
            h = x
            for i, (_, k, s) in enumerate(ENCODER_CONVS):
                h = gated(conv, fused, params[f"conv_{i}"], h, k, s)
            h = h.reshape(h.shape[0], -1)
            log_var = dense(params["log_var"], h)
            return jnp.sum(dense(params["mean"], h) ** 2) + jnp.sum(0.5 * jnp.clip(log_var, -6, 2))

        return loss

    def loss(params, z, target):
        net, m = params["map"]["net"], params["map"]
        h = gated_dense(net["joint_0"], gated_dense(net["branch0_0"], z))
        h = h.reshape(-1, shape[0], shape[1], 1)
        for i, (_, k, s) in enumerate(DECODER_CONVS):
            h = gated(conv, fused, m[f"conv_{i}"], h, k, s)
        return jnp.sum(dense(params["head"], h) * target)

    return loss


XLA_DEFAULTS = "XLA default options"
# name: (convolution, h and g as one convolution of 2F outputs); XLA_DEFAULTS is the library
# compiled with plain jax.jit
VARIANTS = {
    XLA_DEFAULTS: (None, True),
    "lax autodiff": (conv_lax, True),
    "lax autodiff NCHW": (conv_nchw, True),
    "im2col matmul": (conv_im2col, True),
    "conv2d of 47feaa8": (conv_47feaa8, False),
    "h and g apart": (conv_library, False),
}


# ---- PyTorch ----


def torch_contenders(kind: str, shape, inputs, target, threads, steps: int) -> dict:
    import torch
    from torch import nn

    height, width, channels = shape

    class Gated(nn.Module):
        def __init__(self, c_in, c_out, k, s):
            super().__init__()
            self.h = nn.Conv2d(c_in, c_out, k, s, k // 2)
            self.g = nn.Conv2d(c_in, c_out, k, s, k // 2)

        def forward(self, x):
            return self.h(x) * torch.sigmoid(self.g(x))

    class GatedDense(nn.Module):
        def __init__(self, d_in, d_out):
            super().__init__()
            self.h, self.g = nn.Linear(d_in, d_out), nn.Linear(d_in, d_out)

        def forward(self, x):
            return self.h(x) * torch.sigmoid(self.g(x))

    def stack(c_in, specs):
        layers = []
        for f, k, s in specs:
            layers.append(Gated(c_in, f, k, s))
            c_in = f
        return nn.Sequential(*layers)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = stack(channels, ENCODER_CONVS)
            features = 6 * -(-height // 4) * -(-width // 4)
            self.mean, self.log_var = nn.Linear(features, LATENT), nn.Linear(features, LATENT)

        def forward(self, x, t):
            h = self.convs(x).flatten(1)
            log_var = torch.clamp(self.log_var(h), -6, 2)
            return (self.mean(h) ** 2).sum() + (0.5 * log_var).sum()

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Sequential(GatedDense(LATENT, 300), GatedDense(300, height * width))
            self.convs = stack(1, DECODER_CONVS)
            self.head = nn.Conv2d(64, channels, 1)

        def forward(self, z, t):
            h = self.dense(z).view(-1, 1, height, width)
            return (self.head(self.convs(h)) * t).sum()

    torch.manual_seed(0)
    t = torch.from_numpy(np.array(target)).permute(0, 3, 1, 2).contiguous()
    x = torch.from_numpy(np.array(inputs))
    if kind == "encoder":
        x = x.permute(0, 1, 4, 2, 3).contiguous()

    def contender(threads: int, channels_last: bool):
        model = Encoder() if kind == "encoder" else Decoder()
        xs, target = x, t
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
            target = t.contiguous(memory_format=torch.channels_last)
            if kind == "encoder":
                xs = torch.stack([b.contiguous(memory_format=torch.channels_last) for b in x])

        def run():
            torch.set_num_threads(threads)
            for i in range(steps):
                for p in model.parameters():
                    p.grad = None
                loss = model(xs[i], target)
                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p.sub_(1e-6 * p.grad)
            float(loss.detach())

        return run

    out = {f"torch {n}T": contender(n, False) for n in threads}
    out[f"torch {threads[0]}T channels_last"] = contender(threads[0], True)
    return out


def contenders(kind: str, shape, steps: int, threads, variants: list[str]):
    module, loss, make_inputs = network(kind, shape)
    batches = make_inputs(steps)
    target = jax.random.uniform(jax.random.key(3), (BATCH, *shape))
    params = module.init(jax.random.key(0), batches[0])["params"]
    step = compiler.jit(jax.value_and_grad(loss))
    reference = step(params, batches[0], target)
    compiled = step.lower(params, batches[0], target).compile()
    flops = compiled.cost_analysis().get("flops", float("nan"))

    def jvae_run(epoch):
        return lambda: jax.block_until_ready(epoch(params, batches, target))

    fns = {"jvae": jvae_run(compiler.jit(epoch_of(loss)))}
    errors = {}
    for name in variants:
        if name == XLA_DEFAULTS:
            fns[name] = jvae_run(jax.jit(epoch_of(loss)))
            continue
        conv, fused = VARIANTS[name]
        variant = plain_loss(kind, shape, conv, fused)
        got = compiler.jit(jax.value_and_grad(variant))(params, batches[0], target)
        errors[name] = max(
            float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))
            for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(reference))
        )
        fns[name] = jvae_run(compiler.jit(epoch_of(variant)))
    fns.update(torch_contenders(kind, shape, batches, target, threads, steps))
    for run in fns.values():
        run()
    return fns, float(flops), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs",
        default="encoder:28x28x1,encoder:32x32x3,decoder:28x28x1,decoder:32x32x3",
        help="comma-separated network:HxWxC",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply steps per call")
    parser.add_argument("--torch-threads", default="2,1", help="comma-separated thread counts")
    parser.add_argument(
        "--variants",
        default="",
        help=f"also time these other forms, comma-separated, or 'all': {', '.join(VARIANTS)}",
    )
    parser.add_argument("--name", default="conv_torch")
    args = parser.parse_args()
    threads = tuple(int(t) for t in args.torch_threads.split(","))
    info = machine()
    rows = []
    for config in args.configs.split(","):
        kind, size = config.split(":")
        shape = tuple(int(v) for v in size.split("x"))
        steps = max(1, round(STEPS[kind] * args.scale))
        variants = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
        fns, flops, errors = contenders(kind, shape, steps, threads, [v for v in variants if v])
        wall, cpu, loads = interleaved(fns, args.repeats)
        ms = {n: 1e3 * float(np.median(wall[n])) / steps for n in fns}
        cpu_ms = {n: 1e3 * float(np.median(cpu[n])) / steps for n in fns}
        row = {
            "network": kind,
            "shape": list(shape),
            "steps_per_call": steps,
            "ms_per_step": ms,
            "cpu_ms_per_step": cpu_ms,
            "wall_ms_all": {n: [1e3 * v / steps for v in wall[n]] for n in fns},
            "gflop_per_step_xla": flops / 1e9,
            "jvae_gflops": flops / 1e9 / (ms["jvae"] / 1e3),
            "variant_max_rel_error": errors,
            "loadavg_1min": loads,
        }
        rows.append(row)
        print(row, flush=True)
    info["loadavg_end"] = os.getloadavg()
    write(
        args.name, {"machine": info, "command": command(), "rows": rows}, markdown(args, info, rows)
    )


def markdown(args, info, rows) -> str:
    names = list(rows[0]["ms_per_step"])
    torch_names = [n for n in names if n.startswith("torch")]
    head = ["network", "image", *(f"{n} ms" for n in names)]
    head += [f"{n} / jvae" for n in torch_names] + ["jvae GFLOP/s", "load (1 min)"]
    md = [
        "# Gated conv nets: jvae against PyTorch (forward + backward + SGD, batch 100)",
        "",
        f"Command: `{command()}` (git {git_rev()})  ",
        f"Machine: {describe(info)}, torch {info['torch']}; XLA_FLAGS=`{info['XLA_FLAGS']}`  ",
        f"Load average (1/5/15 min) at start {tuple(round(v, 2) for v in info['loadavg_start'])}, "
        f"at end {tuple(round(v, 2) for v in info['loadavg_end'])}: a shared machine.  ",
        f"Medians over {args.repeats} interleaved repeats; milliseconds per step, wall (CPU "
        "seconds of all threads in the second table).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        ms = r["ms_per_step"]
        cells = [r["network"], "x".join(map(str, r["shape"]))]
        cells += [f"{ms[n]:.0f}" for n in names]
        cells += [f"{ms[n] / ms['jvae']:.2f}" for n in torch_names]
        cells += [f"{r['jvae_gflops']:.1f}", f"{np.median(r['loadavg_1min']):.1f}"]
        md.append("| " + " | ".join(cells) + " |")
    md += ["", "CPU milliseconds per step (all threads):", ""]
    head = ["network", "image", *names, *(f"{n} / jvae" for n in torch_names)]
    md += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cpu = r["cpu_ms_per_step"]
        cells = [r["network"], "x".join(map(str, r["shape"]))]
        cells += [f"{cpu[n]:.0f}" for n in names]
        cells += [f"{cpu[n] / cpu['jvae']:.2f}" for n in torch_names]
        md.append("| " + " | ".join(cells) + " |")
    md += [
        "",
        "`torch N / jvae` above 1: jvae is faster. GFLOP/step is XLA's cost analysis of one "
        "jitted step (JSON: `gflop_per_step_xla`). Variants (when run) agree with the library's "
        "gradients to the relative error in the JSON (`variant_max_rel_error`).",
        "",
    ]
    return "\n".join(md)


if __name__ == "__main__":
    main()
