"""The IWAE paper's tanh MLPs, and :func:`apply_rows`, how every jvae network is applied."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


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


def apply_rows(module: nn.Module, params: Any, *inputs: jax.Array, input_rank: int = 1) -> Any:
    """``module`` applied to inputs ``[..., *event]`` (``event`` of ``input_rank`` axes: ``(d,)``
    for a vector, ``(H, W, C)`` for an image), each as one ``[rows, *event]`` batch.

    With one input, the K samples and the batch are stacked into the row dimension and the
    outputs reshaped back to ``[..., *out_shape]`` (``out_shape`` the module's output shape past
    its row axis: ``(d_out,)``, or ``(H, W, C)`` for an image decoder): the same values as
    applying the module directly, but XLA's CPU backend then uses plain ``[rows, d]`` matmuls
    forward and backward (the weight gradient contracts one axis instead of two, which avoided a
    transposed copy of every ``[K, B, d]`` cotangent). Modules of several inputs (whose leading
    shapes may differ, ``x [B, D]`` beside ``z [K, B, d]``) receive them as they are and
    broadcast themselves (:class:`jvae.nn.gated.GatedNet`).
    """
    if len(inputs) != 1:
        return module.apply({"params": params}, *inputs)
    (h,) = inputs
    lead, event = h.shape[: h.ndim - input_rank], h.shape[h.ndim - input_rank :]
    out = module.apply({"params": params}, jnp.reshape(h, (-1, *event)))
    return jax.tree.map(lambda o: jnp.reshape(o, (*lead, *o.shape[1:])), out)


def as_shape(size: int | Sequence[int]) -> tuple[int, ...]:
    """An input's shape past its row axis: ``d -> (d,)``; a shape stays as it is."""
    return (int(size),) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)


def dummy_inputs(input_sizes: Sequence[int | Sequence[int]]) -> list[jax.Array]:
    """One zero row ``[1, *shape]`` per input (:func:`as_shape`), to initialise a module."""
    return [jnp.zeros((1, *as_shape(s)), jnp.float32) for s in input_sizes]


def apply_parts(
    module: nn.Module,
    params: Any,
    input_sizes: Sequence[int | Sequence[int]],
    inputs: Sequence[jax.Array],
) -> Any:
    """:func:`apply_rows` with the event rank of a single input read from its declared shape."""
    rank = len(as_shape(input_sizes[0])) if len(inputs) == 1 else 1
    return apply_rows(module, params, *inputs, input_rank=rank)


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
