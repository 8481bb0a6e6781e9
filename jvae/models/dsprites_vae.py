r"""The beta-VAE papers' dSprites models: one Gaussian latent layer, Bernoulli pixels.

.. math:: q(z \mid x) = \mathcal N(\mu(x), \mathrm{diag}\,\sigma^2(x)), \qquad
          p(x \mid z) = \prod_d \mathrm{Bernoulli}(x_d; \mathrm{sigmoid}(f(z)_d))

with Higgins et al. 2017's MLPs (:func:`higgins_mlp`) or Burgess et al. 2018's convolutional
networks (:func:`burgess_conv`), see :mod:`jvae.nn.dsprites`. Params are named like the IWAE
paper's 1-layer model (``encoder/q0``, ``decoder/p0``).
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn

from jvae.components.conditionals import GaussianConditional
from jvae.components.likelihoods import Bernoulli
from jvae.components.posteriors import GaussianPosterior
from jvae.components.priors import Prior, StandardNormal
from jvae.models.model import DATA, Latent, Model, ModelParts, assemble
from jvae.nn.dsprites import BurgessDecoder, BurgessEncoder, HigginsDecoder, HigginsEncoder

LATENTS = 10
DSPRITES_SHAPE = (64, 64, 1)


def single_latent_vae(
    encoder: nn.Module,
    decoder: nn.Module,
    latent_size: int,
    event_shape: tuple[int, ...] = DSPRITES_SHAPE,
    prior: Prior | None = None,
) -> Model:
    """``encoder: x -> (mean, log_scale)`` and ``decoder: z -> logits`` as a :class:`Model`
    with ``prior`` (default standard normal) over ``z``; both nets read images flattened,
    ``[..., prod(event_shape)]``."""
    data_dim = math.prod(event_shape)
    posterior = GaussianPosterior(GaussianConditional(encoder, (data_dim,), latent_size))
    parts = ModelParts(
        latents=(Latent("z1", posterior, (DATA,), "q0"),),
        inference_order=("z1",),
        prior=prior or StandardNormal(latent_size),
        likelihood=Bernoulli(decoder, (latent_size,), event_shape),
        likelihood_parents=("z1",),
        likelihood_key="p0",
    )
    return assemble(parts, event_shape)


def higgins_mlp(
    latent_size: int = LATENTS,
    prior: Prior | None = None,
    event_shape: tuple[int, ...] = DSPRITES_SHAPE,
) -> Model:
    """Higgins et al. 2017's dSprites model: 4096-1200-1200 (ReLU) encoder, 10 latents,
    1200-1200-1200 (tanh) decoder."""
    encoder = HigginsEncoder(latent_size)
    decoder = HigginsDecoder(math.prod(event_shape))
    return single_latent_vae(encoder, decoder, latent_size, event_shape, prior)


def burgess_conv(
    latent_size: int = LATENTS,
    prior: Prior | None = None,
    event_shape: tuple[int, ...] = DSPRITES_SHAPE,
) -> Model:
    """Burgess et al. 2018's dSprites model: 4 x conv(32, 4x4, stride 2), dense 256-256, 10
    latents, and the transposed decoder; 64x64 images only."""
    if tuple(event_shape) != DSPRITES_SHAPE:
        raise ValueError(
            f"the burgess-conv architecture reads 64x64 grey images; got event shape "
            f"{tuple(event_shape)}: use the dsprites dataset or architecture='higgins-mlp'."
        )
    encoder = BurgessEncoder(latent_size)
    return single_latent_vae(encoder, BurgessDecoder(), latent_size, event_shape, prior)


BUILDERS = {"higgins-mlp": higgins_mlp, "burgess-conv": burgess_conv}
DSPRITES_ARCHITECTURES = tuple(BUILDERS)


def dsprites_model(spec: Any, prior: Prior, event_shape: tuple[int, ...]) -> Model:
    """The model of ``spec.architecture`` (one of :data:`DSPRITES_ARCHITECTURES`) with
    ``spec.latent_size`` latents (0: 10) under ``prior``."""
    build = BUILDERS[spec.architecture]
    return build(spec.latent_size or LATENTS, prior, event_shape)
