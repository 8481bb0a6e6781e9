"""From a run configuration to a :class:`~jvae.models.model.Model`.

``build_model(config)`` reads:

- ``config.architecture``: ``'iwae'``, the IWAE paper's chain with ``config.layers`` stochastic
  layers; ``'hvae'``, Tomczak & Welling's ladder; ``'higgins-mlp'`` and ``'burgess-conv'``, the
  beta-VAE papers' dSprites nets (:mod:`jvae.models.dsprites_vae`);
- ``config.prior``: ``'sg'`` standard Gaussian, ``'mog'`` mixture of Gaussians, ``'vamp'``
  VampPrior, ``'vamp-data'`` VampPrior with training images as pseudo-inputs, ``'af'``
  autoregressive-flow prior; ``config.components`` and ``config.flow_steps``;
- ``config.posterior``: ``'gaussian'`` or ``'iaf'`` on the latent read from x;
- ``config.decoder``: ``'mlp'`` (the architecture's own), ``'conv'`` (the conv pair) or
  ``'pixelcnn'`` (conv encoders and a PixelCNN decoder of radius ``config.receptive_field``),
  with ``config.likelihood`` (:mod:`jvae.models.conv_models`); ``config.latent_size``.

Flows use MADEs of two hidden layers: 320 units (the IAF paper's MNIST width) beside the IWAE
MLP, 300 beside the HVAE's gated layers. Unsupported combinations raise a one-line
``ValueError`` before anything compiles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jvae.components.af_prior import AFPrior
from jvae.components.flows import AutoregressiveFlow
from jvae.components.iaf import IAFPosterior
from jvae.components.posteriors import Posterior
from jvae.components.priors import GaussianMixture, Prior, StandardNormal, VampPrior
from jvae.models.conv_models import conv_posterior, image_decoder
from jvae.models.dsprites_vae import DSPRITES_ARCHITECTURES, LATENTS, dsprites_model
from jvae.models.hvae import tomczak_welling_hvae
from jvae.models.iwae_nets import iwae_mlp
from jvae.models.model import Model
from jvae.nn.gated import GatedGaussianContext
from jvae.nn.mlp import GaussianContextMLP

ARCHITECTURES = ("iwae", "hvae", *DSPRITES_ARCHITECTURES)
PRIORS = ("sg", "mog", "vamp", "vamp-data", "af")
POSTERIORS = ("gaussian", "iaf")


def top_latent_size(config: Any) -> int:
    """The size of the latent under the prior."""
    if config.architecture == "hvae":
        return 40
    if config.architecture in DSPRITES_ARCHITECTURES:
        return config.latent_size or LATENTS
    if config.layers == 2:
        return 50
    return config.latent_size or 50


def choose_pseudo_inputs(train_images: np.ndarray, num_components: int, seed: int) -> np.ndarray:
    """``num_components`` distinct training images, chosen with ``seed`` (VampPrior "data")."""
    n = len(train_images)
    if num_components > n:
        raise ValueError(
            f"vamp-data needs --components <= the {n} training images; got {num_components}."
        )
    idx = np.random.default_rng(seed).choice(n, size=num_components, replace=False)
    return np.asarray(train_images[np.sort(idx)], np.float32)


def flow_width(architecture: str) -> int:
    """Hidden width of the MADEs (and the IAF context) beside an architecture."""
    return 300 if architecture == "hvae" else 320


def make_prior(
    name: str,
    latent_size: int,
    num_components: int,
    data_dim: int,
    train_images: np.ndarray | None = None,
    seed: int = 0,
    flow_steps: int = 2,
    flow_hidden: int = 320,
) -> Prior:
    """The prior called ``name`` over ``latent_size`` dimensions.

    ``'vamp-data'`` draws its pseudo-inputs from ``train_images``; without them it gets zeros
    of the right shape, a template for restoring a checkpoint (which holds the real ones).
    """
    if name == "sg":
        return StandardNormal(latent_size)
    if name == "mog":
        return GaussianMixture(latent_size, num_components)
    if name == "vamp":
        return VampPrior(latent_size, num_components, data_dim)
    if name == "vamp-data":
        if train_images is None:
            fixed = np.zeros((num_components, data_dim), np.float32)
        else:
            fixed = choose_pseudo_inputs(train_images, num_components, seed)
        return VampPrior(latent_size, num_components, data_dim, fixed_inputs=fixed)
    if name == "af":
        return AFPrior(AutoregressiveFlow(latent_size, flow_steps, (flow_hidden, flow_hidden)))
    raise ValueError(f"unknown prior {name!r}; choose one of {PRIORS}.")


def make_posterior(config: Any, data_dim: int) -> Posterior | None:
    """The IAF posterior of the latent read from x (``None``: the architecture's Gaussian)."""
    if config.posterior == "gaussian":
        return None
    if config.posterior != "iaf":
        raise ValueError(f"unknown posterior {config.posterior!r}; choose one of {POSTERIORS}.")
    h, latent = flow_width(config.architecture), top_latent_size(config)
    flow = AutoregressiveFlow(latent, config.flow_steps, (h, h), context_size=h)
    if config.architecture == "hvae":
        return IAFPosterior(
            GatedGaussianContext(((h, h),), (), latent, context=h), (data_dim,), flow
        )
    return IAFPosterior(GaussianContextMLP((200, 200), latent, context=h), (data_dim,), flow)


def build_model(
    config: Any,
    data_dim: int = 784,
    image_shape: tuple[int, int] = (28, 28),
    train_images: np.ndarray | None = None,
) -> Model:
    """The model a :class:`jvae.run.config.Config` describes (see the module docstring)."""
    prior = make_prior(
        config.prior,
        top_latent_size(config),
        config.components,
        data_dim,
        train_images,
        config.seed,
        config.flow_steps,
        flow_width(config.architecture),
    )
    if config.architecture in DSPRITES_ARCHITECTURES:
        return dsprites_model(config, prior, data_dim, image_shape)
    posterior = make_posterior(config, data_dim)
    likelihood, q_z1 = None, None
    if config.decoder != "mlp":  # the conv pair, or a PixelCNN decoder, with conv encoders
        z1 = 40 if config.architecture == "hvae" else top_latent_size(config)
        parents = (z1, 40) if config.architecture == "hvae" else (z1,)
        likelihood = image_decoder(
            config.decoder,
            config.likelihood,
            parents,
            image_shape,
            config.receptive_field,
            config.pixelcnn_channels,
        )
        if config.posterior == "gaussian":
            posterior = conv_posterior(parents[-1], image_shape)
            if config.architecture == "hvae":
                q_z1 = conv_posterior(z1, image_shape, (40,))
    if config.architecture == "hvae":
        return tomczak_welling_hvae(
            prior,
            data_dim,
            image_shape=image_shape,
            q_z2=posterior,
            q_z1=q_z1,
            likelihood=likelihood,
        )
    if config.architecture == "iwae":
        return iwae_mlp(
            config.layers,
            data_dim,
            config.latent_size or None,
            prior,
            image_shape,
            posterior,
            likelihood,
        )
    raise ValueError(
        f"unknown architecture {config.architecture!r}; choose one of {ARCHITECTURES}."
    )
