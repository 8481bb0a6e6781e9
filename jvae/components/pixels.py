r"""One pixel's distribution given a network's outputs: Bernoulli, or discretised logistic over
8-bit grey levels; bits per dimension; a decoder's raw outputs in the event's layout.

8-bit data arrive as ``x = v / 256`` (the classic ``mnist.pkl.gz``) or ``v / 255``, with levels
:math:`v \in \{0, \dots, 255\}` recovered as :math:`\min(\lfloor 256 x \rfloor, 255)`. Level
:math:`v` is the bin :math:`[v/256, (v+1)/256)` of a logistic with location :math:`\mu` and scale
:math:`s` (as in the VampPrior authors' ``log_Logistic_256``), and the two edge bins take the
tails (as in PixelCNN++, Salimans et al. 2017), so the 256 probabilities sum to one:

.. math::
    P(v) = \begin{cases}
      \sigma\big(\tfrac{1/256 - \mu}{s}\big) & v = 0 \\
      \sigma\big(\tfrac{(v+1)/256 - \mu}{s}\big) - \sigma\big(\tfrac{v/256 - \mu}{s}\big)
        & 0 < v < 255 \\
      1 - \sigma\big(\tfrac{255/256 - \mu}{s}\big) & v = 255.
    \end{cases}

The middle case is evaluated as :math:`\log\sigma(b) + \log\sigma(-a) + \log(e^{a-b} - 1)` with
:math:`a, b` the upper and lower standardised edges, which loses no precision in the tails.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Protocol

import flax.linen as nn
import jax
import jax.numpy as jnp

from jvae.nn.mlp import apply_rows

NUM_LEVELS = 256


class PixelModel(Protocol):
    """A distribution of one pixel given ``channels`` network outputs per pixel."""

    channels: int

    def log_prob(self, out: jax.Array, x: jax.Array) -> jax.Array: ...

    def sample(self, rng_key: jax.Array, out: jax.Array) -> jax.Array: ...


def levels(x: jax.Array) -> jax.Array:
    r"""Grey levels :math:`\min(\lfloor 256 x \rfloor, 255)` of ``x`` in [0, 1], as floats."""
    return jnp.clip(jnp.floor(x * NUM_LEVELS), 0, NUM_LEVELS - 1)


def discretized_logistic_log_prob(x: jax.Array, loc: jax.Array, log_scale: jax.Array) -> jax.Array:
    r""":math:`\log P(v)` per pixel (module docstring) for ``x`` in [0, 1]; shapes broadcast.

    >>> p = jnp.exp(discretized_logistic_log_prob(jnp.arange(256) / 256, 0.5, -2.0))
    >>> print(f"{float(p.sum()):.4f}")
    1.0000
    """
    v = levels(x)
    inv_scale = jnp.exp(-log_scale)
    upper = inv_scale * ((v + 1.0) / NUM_LEVELS - loc)
    lower = inv_scale * (v / NUM_LEVELS - loc)
    width = inv_scale / NUM_LEVELS
    # log(e^w - 1) = w + log(1 - e^-w), finite for every w > 0.
    log_middle = (
        -jax.nn.softplus(-lower) - jax.nn.softplus(upper) + width + jnp.log(-jnp.expm1(-width))
    )
    log_first = -jax.nn.softplus(-upper)
    log_last = -jax.nn.softplus(lower)
    return jnp.where(v == 0, log_first, jnp.where(v == NUM_LEVELS - 1, log_last, log_middle))


def discretized_logistic_sample(
    rng_key: jax.Array, loc: jax.Array, log_scale: jax.Array
) -> jax.Array:
    r"""Exact draws ``v / 256``: a logistic draw :math:`y = \mu + s \log\frac{u}{1-u}` falls in
    bin :math:`\min(\max(\lfloor 256 y \rfloor, 0), 255)`."""
    shape = jnp.broadcast_shapes(jnp.shape(loc), jnp.shape(log_scale))
    u = jax.random.uniform(rng_key, shape, minval=1e-7, maxval=1.0 - 1e-7)
    y = loc + jnp.exp(log_scale) * (jnp.log(u) - jnp.log1p(-u))
    return levels(y) / NUM_LEVELS


def discretized_logistic_mean(loc: jax.Array, log_scale: jax.Array) -> jax.Array:
    r""":math:`E[x] = \sum_v \tfrac{v}{256} P(v) = \tfrac1{256} \sum_{v=1}^{255}
    \big(1 - \sigma(\tfrac{v/256 - \mu}{s})\big)` per pixel."""
    edges = jnp.arange(1, NUM_LEVELS, dtype=jnp.result_type(loc, float)) / NUM_LEVELS
    z = (edges - loc[..., None]) * jnp.exp(-log_scale)[..., None]
    return jnp.sum(jax.nn.sigmoid(-z), axis=-1) / NUM_LEVELS


def bits_per_dim(log_prob: jax.Array, num_dims: int) -> jax.Array:
    r""":math:`-\log p(x) / (D \ln 2)`: a log-likelihood (or bound) in nats of a ``D``-pixel
    discrete image, in bits per pixel.

    >>> print(f"{float(bits_per_dim(-784 * math.log(2.0), 784)):.3f}")
    1.000
    """
    return -log_prob / (num_dims * math.log(2.0))


def leading_shape(inputs: tuple[jax.Array, ...]) -> tuple[int, ...]:
    """The broadcast leading shape of parent values ``[..., d]``."""
    return jnp.broadcast_shapes(*(u.shape[:-1] for u in inputs))


def shaped_outputs(out: jax.Array, lead: tuple[int, ...], shape: tuple[int, ...]) -> jax.Array:
    r"""A decoder's output with leading axes ``lead`` as ``[*lead, *shape]``.

    The decoder may give any trailing layout of ``prod(shape)`` numbers in row-major order:
    flat ``[..., prod(shape)]`` (an MLP head) or ``[..., H, W, C * P]`` (a convolutional head)
    both become ``[..., H, W, C, P]`` for ``shape = (H, W, C, P)``; one-line ``ValueError``
    for any other size.
    """
    got = out.shape[len(lead) :]
    if out.shape[: len(lead)] != tuple(lead) or math.prod(got) != math.prod(shape):
        raise ValueError(
            f"the decoder gives {got} outputs per example for parents of leading shape {lead}; "
            f"the likelihood needs {math.prod(shape)}, laid out as {shape}: size the decoder's "
            "output head to the likelihood's output_shape."
        )
    return jnp.reshape(out, (*lead, *shape))


def raw_outputs(
    module: nn.Module, params: Any, inputs: tuple[jax.Array, ...], shape: tuple[int, ...]
) -> jax.Array:
    """``module``'s outputs for the parents ``inputs [..., d]`` (through
    :func:`jvae.nn.mlp.apply_rows`) as ``[..., *shape]`` (:func:`shaped_outputs`)."""
    return shaped_outputs(apply_rows(module, params, *inputs), leading_shape(inputs), shape)


def check_event_shape(x: jax.Array, event_shape: tuple[int, ...]) -> None:
    """One-line ``ValueError`` unless ``x`` is shaped ``[..., *event_shape]``."""
    if x.shape[max(x.ndim - len(event_shape), 0) :] != tuple(event_shape):
        raise ValueError(
            f"x has shape {x.shape}; the likelihood's event_shape is {tuple(event_shape)}: "
            f"pass data shaped [B, *event_shape]."
        )


@dataclasses.dataclass(frozen=True)
class BernoulliPixels:
    r"""Binary pixels from one logit :math:`\ell`: :math:`\log p(x) = x \ell -
    \mathrm{softplus}(\ell)`."""

    channels: ClassVar[int] = 1

    def log_prob(self, out: jax.Array, x: jax.Array) -> jax.Array:
        logits = out[..., 0]
        return x * logits - jax.nn.softplus(logits)

    def sample(self, rng_key: jax.Array, out: jax.Array) -> jax.Array:
        return jax.random.bernoulli(rng_key, jax.nn.sigmoid(out[..., 0])).astype(out.dtype)


@dataclasses.dataclass(frozen=True)
class LogisticPixels:
    r"""8-bit pixels from a location and a raw log-scale: the discretised logistic of the module
    docstring with :math:`\log s = \max(\cdot, \text{min\_log\_scale})` (PixelCNN++'s floor;
    :math:`e^{-7}` is a quarter of a bin)."""

    min_log_scale: float = -7.0
    channels: ClassVar[int] = 2

    def loc_log_scale(self, out: jax.Array) -> tuple[jax.Array, jax.Array]:
        return out[..., 0], jnp.maximum(out[..., 1], self.min_log_scale)

    def log_prob(self, out: jax.Array, x: jax.Array) -> jax.Array:
        return discretized_logistic_log_prob(x, *self.loc_log_scale(out))

    def sample(self, rng_key: jax.Array, out: jax.Array) -> jax.Array:
        return discretized_logistic_sample(rng_key, *self.loc_log_scale(out))

    def mean(self, out: jax.Array) -> jax.Array:
        return discretized_logistic_mean(*self.loc_log_scale(out))
