"""The IWAE paper's networks (Burda et al. 2015, section 5) as a chain of Gaussian layers.

.. math::
    q(z_{1:L} \\mid x) = q(z_1 \\mid x) \\prod_{l>1} q(z_l \\mid z_{l-1}), \\qquad
    p(x, z_{1:L}) = p(x \\mid z_1) \\prod_{l<L} p(z_l \\mid z_{l+1})\\, p(z_L)

Params keep the first wave's names (``encoder/q{l}``, ``decoder/p0`` for the likelihood,
``decoder/p{l}`` for :math:`p(z_{l-1} \\mid z_l)`), so its checkpoints load unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from jvae.components.conditionals import GaussianConditional
from jvae.components.likelihoods import Likelihood
from jvae.components.posteriors import GaussianPosterior, Posterior
from jvae.components.priors import Prior, StandardNormal
from jvae.models.dense_decoders import dense_likelihood
from jvae.models.model import DATA, Latent, Model, ModelParts, assemble
from jvae.nn.mlp import GaussianMLP, as_shape


def chain_vae(
    event_shape: int | Sequence[int],
    layers: Sequence[tuple[Sequence[int], int]],
    prior: Prior | None = None,
    q_z1: Posterior | None = None,
    likelihood: Likelihood | None = None,
    likelihood_kind: str = "bernoulli",
) -> Model:
    """A chain of ``L`` diagonal-Gaussian stochastic layers with an MLP decoder.

    Each ``(hidden, latent)`` in ``layers`` gives the tanh widths and the latent size of one
    stochastic layer (bottom first); the generative networks mirror them. ``prior`` (default
    standard normal) is over the top layer; ``q_z1`` replaces the Gaussian posterior of the
    first layer (an IAF or a conv posterior) and ``likelihood`` the MLP decoder of x given
    z1 (a conv or PixelCNN decoder, :mod:`jvae.models.conv_models`); without one, the MLP
    decoder's head serves ``likelihood_kind`` (:func:`jvae.models.dense_decoders.dense_likelihood`:
    Bernoulli, Gaussian, discretised logistic or logistic mixture). The MLPs read x flattened,
    ``[..., prod(event_shape)]``.
    """
    event_shape = as_shape(event_shape)
    data_dim = math.prod(event_shape)
    if not layers:
        raise ValueError("chain_vae needs at least one stochastic layer.")
    sizes = [int(latent) for _, latent in layers]
    inputs = (data_dim, *sizes[:-1])
    names = [f"z{l + 1}" for l in range(len(layers))]
    latents = []
    for l, (hidden, latent) in enumerate(layers):
        posterior = GaussianPosterior(
            GaussianConditional(GaussianMLP(tuple(hidden), latent), (inputs[l],), latent)
        )
        if l == 0 and q_z1 is not None:
            if q_z1.latent_size != latent:
                raise ValueError(f"q_z1 has {q_z1.latent_size} dimensions; z1 has {latent}.")
            posterior = q_z1
        parent = DATA if l == 0 else names[l - 1]
        conditional = None
        if l < len(layers) - 1:
            hidden_up = tuple(reversed(layers[l + 1][0]))
            conditional = GaussianConditional(
                GaussianMLP(hidden_up, latent), (sizes[l + 1],), latent
            )
        latents.append(
            Latent(
                names[l],
                posterior,
                (parent,),
                f"q{l}",
                conditional,
                (names[l + 1],) if conditional else (),
                f"p{l + 1}" if conditional else "",
            )
        )
    if likelihood is None:
        hidden = tuple(reversed(layers[0][0]))
        likelihood = dense_likelihood(likelihood_kind, hidden, sizes[0], event_shape)
    parts = ModelParts(
        latents=tuple(latents),
        inference_order=tuple(names),
        prior=prior or StandardNormal(sizes[-1]),
        likelihood=likelihood,
        likelihood_parents=(names[0],),
        likelihood_key="p0",
    )
    return assemble(parts, event_shape)


def iwae_mlp(
    layers: int = 1,
    event_shape: int | Sequence[int] = 784,
    latent_size: int | None = None,
    prior: Prior | None = None,
    q_z1: Posterior | None = None,
    likelihood: Likelihood | None = None,
    likelihood_kind: str = "bernoulli",
) -> Model:
    """The IWAE paper's networks.

    1 stochastic layer: 784-200-200-50 (tanh), mirrored decoder (``latent_size`` replaces the
    50, e.g. 2, 10 or 20 for the ELBO-surgery table). 2 stochastic layers: 784-200-200-100 then
    100-100-100-50, mirrored decoders (the paper's section 5 and its code's ``experiments.py``:
    200-unit layers between x and z1, 100-unit layers between z1 and z2). ``q_z1`` replaces
    the Gaussian posterior of the 1-layer model (an IAF posterior on the same encoder, see
    :func:`jvae.models.build.make_posterior`). ``likelihood`` replaces the MLP decoder;
    ``likelihood_kind`` chooses its head (:func:`chain_vae`).
    """
    if layers == 1:
        spec = [((200, 200), latent_size or 50)]
    elif layers == 2:
        if latent_size is not None or q_z1 is not None or likelihood is not None:
            raise ValueError(
                "latent_size, an IAF posterior (q_z1) and a conv or PixelCNN likelihood apply to "
                "the 1-layer model only."
            )
        spec = [((200, 200), 100), ((100, 100), 50)]
    else:
        raise ValueError(f"the IWAE paper's networks have 1 or 2 stochastic layers; got {layers}.")
    return chain_vae(event_shape, spec, prior, q_z1, likelihood, likelihood_kind)
