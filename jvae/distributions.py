"""Small distribution pytrees and densities: diagonal Gaussian, its mixtures, Bernoulli logits.

Densities sum over the last (event) axis and keep every leading axis, so a ``[K, B, D]`` sample
gives ``[K, B]`` log-densities.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

_LOG_2PI = math.log(2.0 * math.pi)


class DiagGaussian(NamedTuple):
    r"""Diagonal Gaussian :math:`\mathcal N(\mu, \mathrm{diag}(\sigma^2))` over the last axis.

    Attributes:
      mean: :math:`\mu`, shape ``[..., D]``.
      log_scale: :math:`\log\sigma`, same shape.
    """

    mean: jax.Array
    log_scale: jax.Array

    def sample(self, rng_key: jax.Array, num_samples: int) -> jax.Array:
        r"""Reparameterised draws :math:`z = \mu + \sigma \odot \epsilon`, shaped
        ``[num_samples, ..., D]``."""
        eps = jax.random.normal(rng_key, (num_samples, *self.mean.shape), self.mean.dtype)
        return self.mean + jnp.exp(self.log_scale) * eps

    def draw(self, rng_key: jax.Array) -> jax.Array:
        r"""One reparameterised draw per distribution, shaped like ``mean``."""
        eps = jax.random.normal(rng_key, self.mean.shape, self.mean.dtype)
        return self.mean + jnp.exp(self.log_scale) * eps

    def log_prob(self, z: jax.Array) -> jax.Array:
        r""":math:`\sum_d \log \mathcal N(z_d; \mu_d, \sigma_d^2)`, summed over the last axis."""
        return jnp.sum(self.log_prob_per_dim(z), axis=-1)

    def log_prob_per_dim(self, z: jax.Array) -> jax.Array:
        r""":math:`-\tfrac12 \log 2\pi - \log\sigma_d - \tfrac12 ((z_d - \mu_d)/\sigma_d)^2`."""
        u = (z - self.mean) * jnp.exp(-self.log_scale)
        return -0.5 * _LOG_2PI - self.log_scale - 0.5 * jnp.square(u)

    def kl_standard_normal(self) -> jax.Array:
        r""":math:`\mathrm{KL}(q \,\|\, \mathcal N(0, I)) = \tfrac12\sum_d (\mu_d^2 + \sigma_d^2 - 1
        - 2\log\sigma_d)`, summed over the last axis."""
        return 0.5 * jnp.sum(
            jnp.square(self.mean) + jnp.exp(2.0 * self.log_scale) - 1.0 - 2.0 * self.log_scale,
            axis=-1,
        )


def standard_normal_log_prob(z: jax.Array) -> jax.Array:
    r""":math:`\log \mathcal N(z; 0, I) = -\tfrac12 \sum_d (z_d^2 + \log 2\pi)`, last axis."""
    return -0.5 * jnp.sum(jnp.square(z) + _LOG_2PI, axis=-1)


def bernoulli_log_prob(logits: jax.Array, x: jax.Array) -> jax.Array:
    r"""Bernoulli log-likelihood from logits, summed over the last axis.

    .. math:: \log p(x \mid \ell) = \sum_d x_d \ell_d - \mathrm{softplus}(\ell_d)

    ``x`` may be binary or a probability (the cross-entropy), and broadcasts against ``logits``
    (``x`` of shape ``[B, D]`` against logits ``[K, B, D]``).
    """
    return jnp.sum(x * logits - jax.nn.softplus(logits), axis=-1)


def diag_gaussian_mixture_log_prob(
    z: jax.Array, means: jax.Array, log_scales: jax.Array, log_mix: jax.Array
) -> jax.Array:
    r"""Log-density of a mixture of ``C`` diagonal Gaussians, over the last axis of ``z``.

    .. math:: \log \sum_{c=1}^C \exp\Big(\underbrace{[z \odot z,\ z]}_{[N, 2D]}
              \underbrace{\begin{bmatrix} -\tfrac12 \sigma_c^{-2} \\ \mu_c \odot
              \sigma_c^{-2} \end{bmatrix}}_{[2D, C]} + b_c\Big), \quad
              b_c = \log\pi_c - \tfrac D2 \log 2\pi - \sum_d \log\sigma_{cd}
              - \tfrac12 \sum_d \mu_{cd}^2 \sigma_{cd}^{-2}

    The squared distances :math:`\sum_d (z_d - \mu_{cd})^2 / \sigma_{cd}^2` expanded into
    one ``[N, 2D] x [2D, C]`` matrix product (at full float32 precision on every backend)
    and a bias, so memory is ``O(N C)`` (never an ``[N, C, D]`` array) and the ``[N, C]``
    table is written once; forward and backward this ran 1.9x as fast as two products plus
    separate terms (2-core CPU, N=5000, C=500, D=50).

    Args:
      z: points, ``[..., D]``.
      means: :math:`\mu`, ``[C, D]``.
      log_scales: :math:`\log\sigma`, ``[C, D]``.
      log_mix: :math:`\log\pi_c`, ``[C]`` (normalised: ``logsumexp(log_mix) == 0``).

    Returns:
      ``[...]``.

    >>> import jax.numpy as jnp
    >>> z = jnp.zeros((1, 2))
    >>> one = diag_gaussian_mixture_log_prob(z, jnp.zeros((1, 2)), jnp.zeros((1, 2)),
    ...                                      jnp.zeros(1))
    >>> bool(jnp.allclose(one, standard_normal_log_prob(z)))
    True
    """
    lead, d = z.shape[:-1], z.shape[-1]
    # Centred on the precision-weighted mean of the means (any reference leaves the value
    # unchanged): float32 cancellation costs about eps |z - r|^2 / sigma^2, not eps |z|^2 /
    # sigma^2, which matters for sharp components far from the origin.
    precision = jnp.exp(-2.0 * log_scales)
    reference = jax.lax.stop_gradient(
        jnp.sum(means * precision, axis=0) / jnp.sum(precision, axis=0)
    )
    rows = jnp.reshape(z, (-1, d)) - reference
    means = means - reference
    features = jnp.concatenate([jnp.square(rows), rows], axis=-1)
    weights = jnp.concatenate([-0.5 * precision, means * precision], axis=-1)
    bias = (
        log_mix
        - 0.5 * d * _LOG_2PI
        - jnp.sum(log_scales, axis=-1)
        - 0.5 * jnp.sum(jnp.square(means) * precision, axis=-1)
    )
    components = jnp.dot(features, weights.T, precision=jax.lax.Precision.HIGHEST) + bias
    return jnp.reshape(jax.nn.logsumexp(components, axis=-1), lead)
