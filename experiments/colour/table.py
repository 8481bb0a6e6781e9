"""The colour table: the rows (one run each, on photo patches), their JSON and the markdown.

Every row's test NLL is of the same 8-bit patches. A discrete likelihood (the discretised
logistics, a PixelCNN of them) gives :math:`-\\log P(v)` directly; the Gaussian row is a density
over dequantised data :math:`x = (v + u)/256`, :math:`u \\sim U[0, 1)^D` (one fixed draw per
patch, :func:`dequantized_arrays`), whose NLL plus :math:`D \\log 256` bounds a discrete model's
from above (:func:`jvae.components.dequantized_bits_per_dim`).
"""

from __future__ import annotations

import math
import pathlib
from typing import Any

import jax
import numpy as np

from jvae.components import bits_per_dim, dequantize, dequantized_bits_per_dim
from jvae.components.pixels import NUM_LEVELS
from jvae.data.spec import DataSpec
from jvae.run.experiment import training_budget
from jvae.run.spec import RunSpec

#: What the table says of each dataset a preset may use: (title, data line, reference note).
DATA_NOTES = {
    "photo-patches": (
        "photo patches",
        "`photo-patches`, 32x32x3 tiles of scikit-image's five lossless colour photographs "
        "(960 training / 239 test tiles, split by position)",
        "Photo patches are not CIFAR-10 (five photographs, 960 training tiles, neighbouring "
        "tiles alike), so there is no direct comparison: the column gives the scale only.",
    ),
    "tfds:cifar10": (
        "CIFAR-10",
        "`tfds:cifar10`, CIFAR-10's 50,000 training / 10,000 test 32x32x3 images from the "
        "user's TFDS data directory (prepare it with `tfds build cifar10` on a machine with a "
        "network)",
        "The same dataset as the papers', at this table's budget and network sizes.",
    ),
}
DEQUANTIZE_SEED = 0  # the uniform draws of the Gaussian row's data (train: fold 0, test: 1)
# CIFAR-10 test bits/dim of the papers' models nearest each row (another dataset: the scale
# only, no direct comparison).
REFERENCES = {
    "conv_logistic": (3.11, "IAF-VAE, Kingma et al. 2016"),
    "pixelcnn_small_field": (2.95, "VLAE, Chen et al. 2017"),
    "pixelcnn_large_field": (3.03, "Gated PixelCNN, van den Oord et al. 2016"),
}
NAMES = {
    "conv_gaussian": "conv decoder, Gaussian (predicted variance), dequantised",
    "conv_logistic": "conv decoder, discretised logistic",
    "conv_logistic_mixture": "conv decoder, mixture of 5 discretised logistics",
    "pixelcnn_small_field": "small-field PixelCNN decoder, discretised logistic",
    "pixelcnn_large_field": "large-field PixelCNN decoder, discretised logistic",
}
LIKELIHOOD_ROWS = ("conv_gaussian", "conv_logistic", "conv_logistic_mixture")
PIXELCNN_ROWS = ("pixelcnn_small_field", "pixelcnn_large_field")
LATENT_UNITS = 50  # the IWAE paper's 1-layer latent, every row's


def dequantized_arrays(
    config: dict[str, Any], root: pathlib.Path, data_dir: str | None = None
) -> pathlib.Path:
    """``<workdir>/dequantized.npz``: the dataset's ``train`` and ``test`` splits dequantised
    once (:func:`jvae.components.dequantize`, key ``PRNGKey(DEQUANTIZE_SEED)`` folded with 0 and
    1), written on first use and read back after, so a resumed row trains on the same data."""
    path = root / config["workdir"] / "dequantized.npz"
    if path.exists():
        return path
    arrays = DataSpec(config["overrides"]["dataset"]).load(data_dir)
    key = jax.random.PRNGKey(DEQUANTIZE_SEED)
    out = {
        split: np.asarray(dequantize(jax.random.fold_in(key, i), arrays[split]))
        for i, split in enumerate(("train", "test"))
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, **out)
    partial.replace(path)
    return path


def specs(
    config: dict[str, Any], root: pathlib.Path, data_dir: str | None = None
) -> dict[str, RunSpec]:
    """``{row name: run}``: each row's fields over the preset's; a row whose likelihood models
    real values (the Gaussian) reads the dequantised patches (:func:`dequantized_arrays`)."""
    out = {}
    for name, row in config["rows"].items():
        spec = RunSpec.from_preset(config["preset"], **{**config["overrides"], **row})
        if spec.model.data_kind == "real":
            path = dequantized_arrays(config, root, data_dir)
            spec = spec.replace(dataset=f"npz:{path.resolve()}")
        out[name] = spec
    return out


