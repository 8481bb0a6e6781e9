r"""Conditional diagonal Gaussians :math:`\mathcal N(z; \mu(u), \mathrm{diag}\,\sigma^2(u))`.

The shared building block of amortised posteriors :math:`q(z_l \mid \cdot)` and of the
hierarchy's generative conditionals :math:`p(z_l \mid z_{l+1})`: a Flax module maps the parent
values ``u`` (one array per parent) to :math:`(\mu, \log\sigma)`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax

from jvae.distributions import DiagGaussian
from jvae.nn.mlp import apply_parts, dummy_inputs

Params = Any


@dataclasses.dataclass(frozen=True)
class GaussianConditional:
    """A diagonal Gaussian whose parameters a network computes from its parents.

    Attributes:
      module: ``(*parents) -> (mean, log_scale)``, each ``[..., latent_size]``.
      input_sizes: each parent's size (its last axis), or its shape past the row axis
        (``(H, W, C)`` for an image read by a conv net); used to initialise ``module``.
      latent_size: dimension of the variable.
    """

    module: nn.Module
    input_sizes: tuple[int | tuple[int, ...], ...]
    latent_size: int

    def init(self, rng_key: jax.Array) -> Params:
        return self.module.init(rng_key, *dummy_inputs(self.input_sizes))["params"]

    def distribution(self, params: Params, inputs: tuple[jax.Array, ...]) -> DiagGaussian:
        """The Gaussian given parent values ``inputs`` (leading shapes broadcast)."""
        return DiagGaussian(*apply_parts(self.module, params, self.input_sizes, inputs))
