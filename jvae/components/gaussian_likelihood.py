r"""A Gaussian likelihood for real-valued data, :math:`p(x \mid u) = \prod_d \mathcal N(x_d;
\mu_d(u), \sigma_d^2)`, and bits per dimension of a continuous density on 8-bit data.

The scale :math:`\sigma` is fixed, learned per dimension, or predicted by the decoder. A learned
or predicted scale comes from a raw number :math:`r` through

.. math:: \sigma = \sigma_{\min} + \operatorname{softplus}(r + r_0), \qquad
    r_0 = \operatorname{softplus}^{-1}(\sigma_0 - \sigma_{\min}),

so that :math:`r = 0` gives the initial scale :math:`\sigma_0` (``scale``) and :math:`\sigma`
never falls below the floor :math:`\sigma_{\min}` (``min_scale``). The floor is needed: the
density at a reconstructed point grows as :math:`1/\sigma`, so an unbounded predicted variance
drives the likelihood to infinity. The floor is added rather than clamped
(:math:`\max(\sigma_{\min}, e^r)`) because a clamp has zero gradient below the floor, where a
dimension would stay stuck; and softplus grows linearly, so :math:`\sigma^2` cannot overflow
as :math:`e^{2r}` does in float32 for :math:`r > 44`.

A continuous density on 8-bit data is not a probability of the data. Dequantise (Uria et al.
2013; Theis et al. 2016): with :math:`x = (v + u)/256`, :math:`u \sim U[0, 1)^D`, the uniform draw
inside bin :math:`v` of width :math:`1/256` (the bins of :mod:`jvae.components.pixels`),

.. math:: \log P(v) = \log \int_{[v/256, (v+1)/256)} p(x)\,dx
    \ge \mathbb E_u \log p\big(\tfrac{v + u}{256}\big) - D \log 256

by Jensen's inequality, so :func:`dequantized_bits_per_dim` of the density at dequantised data
is an upper bound on the bits per dimension of a discrete model.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp

from jvae.components.pixels import (
    NUM_LEVELS,
    bits_per_dim,
    check_event_shape,
    levels,
    raw_outputs,
)
from jvae.nn.mlp import as_shape, dummy_inputs

Params = Any
VARIANCES = ("fixed", "learned", "predicted")
_LOG_2PI = math.log(2.0 * math.pi)


def _softplus_inverse(y: float) -> float:
    r""":math:`\log(e^y - 1)` for ``y > 0``."""
    return y + math.log(-math.expm1(-y))


@dataclasses.dataclass(frozen=True)
class Gaussian:
    r"""Factorised Gaussian over the event, :math:`\log p(x \mid u) = -\sum_d \big(
    \tfrac{(x_d - \mu_d)^2}{2\sigma_d^2} + \log\sigma_d + \tfrac12 \log 2\pi\big)` with
    :math:`\mu = f(u)` from a network of the parents; ``mean`` is :math:`\mu`, ``sample`` is
    :math:`\mu + \sigma \epsilon`.

    Params are ``{"network": module params}``, with ``"raw_scale" [*event_shape]`` (zeros at
    init) when ``variance='learned'``.

    Attributes:
      module: ``(*parents) -> raw outputs``, ``output_shape`` numbers per example in the
        row-major layout ``[*event_shape, P]``: :math:`\mu` alone (``P = 1``), or
        :math:`(\mu, r)` per dimension (``P = 2``) when the variance is predicted.
      input_sizes: the size of each parent's last axis.
      event_shape: one example's shape, ``(D,)`` or ``(H, W, C)`` (an ``int`` ``D`` means
        ``(D,)``).
      variance: ``'fixed'`` (:math:`\sigma = \sigma_0`), ``'learned'`` (one raw scale per
        dimension, a parameter) or ``'predicted'`` (a raw scale per dimension from the network).
      scale: :math:`\sigma_0`, the scale when fixed, else the scale at a zero raw value.
      min_scale: :math:`\sigma_{\min} > 0`, the floor of a learned or predicted scale (module
        docstring); a fixed scale must exceed it too, so :math:`\sigma > \sigma_{\min}` in
        every mode.
    """

    module: nn.Module
    input_sizes: tuple[int, ...]
    event_shape: tuple[int, ...]
    variance: Literal["fixed", "learned", "predicted"] = "predicted"
    scale: float = 1.0
    min_scale: float = 1e-3
    data_kind: ClassVar[str] = "real"

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_shape", as_shape(self.event_shape))
        if self.variance not in VARIANCES:
            raise ValueError(f"variance={self.variance!r}; choose one of {VARIANCES}.")
        if not 0.0 < self.min_scale < self.scale:
            raise ValueError(
                f"the Gaussian needs 0 < min_scale < scale; got min_scale={self.min_scale}, "
                f"scale={self.scale}: lower min_scale or raise scale."
            )
        if not self.event_shape or min(self.event_shape) < 1:
            raise ValueError(f"event_shape must be non-empty and positive; got {self.event_shape}.")

    @property
    def outputs_per_dim(self) -> int:
        """``P``: raw numbers per data dimension, 2 when the decoder predicts the scale."""
        return 2 if self.variance == "predicted" else 1

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The decoder's output per example, ``(*event_shape[:-1], event_shape[-1] * P)``: an
        MLP head of ``prod(output_shape)`` units, or a convolution to ``output_shape[-1]``
        channels."""
        *pixel, channels = self.event_shape
        return (*pixel, channels * self.outputs_per_dim)

    def init(self, rng_key: jax.Array) -> Params:
        params = {"network": self.module.init(rng_key, *dummy_inputs(self.input_sizes))["params"]}
        if self.variance == "learned":
            params["raw_scale"] = jnp.zeros(self.event_shape, jnp.float32)
        return params

    def loc_scale(
        self, params: Params, inputs: tuple[jax.Array, ...]
    ) -> tuple[jax.Array, jax.Array]:
        r""":math:`\mu` ``[..., *event_shape]`` and :math:`\sigma` (broadcastable to it)."""
        out = raw_outputs(
            self.module, params["network"], inputs, (*self.event_shape, self.outputs_per_dim)
        )
        loc = out[..., 0]
        if self.variance == "fixed":
            return loc, jnp.asarray(self.scale, loc.dtype)
        raw = out[..., 1] if self.variance == "predicted" else params["raw_scale"]
        offset = _softplus_inverse(self.scale - self.min_scale)
        return loc, self.min_scale + jax.nn.softplus(raw + offset)

    def log_prob(self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        """``[...]``: the log-density of ``x [B, *event_shape]`` (broadcast against the inputs'
        leading axes, ``[K, B]``), summed over the event."""
        check_event_shape(x, self.event_shape)
        loc, sigma = self.loc_scale(params, inputs)
        z = (x - loc) / sigma
        log_density = -0.5 * jnp.square(z) - jnp.log(sigma) - 0.5 * _LOG_2PI
        return jnp.sum(log_density, axis=tuple(range(-len(self.event_shape), 0)))

    def sample(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array:
        loc, sigma = self.loc_scale(params, inputs)
        return loc + sigma * jax.random.normal(rng_key, loc.shape, loc.dtype)

    def mean(self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return self.loc_scale(params, inputs)[0]


def dequantize(rng_key: jax.Array, x: jax.Array) -> jax.Array:
    r""":math:`(v + u) / 256`, :math:`u \sim U[0, 1)`, for 8-bit data ``x`` in [0, 1] with levels
    :math:`v` = :func:`jvae.components.pixels.levels` (so ``v / 256`` and ``v / 255`` data give the
    same draws): a uniform point in bin :math:`[v/256, (v+1)/256)`, kept below the bin's upper
    edge where float rounding would reach it."""
    v = levels(jnp.asarray(x, jnp.result_type(x, jnp.float32)))
    u = jax.random.uniform(rng_key, v.shape, v.dtype)
    top = jnp.nextafter((v + 1.0) / NUM_LEVELS, jnp.zeros((), v.dtype))
    return jnp.minimum((v + u) / NUM_LEVELS, top)


def dequantized_bits_per_dim(log_density: jax.Array, num_dims: int) -> jax.Array:
    r"""Bits per dimension of 8-bit data from a continuous log-density at dequantised points,
    :math:`-\big(\log p(x) - D \log 256\big) / (D \ln 2)` = ``bits_per_dim(log_density) + 8``.

    The Jacobian term :math:`D \log 256` assumes :func:`dequantize`'s scaling: the density is
    over :math:`x = (v + u)/256` in [0, 1), each level a bin of width :math:`1/256`. Averaged
    over :math:`u`, it is an upper bound on a discrete model's bits per dimension (module
    docstring); a density over data scaled as :math:`v/255` would need :math:`D \log 255`.

    >>> print(f"{float(dequantized_bits_per_dim(jnp.asarray(0.0), 784)):.3f}")  # U[0, 1)^D
    8.000
    """
    return bits_per_dim(log_density - num_dims * math.log(NUM_LEVELS), num_dims)
