r"""A mixture of discretised logistics over the :math:`C` channels of an 8-bit pixel (PixelCNN++,
Salimans et al. 2017), and the likelihood that puts one at every pixel of an image.

Component :math:`m` draws the channels in order; channel :math:`c` is the discretised logistic
of :mod:`jvae.components.pixels` (levels :math:`v = \min(\lfloor 256 x \rfloor, 255)`, bins
:math:`[v/256, (v+1)/256)`, the edge bins take the tails) with a location coupled linearly to
the channels before it,

.. math::
    \mu_{mc} = m_{mc} + \sum_{i < c} a_{mci} \tfrac{v_i}{256}, \qquad
    P(v) = \sum_m \pi_m \prod_c P_{\text{logistic}}(v_c; \mu_{mc}, s_{mc}),

with :math:`a = \tanh(\cdot)` in :math:`(-1, 1)` and :math:`\log s = \max(\cdot,
\text{min\_log\_scale})` (as :class:`jvae.components.pixels.LogisticPixels`). For RGB that is
PixelCNN++'s :math:`\mu_G = m_G + \alpha\,x_R`, :math:`\mu_B = m_B + \beta\,x_R + \gamma\,x_G`;
:math:`C = 1` is the grey case. PixelCNN++ centres bin :math:`v` at :math:`2v/255 - 1` with
half-width :math:`1/255`; both conventions place 255 evenly spaced inner edges, so an affine map
of the locations and scales (the coupling coefficients unchanged) carries one into the other:
the two describe the same distributions.

A network gives :math:`P = M (1 + 2C + C(C-1)/2)` numbers per pixel, laid out as

========================================  ==============================================
``[0, M)``                                mixture logits, :math:`\pi = \mathrm{softmax}`
``[M, M + MC)``                           locations :math:`m_{mc}`, ``[M, C]`` row-major
``[M + MC, M + 2MC)``                     raw log-scales, ``[M, C]`` row-major
``[M + 2MC, P)``                          raw couplings, ``[M, C(C-1)/2]`` row-major
========================================  ==============================================

with the couplings of component :math:`m` ordered as the pairs :math:`(c, i)`, :math:`i < c`,
of ``numpy.tril_indices(C, -1)``: :math:`(1, 0), (2, 0), (2, 1), (3, 0), \dots`; for RGB
:math:`(\alpha, \beta, \gamma)`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jvae.components.pixels import (
    NUM_LEVELS,
    check_event_shape,
    discretized_logistic_log_prob,
    discretized_logistic_mean,
    discretized_logistic_sample,
    levels,
    raw_outputs,
)
from jvae.nn.mlp import as_shape, dummy_inputs

Params = Any


@dataclasses.dataclass(frozen=True)
class LogisticMixturePixels:
    r"""The distribution of one ``C``-channel 8-bit pixel given its ``P`` network outputs
    (module docstring).

    Attributes:
      num_components: :math:`M`.
      num_channels: :math:`C`.
      min_log_scale: the floor of :math:`\log s` (:math:`e^{-7}` is a quarter of a bin).
    """

    num_components: int
    num_channels: int
    min_log_scale: float = -7.0

    def __post_init__(self) -> None:
        if self.num_components < 1 or self.num_channels < 1:
            raise ValueError(
                f"a logistic mixture needs num_components >= 1 and num_channels >= 1; got "
                f"{self.num_components} and {self.num_channels}."
            )

    @property
    def outputs_per_pixel(self) -> int:
        """:math:`P = M (1 + 2C + C(C-1)/2)`."""
        m, c = self.num_components, self.num_channels
        return m * (1 + 2 * c + c * (c - 1) // 2)

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """The coupled channel pairs ``(c, i)``, ``i < c``, in the couplings' order."""
        return list(zip(*(r.tolist() for r in np.tril_indices(self.num_channels, -1))))

    def split(self, out: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        r"""``out [..., P]`` as :math:`\log\pi` ``[..., M]``, locations and floored log-scales
        ``[..., M, C]``, and couplings :math:`a = \tanh(\cdot)` ``[..., M, C(C-1)/2]`` (in the
        order of :attr:`pairs`)."""
        m, c = self.num_components, self.num_channels
        lead = out.shape[:-1]
        logits, loc, raw_log_scale, raw_coupling = jnp.split(
            out, np.cumsum([m, m * c, m * c]), axis=-1
        )
        return (
            jax.nn.log_softmax(logits, axis=-1),
            jnp.reshape(loc, (*lead, m, c)),
            jnp.maximum(jnp.reshape(raw_log_scale, (*lead, m, c)), self.min_log_scale),
            jnp.tanh(jnp.reshape(raw_coupling, (*lead, m, len(self.pairs)))),
        )

    def coupled(self, loc: jax.Array, coupling: jax.Array, x: list[jax.Array], c: int) -> jax.Array:
        r""":math:`\mu_c = m_c + \sum_{i<c} a_{ci} x_i` from the channels ``x[:c]`` before it."""
        terms = [coupling[..., k] * x[i] for k, (row, i) in enumerate(self.pairs) if row == c]
        return loc[..., c] + sum(terms)

    def log_prob(self, out: jax.Array, x: jax.Array) -> jax.Array:
        r""":math:`\log P(v)` ``[...]`` of pixels ``x [..., C]`` in [0, 1] (broadcast against
        ``out [..., P]``): a logsumexp over components of the sum over channels."""
        log_mix, loc, log_scale, coupling = self.split(out)
        v = levels(x)[..., None, :] / NUM_LEVELS  # [..., 1, C]
        channels = [v[..., i] for i in range(self.num_channels)]
        mu = [self.coupled(loc, coupling, channels, c) for c in range(self.num_channels)]
        mu = jnp.stack(jnp.broadcast_arrays(*mu), axis=-1)
        per_channel = discretized_logistic_log_prob(v, mu, log_scale)
        return jax.nn.logsumexp(log_mix + jnp.sum(per_channel, axis=-1), axis=-1)

    def sample(self, rng_key: jax.Array, out: jax.Array) -> jax.Array:
        """Exact draws ``[..., C]`` on the levels ``v / 256``: a component from the mixture
        weights, then the channels in order, each given the ones drawn before it."""
        log_mix, *parts = self.split(out)
        key_m, *keys = jax.random.split(rng_key, 1 + self.num_channels)
        k = jax.random.categorical(key_m, log_mix)[..., None, None]
        loc, log_scale, coupling = (jnp.take_along_axis(a, k, axis=-2)[..., 0, :] for a in parts)
        x: list[jax.Array] = []
        for c, key in enumerate(keys):
            mu = self.coupled(loc, coupling, x, c)
            x.append(discretized_logistic_sample(key, mu, log_scale[..., c]))
        return jnp.stack(x, axis=-1)

    def mean(self, out: jax.Array) -> jax.Array:
        r"""``[..., C]``: :math:`\sum_m \pi_m \bar x_{mc}` with, channel by channel,
        :math:`\bar x_{mc} = E[x_c \mid m, \mu_{mc}]` at
        :math:`\mu_{mc} = m_{mc} + \sum_{i<c} a_{mci} \bar x_{mi}`: the earlier channels'
        conditional means plugged into the coupling. Exact where nothing is coupled (and for
        ``C = 1``); otherwise the plug-in differs from :math:`E[x_c]` only through the curvature
        of the discretised mean in :math:`\mu`, which is linear away from the edge bins."""
        log_mix, loc, log_scale, coupling = self.split(out)
        x: list[jax.Array] = []
        for c in range(self.num_channels):
            mu = self.coupled(loc, coupling, x, c)
            x.append(discretized_logistic_mean(mu, log_scale[..., c]))
        return jnp.sum(jnp.exp(log_mix)[..., None] * jnp.stack(x, axis=-1), axis=-2)


@dataclasses.dataclass(frozen=True)
class DiscretizedLogisticMixture:
    r"""8-bit images whose pixels are independent given the parents, each a
    :class:`LogisticMixturePixels` whose ``P`` outputs a network computes from the parents.

    The last event axis is the channels, the others index pixels: ``event_shape = (H, W, C)``
    (``(H, W, 1)`` for grey images). The network gives ``P`` numbers per *pixel*, not per
    channel, so ``outputs_per_dim`` is ``P`` per pixel and ``output_shape = (*event_shape[:-1],
    P)``: a convolutional decoder returns ``[..., H, W, P]``, an MLP ``[..., H * W * P]``. With
    ``M = 1`` and zero couplings this is a discretised logistic per channel.

    Attributes:
      module: ``(*parents) -> raw outputs``, ``output_shape`` per example (row-major).
      input_sizes: the size of each parent's last axis.
      event_shape: ``(*pixel_shape, C)``.
      num_components: :math:`M` (PixelCNN++ used 10).
      min_log_scale: the floor of every log-scale.
    """

    module: nn.Module
    input_sizes: tuple[int, ...]
    event_shape: tuple[int, ...]
    num_components: int = 10
    min_log_scale: float = -7.0
    data_kind: ClassVar[str] = "8bit"

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_shape", as_shape(self.event_shape))
        if not self.event_shape or min(self.event_shape) < 1:
            raise ValueError(
                f"event_shape must be non-empty and positive, channels last; got "
                f"{self.event_shape}."
            )
        if self.num_components < 1:
            raise ValueError(f"num_components must be at least 1; got {self.num_components}.")

    @property
    def pixels(self) -> LogisticMixturePixels:
        return LogisticMixturePixels(self.num_components, self.event_shape[-1], self.min_log_scale)

    @property
    def outputs_per_dim(self) -> int:
        """``P``, per pixel (a pixel of ``C`` channels is one dimension of the mixture)."""
        return self.pixels.outputs_per_pixel

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The decoder's output per example, ``(*event_shape[:-1], P)``."""
        return (*self.event_shape[:-1], self.outputs_per_dim)

    def init(self, rng_key: jax.Array) -> Params:
        return self.module.init(rng_key, *dummy_inputs(self.input_sizes))["params"]

    def outputs(self, params: Params, inputs: tuple[jax.Array, ...]) -> jax.Array:
        """``[..., *event_shape[:-1], P]``: the network's outputs per pixel."""
        return raw_outputs(self.module, params, inputs, self.output_shape)

    def log_prob(self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        r"""``[...]``: :math:`\log P` of ``x [B, *event_shape]`` (broadcast against the inputs'
        leading axes, ``[K, B]``), summed over the pixels."""
        check_event_shape(x, self.event_shape)
        per_pixel = self.pixels.log_prob(self.outputs(params, inputs), x)
        return jnp.sum(per_pixel, axis=tuple(range(-(len(self.event_shape) - 1), 0)))

    def sample(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array:
        return self.pixels.sample(rng_key, self.outputs(params, inputs))

    def mean(self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        """The plug-in mean of :meth:`LogisticMixturePixels.mean` at every pixel."""
        return self.pixels.mean(self.outputs(params, inputs))
