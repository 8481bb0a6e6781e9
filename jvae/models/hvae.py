r"""The hierarchical VAE of Tomczak & Welling (2018), "VAE with a VampPrior", L = 2.

A ladder whose top latent is inferred from x alone, so a VampPrior can sit on it:

.. math::
    q(z_2 \mid x)\, q(z_1 \mid x, z_2), \qquad p(z_2)\, p(z_1 \mid z_2)\, p(x \mid z_1, z_2)

Every network is made of gated dense layers of 300 units (:mod:`jvae.nn.gated`), He-initialised,
with log-variances clipped to [-6, 2]; z1 and z2 have 40 dimensions. As in the authors'
``HVAE_2level.py``: :math:`q(z_2|x)` and :math:`p(z_1|z_2)` have two gated layers; :math:`q(z_1 |
x, z_2)` and :math:`p(x | z_1, z_2)` one gated layer per input, concatenated, then one joint
gated layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from jvae.components.conditionals import GaussianConditional
from jvae.components.likelihoods import Bernoulli, Likelihood
from jvae.components.posteriors import GaussianPosterior, Posterior
from jvae.components.priors import Prior, StandardNormal
from jvae.models.model import DATA, Latent, Model, ModelParts, assemble
from jvae.nn.gated import GatedBernoulli, GatedGaussian
from jvae.nn.mlp import as_shape


def tomczak_welling_hvae(
    prior: Prior | None = None,
    event_shape: int | Sequence[int] = 784,
    z1: int = 40,
    z2: int = 40,
    hidden: int = 300,
    q_z2: Posterior | None = None,
    q_z1: Posterior | None = None,
    likelihood: Likelihood | None = None,
) -> Model:
    """HVAE (L=2) with ``prior`` over z2 (default standard normal). ``q_z2``, ``q_z1`` and
    ``likelihood`` replace the gated networks of :math:`q(z_2|x)`, :math:`q(z_1|x, z_2)` and
    :math:`p(x|z_1, z_2)`: an IAF posterior, the ConvHVAE's conv encoders and decoder, or the
    PixelHVAE's PixelCNN decoder (:mod:`jvae.models.conv_models`). The gated networks read x
    flattened, ``[..., prod(event_shape)]``."""
    h, event_shape = hidden, as_shape(event_shape)
    data_dim = math.prod(event_shape)

    def gaussian(branches, joint, latent, sizes):
        return GaussianConditional(GatedGaussian(branches, joint, latent), sizes, latent)

    q_z2 = q_z2 or GaussianPosterior(gaussian(((h, h),), (), z2, (data_dim,)))
    q_z1 = q_z1 or GaussianPosterior(gaussian(((h,), (h,)), (h,), z1, (data_dim, z2)))
    p_z1 = gaussian(((h, h),), (), z1, (z2,))
    decoder = GatedBernoulli(((h,), (h,)), (h,), data_dim)
    p_x = likelihood or Bernoulli(decoder, (z1, z2), event_shape)
    parts = ModelParts(
        latents=(
            Latent("z1", q_z1, (DATA, "z2"), "q_z1", p_z1, ("z2",), "p_z1"),
            Latent("z2", q_z2, (DATA,), "q_z2"),
        ),
        inference_order=("z2", "z1"),
        prior=prior or StandardNormal(z2),
        likelihood=p_x,
        likelihood_parents=("z1", "z2"),
        likelihood_key="p_x",
    )
    return assemble(parts, event_shape)
