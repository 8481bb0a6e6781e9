"""The VLAE comparison (Chen et al. 2017, table 2, MNIST) beside ours: the rows (one run each),
their JSON and the markdown."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import numpy as np

from jvae.run.experiment import training_budget
from jvae.run.spec import RunSpec

# Chen et al. 2017, "Variational lossy autoencoder", MNIST test NLL (nats).
PAPER = {"iaf_vae": 79.88, "af_vae": 79.30, "vlae": 79.03}
NAMES = {
    "vae": "VAE (Gaussian q, N(0, I) prior)",
    "iaf_vae": "IAF-VAE (IAF posterior, 2 steps)",
    "af_vae": "AF-VAE (AF prior, 2 steps)",
    "vlae": "VLAE (AF prior + small-field PixelCNN)",
    "pixelcnn_large_field": "large-field PixelCNN decoder, plain ELBO",
}


def base_name(name: str) -> str:
    """A row's model name without its budget suffix (``'af_vae_100passes'`` -> ``'af_vae'``)."""
    return re.sub(r"_\d+passes$", "", name)


def specs(config: dict[str, Any]) -> dict[str, RunSpec]:
    """``{row name: run}``: each row's fields over the preset's."""
    return {
        name: RunSpec.from_preset(config["preset"], **{**config["overrides"], **row})
        for name, row in config["rows"].items()
    }


def summarise(
    workdir: pathlib.Path, spec: RunSpec, result: dict[str, Any], rate: dict[str, np.ndarray]
) -> dict[str, Any]:
    """One row's JSON: the evaluation, the rate and distortion of the test images, the budget
    and wall times."""
    m = spec.model
    return {
        "nll": result["nll"],
        "nll_k": result["nll_k"],
        "elbo": result["bounds"]["1"]["mean"],
        "kl": float(np.mean(rate["rate"])),
        "kl_stderr": float(np.std(rate["rate"]) / np.sqrt(len(rate["rate"]))),
        "distortion": float(np.mean(rate["distortion"])),
        "active_units": result["active_units"],
        **training_budget(workdir),
        "eval_seconds": result["eval_seconds"],
        "test_examples": result["test_examples"],
        "posterior": m.posterior,
        "prior": m.prior,
        "decoder": m.decoder,
        "receptive_field": m.receptive_field if m.decoder == "pixelcnn" else None,
        "seed": spec.seed,
        "preset": spec.preset,
    }


def markdown(config: dict[str, Any], rows: dict[str, dict], machine: str) -> str:
    """The table of the finished ``rows`` (name -> JSON), in the config's order."""
    preset = config["preset"]
    rows = {name: rows[name] for name in config["rows"] if name in rows}
    first = next(iter(rows.values()))
    lines = [
        f"# VLAE on binarised MNIST (Chen et al. 2017, table 2), preset `{preset}`",
        "",
        f"Test NLL in nats (K={first['nll_k']} importance samples, first {first['test_examples']}"
        " statically binarised test images), test ELBO, KL(q(z|x) || p(z)) per test image (mean "
        "± s.e.), active units of z (of 50), passes, wall time. Every row uses the IWAE paper's "
        "1-layer encoder (MLP, or gated convolutions beside a PixelCNN decoder) with 50 latents; "
        "the paper's models are deeper ResNets trained to convergence, so only the orderings "
        f"compare. Machine: {machine}.",
        "",
        "| row | model | NLL | ELBO | KL | distortion | active units | field | passes | "
        "train (min) | eval (min) | paper NLL |",
        "|" + " --- |" * 12,
    ]
    for name, r in rows.items():
        paper = PAPER.get(base_name(name))
        field = "–" if r["receptive_field"] is None else str(r["receptive_field"])
        lines.append(
            f"| {name} | {NAMES[base_name(name)]} | {r['nll']:.2f} | {r['elbo']:.2f} | "
            f"{r['kl']:.2f} ± {r['kl_stderr']:.2f} | {r['distortion']:.2f} | "
            f"{'+'.join(map(str, r['active_units']))} | {field} | {r['passes']} | "
            f"{r['train_seconds'] / 60:.1f} | {r['eval_seconds'] / 60:.1f} | "
            f"{'–' if paper is None else f'{paper:.2f}'} |"
        )
    if len({r["passes"] for r in rows.values()}) > 1:
        lines += [
            "",
            "Rows trained different numbers of passes (column `passes`): compare NLLs at equal "
            "passes, or the two PixelCNN rows at equal training time; the collapse contrast "
            "reads KL and the decoder's samples.",
        ]
    lines += [
        "",
        "The field is the PixelCNN's radius: each pixel sees that many rows above it (as many "
        "columns either side) and that many pixels to its left.",
        "",
        "![collapse](collapse.png)",
    ]
    return "\n".join(lines) + "\n"
