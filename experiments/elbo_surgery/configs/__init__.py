"""Presets of the ELBO-surgery experiment: ``get_config(preset)`` returns the preset module's
config, a dict with

- ``preset``: the training preset of :meth:`jvae.run.spec.RunSpec.from_preset`;
- ``rows``: ``{name: {label, overrides, paper, reuse}}``: the run fields (flat names) of each model,
  the paper's (ELBO, average KL, MI, marginal KL) or ``None``, and ``reuse``, a finished
  ``jvae train`` folder (with ``eval.json``, relative to the root) used instead of training
  when it exists (``""``: none);
- ``overrides``: run fields (flat names) for every row (a smaller budget); ``evaluate``: whether
  training ends with the test evaluation (NLL, figures);
- ``n`` (training images in the surgery, 0: all 60,000), ``num_samples`` (draws per image,
  >= 2), ``batch_size``, ``chunk_size`` (mixture components per step), ``seed``;
- ``figure``: the q_EW figure's ``row`` (a 2-D model), ``images``, ``ks``, ``resolution``
  (grid points per axis) and ``inner`` (sets of K - 1 draws per density);
- ``workdir`` (training runs) and ``results`` (table, JSON, PNG), relative to the root.
"""

from __future__ import annotations

from typing import Any

from experiments.runner import preset_config

PRESETS = ("smoke", "cpu", "paper")

# Hoffman & Johnson 2016 (MNIST, N = 60,000, log N = 11.0021): ELBO, average KL, mutual
# information, marginal KL, by latent dimension (DESIGN.md section 5).
PAPER: dict[int, tuple[float, float, float, float]] = {
    2: (-129.63, 7.41, 7.20, 0.21),
    10: (-88.95, 19.17, 10.82, 8.35),
    20: (-87.45, 20.2, 10.67, 9.53),
}


def table_rows(preset: str) -> dict[str, dict[str, Any]]:
    """VAEs with 2-, 10- and 20-D latents (the paper's rows), IWAE k=50 (the IWAE table's run
    of the same preset when it is finished) and a 20-D VAE with a VampPrior (beside the 20-D
    VAE with a standard normal prior: the marginal KL is what a learned prior can close)."""
    rows = {
        f"vae_{d}d": dict(
            label=f"VAE {d}-D", overrides=dict(model="vae", k=1, latent_size=d), paper=PAPER[d]
        )
        for d in (2, 10, 20)
    }
    rows["iwae_k50"] = dict(
        label="IWAE k=50, 50-D",
        overrides=dict(model="iwae", k=50),
        reuse=f"runs/iwae_table/{preset}/mnist_l1_iwae_k50",
    )
    rows["vamp_20d"] = dict(
        label="VAE 20-D, VampPrior", overrides=dict(model="vae", k=1, latent_size=20, prior="vamp")
    )
    return rows


def get_config(preset: str) -> dict[str, Any]:
    return preset_config(__name__, PRESETS, preset)
