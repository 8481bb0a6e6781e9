"""From a run configuration to a :class:`~jvae.models.model.Model`: architecture and prior.

``build_model(config)`` reads ``config.architecture`` (``'iwae'``: the IWAE paper's chain with
``config.layers`` stochastic layers; ``'hvae'``: Tomczak & Welling's ladder), ``config.prior``
(``'sg'`` standard Gaussian, ``'mog'`` mixture of Gaussians, ``'vamp'`` VampPrior, ``'vamp-data'``
VampPrior with training images as pseudo-inputs), ``config.components`` and
``config.latent_size``. Unsupported combinations raise a one-line ``ValueError`` before
anything compiles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jvae.components.priors import GaussianMixture, Prior, StandardNormal, VampPrior
from jvae.models.hvae import tomczak_welling_hvae
from jvae.models.iwae_nets import iwae_mlp
from jvae.models.model import Model

ARCHITECTURES = ("iwae", "hvae")
PRIORS = ("sg", "mog", "vamp", "vamp-data")


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


def make_prior(
    name: str,
    latent_size: int,
    num_components: int,
    data_dim: int,
    train_images: np.ndarray | None = None,
    seed: int = 0,
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
    raise ValueError(f"unknown prior {name!r}; choose one of {PRIORS}.")


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
    )
    if config.architecture == "hvae":
        return tomczak_welling_hvae(prior, data_dim, image_shape=image_shape)
    if config.architecture == "iwae":
        return iwae_mlp(config.layers, data_dim, config.latent_size or None, prior, image_shape)
    raise ValueError(
        f"unknown architecture {config.architecture!r}; choose one of {ARCHITECTURES}."
    )
