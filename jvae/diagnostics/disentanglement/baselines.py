"""Representations to score: raw pixels, PCA, and a model's posterior means (trained or at
initialisation), the baselines of Higgins et al. 2017, table 1."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jvae import compiler
from jvae.data.factors import FactorDataset
from jvae.diagnostics.disentanglement.common import (
    Representation,
    at_least,
    factor_sizes_of,
    sample_factors,
)
from jvae.models.model import Model


def raw_pixels(images: np.ndarray) -> np.ndarray:
    """The identity representation: ``[n, *event_shape]`` images flattened to ``[n, D]``
    float32 codes (a baseline)."""
    return np.asarray(images, np.float32).reshape(len(images), -1)


def _principal_axes(
    rng_key: jax.Array, x: jax.Array, num_components: int, power_iterations: int
) -> jax.Array:
    """``[num_components, D]`` leading right singular vectors of ``x[n, D]`` by randomised SVD
    (Halko, Martinsson & Tropp 2011, algorithm 4.4) with 10 extra columns."""
    width = min(num_components + 10, *x.shape)
    q, _ = jnp.linalg.qr(x @ jax.random.normal(rng_key, (x.shape[1], width)))
    for _ in range(power_iterations):
        q, _ = jnp.linalg.qr(x.T @ q)
        q, _ = jnp.linalg.qr(x @ q)
    _, _, vt = jnp.linalg.svd(q.T @ x, full_matrices=False)
    return vt[:num_components]


principal_axes_jit = compiler.jit(
    _principal_axes, static_argnames=("num_components", "power_iterations")
)


def pca_representation(
    seed: int,
    dataset: FactorDataset,
    num_components: int,
    num_points: int = 10_000,
    power_iterations: int = 4,
) -> Representation:
    r"""PCA codes fitted on ``num_points`` images of uniform factors (a baseline):
    :math:`r(x) = V_d^\top (x - \bar x)` with :math:`V_d` the top ``num_components``
    principal axes, by randomised SVD with ``power_iterations`` (Halko et al. 2011; an exact
    SVD of 10,000 dSprites images took 3 minutes on two busy CPU cores, this takes seconds)."""
    factor_sizes_of(dataset)
    at_least(1, num_components=num_components, power_iterations=power_iterations)
    at_least(2, num_points=num_points)
    images = raw_pixels(
        dataset.images(sample_factors(dataset, np.random.default_rng(seed), num_points))
    )
    if num_components > min(images.shape):
        raise ValueError(
            f"num_components must be <= min(num_points, D) = {min(images.shape)}; "
            f"got {num_components}."
        )
    mean = images.mean(axis=0, dtype=np.float64).astype(np.float32)
    axes = np.asarray(
        principal_axes_jit(
            jax.random.PRNGKey(seed),
            jnp.asarray(images - mean),
            num_components=num_components,
            power_iterations=power_iterations,
        )
    )
    offset = mean @ axes.T  # r(x) = x V - mean V: no centred copy of each batch
    return lambda x: raw_pixels(x) @ axes.T - offset


def posterior_mean_representation(model: Model, params: Any) -> Representation:
    r"""Codes :math:`E_q[z_1 \mid x]`, the mean of the model's first latent's Gaussian
    posterior (``model.posterior_distribution``), jitted; ``ValueError`` if that posterior is
    not a Gaussian of x alone."""
    means = compiler.jit(lambda p, x: model.posterior_distribution(p, x).mean)
    return lambda x: np.asarray(means(params, jnp.asarray(x, jnp.float32)))


def untrained_representation(seed: int, model: Model) -> Representation:
    """Posterior means of ``model`` at its initial params ``model.init(PRNGKey(seed))`` (a
    baseline)."""
    return posterior_mean_representation(model, compiler.jit(model.init)(jax.random.PRNGKey(seed)))
