"""The IWAE paper's tanh MLPs, and :func:`apply_rows`, how every jvae network is applied."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def apply_rows(module: nn.Module, params: Any, *inputs: jax.Array) -> Any:
    """``module`` applied to inputs ``[..., d]``, each as one ``[rows, d]`` matrix.

    With one input, the K samples and the batch are stacked into the matmul's row dimension
    and the outputs reshaped back to ``[..., d_out]``: the same values as applying the module
    directly, but XLA's CPU backend then uses plain ``[rows, d]`` matmuls forward and backward
    (the weight gradient contracts one axis instead of two, which avoided a transposed copy of
    every ``[K, B, d]`` cotangent). Modules of several inputs (whose leading shapes may differ,
    ``x [B, D]`` beside ``z [K, B, d]``) receive them as they are and broadcast themselves
    (:class:`jvae.nn.gated.GatedNet`).
    """
    if len(inputs) != 1:
        return module.apply({"params": params}, *inputs)
    (h,) = inputs
    lead = h.shape[:-1]
    out = module.apply({"params": params}, jnp.reshape(h, (-1, h.shape[-1])))
    return jax.tree.map(lambda o: jnp.reshape(o, (*lead, o.shape[-1])), out)


def flatten_rows(h: jax.Array, fn: Any) -> jax.Array:
    """``fn`` of ``h[..., d]`` evaluated on ``[rows, d]`` and reshaped back (see
    :func:`apply_rows`)."""
    lead = h.shape[:-1]
    out = fn(jnp.reshape(h, (-1, h.shape[-1])))
    return jnp.reshape(out, (*lead, out.shape[-1]))


class GaussianContextMLP(nn.Module):
    r"""``h -> (mu, log sigma, context)``: :class:`GaussianMLP` with a third linear head.

    The IAF encoder (Kingma et al. 2016, Algorithm 1): besides :math:`(\mu, \log\sigma)` it
    outputs a context vector that every IAF step's MADE reads. Parameter names extend
    :class:`GaussianMLP`'s (``dense_i``, ``mean``, ``log_scale``) by ``context``.
    """

    hidden: Sequence[int]
    latent: int
    context: int

    @nn.compact
    def __call__(self, h: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        for i, f in enumerate(self.hidden):
            h = jnp.tanh(nn.Dense(f, name=f"dense_{i}")(h))
        mean = nn.Dense(self.latent, name="mean")(h)
        log_scale = nn.Dense(self.latent, name="log_scale")(h)
        return mean, log_scale, nn.Dense(self.context, name="context")(h)
