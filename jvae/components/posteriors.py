r"""Amortised posteriors :math:`q(z \mid \text{parents})`: draw samples with their log-density.

A posterior is any object with

- ``init(rng_key) -> params``;
- ``sample(params, rng_key, inputs, num_samples=None, stop_q=False) -> (z, log_q)``: with
  ``num_samples`` K it draws ``[K, *lead, D]`` from inputs with leading shape ``lead`` (the
  first stochastic layer, whose only parent is x); with ``None``, one draw per row of inputs
  that already carry the sample axis. ``log_q`` is ``[K, *lead]``. With ``stop_q`` the
  log-density is evaluated with the posterior's params under ``stop_gradient`` while ``z`` keeps
  its reparameterised path (the STL and DReG estimators; Roeder et al. 2017);
- ``mean(params, rng_key, inputs) -> [..., D]``: :math:`E_q[z]` (exact or estimated);
- ``latent_size``;
- ``input_sizes``: each parent's size, or for x the shape its network reads (the event shape,
  or its flattening ``(D,)`` for an MLP; the model reshapes x to it);

and, when the posterior is a diagonal Gaussian, ``distribution(params, inputs)``, which the
VampPrior and the ELBO-surgery diagnostics need.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import jax

from jvae.components.conditionals import GaussianConditional
from jvae.distributions import DiagGaussian

Params = Any


class Posterior(Protocol):
    latent_size: int

    def init(self, rng_key: jax.Array) -> Params: ...

    def sample(
        self,
        params: Params,
        rng_key: jax.Array,
        inputs: tuple[jax.Array, ...],
        num_samples: int | None = None,
        stop_q: bool = False,
    ) -> tuple[jax.Array, jax.Array]: ...

    def mean(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array: ...


@dataclasses.dataclass(frozen=True)
class GaussianPosterior:
    r""":math:`q(z \mid u) = \mathcal N(\mu(u), \mathrm{diag}\,\sigma^2(u))`, reparameterised:
    :math:`z = \mu + \sigma \odot \epsilon`."""

    conditional: GaussianConditional

    @property
    def latent_size(self) -> int:
        return self.conditional.latent_size

    @property
    def input_sizes(self) -> tuple[int | tuple[int, ...], ...]:
        """Each parent's size or shape, as its network reads it."""
        return self.conditional.input_sizes

    def init(self, rng_key: jax.Array) -> Params:
        return self.conditional.init(rng_key)

    def distribution(self, params: Params, inputs: tuple[jax.Array, ...]) -> DiagGaussian:
        return self.conditional.distribution(params, inputs)

    def sample(
        self,
        params: Params,
        rng_key: jax.Array,
        inputs: tuple[jax.Array, ...],
        num_samples: int | None = None,
        stop_q: bool = False,
    ) -> tuple[jax.Array, jax.Array]:
        q = self.distribution(params, inputs)
        z = q.draw(rng_key) if num_samples is None else q.sample(rng_key, num_samples)
        if stop_q:
            # Same values (XLA shares the forward computation); no gradient to the params
            # through log q, while z and the inputs keep theirs.
            q = self.distribution(jax.lax.stop_gradient(params), inputs)
        return z, q.log_prob(z)

    def mean(self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return self.distribution(params, inputs).mean