def summarise(
    workdir: pathlib.Path, spec: RunSpec, result: dict[str, Any], rate: dict[str, np.ndarray]
) -> dict[str, Any]:
    """One row's JSON: the NLL and ELBO in nats of the 8-bit patches (a density's plus
    :math:`D \\log 256`), bits/dim, the rate of the test patches, the budget and wall times."""
    m, dims = spec.model, int(np.prod(spec.data.event_shape))
    dequantized = m.data_kind == "real"
    shift = dims * math.log(NUM_LEVELS) if dequantized else 0.0
    bits = dequantized_bits_per_dim if dequantized else bits_per_dim
    return {
        "nll": result["nll"] + shift,
        "bits_per_dim": float(bits(-result["nll"], dims)),
        "nll_stderr": result["bounds"][str(result["nll_k"])]["stderr"],
        "nll_k": result["nll_k"],
        "elbo": result["bounds"]["1"]["mean"] - shift,
        "kl": float(np.mean(rate["rate"])),
        "kl_stderr": float(np.std(rate["rate"]) / np.sqrt(len(rate["rate"]))),
        "distortion": float(np.mean(rate["distortion"])) + shift,
        "active_units": result["active_units"],
        **training_budget(workdir),
        "eval_seconds": result["eval_seconds"],
        "test_examples": result["test_examples"],
        "dequantized": dequantized,
        "density_nll": result["nll"] if dequantized else None,
        "decoder": m.decoder,
        "likelihood": m.likelihood,
        "receptive_field": m.receptive_field if m.decoder == "pixelcnn" else None,
        "pixelcnn_channels": m.pixelcnn_channels if m.decoder == "pixelcnn" else None,
        "batch_size": spec.train.batch_size,
        "learning_rate": spec.train.learning_rate,
        "seed": spec.seed,
        "preset": spec.preset,
    }


def _likelihood_reading(rows: dict[str, dict]) -> list[str]:
    """The conv rows' likelihoods ranked by bits/dim, against the expected order."""
    if not all(name in rows for name in LIKELIHOOD_ROWS):
        return []
    ranked = sorted(LIKELIHOOD_ROWS, key=lambda name: rows[name]["bits_per_dim"])
    order = " < ".join(f"{rows[n]['likelihood']} {rows[n]['bits_per_dim']:.3f}" for n in ranked)
    expected = list(LIKELIHOOD_ROWS[::-1])
    verdict = (
        "the expected order: a mixture with coupled colours contains the single logistic, and "
        "a discrete likelihood puts its mass on the 256 levels where a density spreads it "
        "over each bin"
        if ranked == expected
        else "not the expected order logistic-mixture < logistic < gaussian: at this budget the "
        "decoders are far from converged, so the ranking says more about how fast each trains "
        "than about what each can reach"
    )
    return [f"- Likelihoods of the conv VAE, bits/dim (lowest first): {order}; {verdict}."]


def _uses_z(row: dict[str, Any]) -> bool:
    """Whether more than a quarter of the latent units are active (posterior means that vary
    with the tile, :func:`jvae.diagnostics.active_units.active_units`)."""
    return sum(row["active_units"]) > LATENT_UNITS // 4


def _collapse_reading(rows: dict[str, dict]) -> list[str]:
    """What each PixelCNN decoder does with z: active units and the KL's spread over tiles (a
    KL the same for every tile is q(z|x) away from the prior, not information about x)."""
    if not all(name in rows for name in PIXELCNN_ROWS):
        return []
    small, large = (rows[name] for name in PIXELCNN_ROWS)
    if not _uses_z(small) and not _uses_z(large):
        verdict = (
            "neither decoder uses z much at this budget: at most a quarter of the units active, "
            "and a KL nearly the "
            "same for every tile is q(z|x) not yet pulled to the prior rather than information "
            "about the tile, so VLAE's contrast (the small field uses z, the large one "
            "collapses) does not show here"
        )
    elif _uses_z(small) and (not _uses_z(large) or large["kl"] < 0.5 * small["kl"]):
        verdict = (
            "the large field leaves the latents nearly unused (posterior collapse): it sees "
            "enough of the tile to model it without z, as in VLAE's contrast"
        )
    elif _uses_z(large) and not _uses_z(small):
        verdict = "the reverse of VLAE's contrast at this budget: the large field uses z more"
    else:
        verdict = "both decoders use z at this budget: no collapse (yet)"

    def described(r: dict[str, Any]) -> str:
        spread = r["kl_stderr"] * math.sqrt(r["test_examples"])
        return (
            f"{r['kl']:.1f} nats (s.d. {spread:.1f} over tiles) and "
            f"{'+'.join(map(str, r['active_units']))} of {LATENT_UNITS} active units with the "
            f"radius-{r['receptive_field']} PixelCNN"
        )

    return [
        f"- KL(q(z|x) || p(z)) per test tile: {described(small)}, {described(large)}: {verdict}."
    ]


