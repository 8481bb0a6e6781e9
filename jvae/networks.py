"""Flax modules that map inputs to distribution parameters (the IWAE paper's MLPs)."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLP(nn.Module):
    """Dense layers with ``tanh`` between them; the last layer is linear."""

    features: Sequence[int]

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        for i, f in enumerate(self.features):
            h = nn.Dense(f, name=f"dense_{i}")(h)
            if i < len(self.features) - 1:
                h = jnp.tanh(h)
        return h


class GaussianMLP(nn.Module):
    r"""``h -> (mu, log sigma)`` through a tanh MLP and two linear heads.

    The IWAE paper's stochastic layers: :math:`\mu = W_\mu h' + b_\mu`,
    :math:`\log\sigma = W_\sigma h' + b_\sigma` with :math:`h'` the last hidden ``tanh`` layer.
    """

    hidden: Sequence[int]
    latent: int

    @nn.compact
    def __call__(self, h: jax.Array) -> tuple[jax.Array, jax.Array]:
        for i, f in enumerate(self.hidden):
            h = jnp.tanh(nn.Dense(f, name=f"dense_{i}")(h))
        mean = nn.Dense(self.latent, name="mean")(h)
        log_scale = nn.Dense(self.latent, name="log_scale")(h)
        return mean, log_scale


class BernoulliMLP(nn.Module):
    """``z -> logits`` of a factorised Bernoulli over ``out`` pixels, through a tanh MLP."""

    hidden: Sequence[int]
    out: int

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        return MLP((*self.hidden, self.out), name="mlp")(h)
