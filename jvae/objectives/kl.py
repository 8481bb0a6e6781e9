r"""The ELBO's two terms per example: the reconstruction and the KL, analytic where possible.

.. math:: \mathcal L_{\mathrm{ELBO}}(x) = \underbrace{E_q \log p(x \mid z)}_{\text{reconstruction}}
          - \underbrace{\mathrm{KL}(q(z \mid x) \,\|\, p(z))}_{\text{KL}}

From K draws the reconstruction is :math:`\frac1K \sum_k \log p(x \mid z_k)`. The KL is the
closed form :math:`\sum_d \tfrac12 (\mu_d^2 + \sigma_d^2 - 1 - 2 \log\sigma_d)` when the model
has one latent layer whose posterior is a diagonal Gaussian of x alone and whose prior is
:math:`\mathcal N(0, I)` (:func:`analytic_kl`, which also gives the KL per dimension); else the
Monte Carlo estimate :math:`\frac1K \sum_k \log q(z_k \mid x) - \log p(z_k)` from the log-weight
terms, whose mean is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jvae.bounds import LogWeights, check_log_weights
from jvae.components.posteriors import GaussianPosterior
from jvae.components.priors import StandardNormal
from jvae.distributions import DiagGaussian
from jvae.models.model import DATA, Model

KLPerDim = Callable[[Any, jax.Array], jax.Array]


class KLTerms(NamedTuple):
    """The ELBO's terms per example.

    Attributes:
      reconstruction: :math:`\\frac1K \\sum_k \\log p(x \\mid z_k)`, ``[B]``.
      kl: :math:`\\mathrm{KL}(q \\| p)`, analytic or Monte Carlo, ``[B]``.
      kl_per_dim: the analytic KL of each latent dimension, ``[B, D]`` (it sums to ``kl``), or
        ``None`` when the KL does not factorise over dimensions in closed form.
    """

    reconstruction: jax.Array
    kl: jax.Array
    kl_per_dim: jax.Array | None = None

    @property
    def elbo(self) -> jax.Array:
        """``reconstruction - kl``, ``[B]``."""
        return self.reconstruction - self.kl


def gaussian_kl_per_dim(q: DiagGaussian) -> jax.Array:
    r""":math:`\mathrm{KL}(\mathcal N(\mu_d, \sigma_d^2) \,\|\, \mathcal N(0, 1)) =
    \tfrac12 (\mu_d^2 + \sigma_d^2 - 1 - 2 \log\sigma_d)`, per dimension (``[..., D]``).

    >>> import jax.numpy as jnp
    >>> gaussian_kl_per_dim(DiagGaussian(jnp.array([0.0, 1.0]), jnp.zeros(2))).tolist()
    [0.0, 0.5]
    """
    return 0.5 * (jnp.square(q.mean) + jnp.exp(2.0 * q.log_scale) - 1.0 - 2.0 * q.log_scale)


def analytic_kl(model: Model) -> KLPerDim | None:
    r"""``(params, x[B, D_x]) -> [B, D]``, the closed-form KL per latent dimension, when the
    model has a single latent with a diagonal-Gaussian posterior of x alone and a standard
    normal prior; ``None`` otherwise (hierarchies, flows, learned priors)."""
    parts = model.parts
    if parts is None or len(parts.latents) != 1:
        return None
    latent = parts.latents[0]
    gaussian = isinstance(latent.posterior, GaussianPosterior)
    if not (gaussian and latent.posterior_parents == (DATA,)):
        return None
    if not isinstance(parts.prior, StandardNormal):
        return None
    return lambda params, x: gaussian_kl_per_dim(model.posterior_distribution(params, x))


def kl_terms(terms: LogWeights, kl_per_dim: jax.Array | None = None) -> KLTerms:
    r"""The :class:`KLTerms` of ``[K, B]`` log-weight terms: the reconstruction averaged over
    the K draws, and the KL summed from ``kl_per_dim`` ``[B, D]`` when given, else
    :math:`\frac1K \sum_k \log q(z_k \mid x) - \log p(z_k)`."""
    check_log_weights(terms.total, "the log-weight terms")
    batch = terms.log_likelihood.shape[1]
    if kl_per_dim is not None and (jnp.ndim(kl_per_dim) != 2 or kl_per_dim.shape[0] != batch):
        raise ValueError(
            f"kl_per_dim must be [B, D] with B = {batch}; got shape {jnp.shape(kl_per_dim)}."
        )
    reconstruction = jnp.mean(terms.log_likelihood, axis=0)
    if kl_per_dim is None:
        kl = jnp.mean(terms.log_posterior - terms.log_prior, axis=0)
    else:
        kl = jnp.sum(kl_per_dim, axis=-1)
    return KLTerms(reconstruction, kl, kl_per_dim)
