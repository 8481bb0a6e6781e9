r"""Likelihoods :math:`p(x \mid \text{parents})` of the data given latent values.

A likelihood is any object with ``data_dim``, ``init(rng_key) -> params``,
``log_prob(params, x[B, D], inputs) -> [K, B]`` (``x`` broadcast against the inputs' sample
axis; an autoregressive likelihood also reads ``x`` itself, by teacher forcing),
``sample(params, rng_key, inputs) -> [..., D]`` and ``mean(params, rng_key, inputs) ->
[..., D]``: the image to show for given latents, the mean where it is cheap, a sample where
the mean is intractable (autoregressive decoders).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import flax.linen as nn
import jax
import jax.numpy as jnp

from jvae.distributions import bernoulli_log_prob
from jvae.nn.mlp import apply_rows

Params = Any


class Likelihood(Protocol):
    data_dim: int

    def init(self, rng_key: jax.Array) -> Params: ...

    def log_prob(
        self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array: ...

    def sample(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array: ...

    def mean(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array: ...


@dataclasses.dataclass(frozen=True)
class Bernoulli:
    r"""Factorised Bernoulli pixels, :math:`\log p(x \mid u) = \sum_d x_d \ell_d -
    \mathrm{softplus}(\ell_d)` with logits :math:`\ell = f(u)` from a network of the parents.

    Attributes:
      module: ``(*parents) -> logits [..., data_dim]``.
      input_sizes: the size of each parent's last axis.
      data_dim: number of pixels.
    """

    module: nn.Module
    input_sizes: tuple[int, ...]
    data_dim: int

    def init(self, rng_key: jax.Array) -> Params:
        dummies = [jnp.zeros((1, d), jnp.float32) for d in self.input_sizes]
        return self.module.init(rng_key, *dummies)["params"]

    def logits(self, params: Params, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return apply_rows(self.module, params, *inputs)

    def log_prob(self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return bernoulli_log_prob(self.logits(params, inputs), x)

    def sample(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array:
        probs = self.mean(params, rng_key, inputs)
        return jax.random.bernoulli(rng_key, probs).astype(probs.dtype)

    def mean(self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return jax.nn.sigmoid(self.logits(params, inputs))