def _decoder_reading(rows: dict[str, dict]) -> list[str]:
    """The best conv decoder against the best PixelCNN, in bits/dim."""
    conv = [rows[n]["bits_per_dim"] for n in LIKELIHOOD_ROWS if n in rows]
    pixel = [rows[n]["bits_per_dim"] for n in PIXELCNN_ROWS if n in rows]
    if not conv or not pixel:
        return []
    verdict = (
        "an autoregressive decoder models the pixels' local correlations, which a decoder "
        "independent given z pays for in every pixel"
        if min(pixel) < min(conv)
        else "the PixelCNN's advantage (local correlations modelled, not paid for in every "
        "pixel) does not show at this budget"
    )
    return [
        f"- Best PixelCNN decoder {min(pixel):.3f} bits/dim, best conv decoder "
        f"{min(conv):.3f}: {verdict}."
    ]


def markdown(config: dict[str, Any], rows: dict[str, dict], machine: str) -> str:
    """The table of the finished ``rows`` (name -> JSON), in the config's order."""
    preset = config["preset"]
    rows = {name: rows[name] for name in config["rows"] if name in rows}
    first = next(iter(rows.values()))
    over = config["overrides"]
    channels = next((r["pixelcnn_channels"] for r in rows.values() if r["pixelcnn_channels"]), None)
    pixelcnn = "" if channels is None else f", or a gated PixelCNN of {channels} channels"
    title, data, reference = DATA_NOTES[over["dataset"]]
    lines = [
        f"# Colour images: likelihoods and PixelCNN decoders on {title}, preset `{preset}`",
        "",
        f"Data: {data}, tested on the first "
        f"{first['test_examples']} test tiles. Every row is a 1-layer VAE (50 latents, N(0, I) "
        "prior, Gaussian q(z|x) from gated convolutions) trained with the plain ELBO, Adam at "
        f"{first['learning_rate']:g} constant, batch {first['batch_size']}, seed "
        f"{first['seed']}; its decoder is the VampPrior paper's conv decoder (4 gated 3x3 "
        f"convolutions of 64) with the row's likelihood{pixelcnn} conditioned on a map of z. "
        f"Test NLL is -L_K with K={first['nll_k']} importance samples, in nats per tile and "
        "bits per dimension (D = 3072). The Gaussian row is a density over dequantised tiles "
        "x = (v + u)/256 (one uniform draw u per tile, fixed); its NLL and ELBO are the "
        "density's plus D log 256 (the bin width's Jacobian), an upper bound on a discrete "
        "model's, so every row's numbers are of the same 8-bit tiles. KL(q(z|x) || p(z)) per "
        f"test tile (mean ± s.e., {config['rate_samples']} draws), active units of z (of 50), "
        f"passes, wall time. Machine: {machine}.",
        "",
        "| row | model | NLL (nats, ± s.e.) | bits/dim | ELBO (nats) | KL | active units | field | "
        "passes | train (min) | eval (min) | CIFAR-10 reference (bits/dim) |",
        "|" + " --- |" * 12,
    ]
    for name, r in rows.items():
        ref = REFERENCES.get(name)
        field = "–" if r["receptive_field"] is None else str(r["receptive_field"])
        lines.append(
            f"| {name} | {NAMES[name]} | {r['nll']:.0f} ± {r['nll_stderr']:.0f} | "
            f"{r['bits_per_dim']:.3f} | "
            f"{r['elbo']:.0f} | {r['kl']:.2f} ± {r['kl_stderr']:.2f} | "
            f"{'+'.join(map(str, r['active_units']))} | {field} | {r['passes']} | "
            f"{r['train_seconds'] / 60:.1f} | {r['eval_seconds'] / 60:.1f} | "
            f"{'–' if ref is None else f'{ref[0]:.2f} ({ref[1]})'} |"
        )
    total = sum(r["train_seconds"] + r["eval_seconds"] for r in rows.values())
    lines += [
        "",
        f"Budget: {over['epochs']} passes over the training tiles per row unless the row says "
        f"otherwise (column `passes`); training and test bounds took {total / 60:.0f} minutes "
        "over the rows (compilation included; the rate, active units and figures not). The "
        "field is the PixelCNN's radius: each value sees that many rows above it (as many "
        "columns either side), that many pixels to its left and the earlier colours of its own "
        "pixel.",
    ]
    if len({r["passes"] for r in rows.values()}) > 1:
        lines += [
            "",
            "Rows trained different numbers of passes: their NLLs do not compare across "
            "budgets; the collapse contrast reads the KL and the decoder's samples.",
        ]
    lines += [
        "",
        "The reference column is the CIFAR-10 test bits/dim of the papers' nearest model. "
        + reference,
        "",
        "## What to read from it",
        "",
        *_likelihood_reading(rows),
        *_collapse_reading(rows),
        *_decoder_reading(rows),
        "",
        "Every row trained the same short budget, far from convergence: the rows compare at "
        "equal cost early in training, not at what each model can reach.",
        "",
        "Each row's figure: test tiles, their reconstructions (the decoder's mean given one z "
        "from q(z|x); a PixelCNN's mean is a sample) and samples (z from the prior).",
        "",
        *(f"![{name}](figures/{name}.png)" for name in rows),
    ]
    return "\n".join(lines) + "\n"
