"""From a run configuration to a :class:`~jvae.models.model.Model`: architecture and prior.

``build_model(config)`` reads ``config.architecture`` (``'iwae'``: the IWAE paper's chain with
``config.layers`` stochastic layers; ``'hvae'``: Tomczak & Welling's ladder), ``config.prior``
(``'sg'`` standard Gaussian, ``'mog'`` mixture of Gaussians, ``'vamp'`` VampPrior, ``'vamp-data'``
VampPrior with training images as pseudo-inputs, ``'af'`` autoregressive-flow prior),
``config.components``, ``config.latent_size``, ``config.posterior`` (``'gaussian'`` or ``'iaf'``
on the latent read from x) and ``config.flow_steps``. Flows use MADEs of two hidden layers as
wide as the architecture's hidden layers' scale: 320 units (the IAF paper's MNIST width) beside
the IWAE MLP, 300 beside the HVAE's gated layers. Unsupported combinations raise a one-line
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
from jvae.models.hvae import tomczak_welling_hvae
from jvae.models.iwae_nets import iwae_mlp
from jvae.models.model import Model
from jvae.nn.gated import GatedGaussianContext
from jvae.nn.mlp import GaussianContextMLP

ARCHITECTURES = ("iwae", "hvae")
PRIORS = ("sg", "mog", "vamp", "vamp-data", "af")
POSTERIORS = ("gaussian", "iaf")


def top_latent_size(config: Any) -> int:
    """The size of the latent under the prior."""
    if config.architecture == "hvae":
        return 40
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
    posterior = make_posterior(config, data_dim)
    if config.architecture == "hvae":
        return tomczak_welling_hvae(prior, data_dim, image_shape=image_shape, q_z2=posterior)
    if config.architecture == "iwae":
        return iwae_mlp(
            config.layers, data_dim, config.latent_size or None, prior, image_shape, posterior
        )
    raise ValueError(
        f"unknown architecture {config.architecture!r}; choose one of {ARCHITECTURES}."
    )
