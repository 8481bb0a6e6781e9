r"""An autoregressive image likelihood: a gated PixelCNN conditioned on a map of the latents.

.. math::
    \log p(x \mid u) = \sum_{i} \sum_{c=1}^{C} \log p\big(x_{i,c} \mid x_{<i},
      x_{i,<c}, c(u)\big)

over pixels :math:`i` in raster order and the ``C`` values of each pixel in order (R, G, B),
each conditional a :class:`jvae.components.pixels.BernoulliPixels` (binary images) or
:class:`jvae.components.pixels.LogisticPixels` (8-bit) given the
:class:`jvae.nn.pixelcnn.GatedPixelCNN`'s outputs for that value (van den Oord et al. 2016;
PixelVAE, Gulrajani et al. 2016; VLAE's bounded field, Chen et al. 2017).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jvae.components.pixels import BernoulliPixels, LogisticPixels, PixelModel
from jvae.nn.pixelcnn import GatedPixelCNN, field_radius, receptive_field, validate_field

Params = Any

DATA_KINDS = {BernoulliPixels: "binary", LogisticPixels: "8bit"}


@dataclasses.dataclass(frozen=True)
class PixelCNN:
    r"""Autoregressive pixels (module docstring) from a :class:`GatedPixelCNN` over the image and
    a conditioning map :math:`c(u)` of the parents.

    ``log_prob`` reads x by teacher forcing: one parallel pass over the ``[K, B]`` images (the
    first layer's convolutions of x run on the ``B`` examples and broadcast over K). ``sample``
    runs value by value in ``lax.fori_loop``\ s over rows and over the row's ``W * C`` values:
    per row, the vertical stack on the rows its receptive field reaches (``radius + 1`` rows, so
    a small field samples fast); per value, the horizontal stack on that row alone. ``mean`` is
    a sample: the mean of an autoregressive decoder is intractable.

    Attributes:
      conditioner: ``(*parents) -> c [..., H, W, C_c]`` (:class:`jvae.nn.conv.ConvMap`).
      network: the PixelCNN; its ``out_channels`` must equal ``pixels.channels`` and its
        ``image_channels`` the event's ``C``; its receptive field may not reach past the image
        (:func:`jvae.nn.pixelcnn.validate_field`).
      input_sizes: the size of each parent's last axis.
      event_shape: ``(H, W, C)``.
      pixels: :class:`BernoulliPixels` for binary images, :class:`LogisticPixels` for 8-bit ones.
    """

    conditioner: nn.Module
    network: GatedPixelCNN
    input_sizes: tuple[int, ...]
    event_shape: tuple[int, int, int]
    pixels: PixelModel = BernoulliPixels()

    def __post_init__(self) -> None:
        if len(self.event_shape) != 3:
            raise ValueError(
                f"a PixelCNN likelihood needs event_shape (H, W, C); got {self.event_shape}: "
                "add the channels, e.g. (28, 28, 1)."
            )
        object.__setattr__(self, "event_shape", tuple(int(s) for s in self.event_shape))
        if type(self.pixels) not in DATA_KINDS:
            raise ValueError(
                f"a PixelCNN likelihood takes BernoulliPixels or LogisticPixels per value; got "
                f"{type(self.pixels).__name__}."
            )
        if self.network.out_channels != self.pixels.channels:
            raise ValueError(
                f"{type(self.pixels).__name__} needs {self.pixels.channels} outputs per value; "
                f"the PixelCNN has out_channels={self.network.out_channels}."
            )
        if self.network.image_channels != self.event_shape[2]:
            raise ValueError(
                f"the PixelCNN has image_channels={self.network.image_channels}; the images "
                f"have {self.event_shape[2]} channels: set image_channels={self.event_shape[2]}."
            )
        net = self.network
        validate_field(self.event_shape, net.num_layers, net.kernel_size, net.first_kernel_size)

    @property
    def data_kind(self) -> str:
        """``'binary'`` (:class:`BernoulliPixels`) or ``'8bit'`` (:class:`LogisticPixels`)."""
        return DATA_KINDS[type(self.pixels)]

    def receptive_field(self) -> frozenset[tuple[int, int]]:
        """Offsets ``(row, col)`` of the other pixels each conditional reads
        (:func:`jvae.nn.pixelcnn.receptive_field`)."""
        net = self.network
        return receptive_field(net.num_layers, net.kernel_size, net.first_kernel_size)

    def init(self, rng_key: jax.Array) -> Params:
        key_c, key_n = jax.random.split(rng_key)
        dummies = [jnp.zeros((1, d), jnp.float32) for d in self.input_sizes]
        params_c = self.conditioner.init(key_c, *dummies)["params"]
        cond = self.conditioner.apply({"params": params_c}, *dummies)
        image = jnp.zeros((1, *self.event_shape), jnp.float32)
        return {"conditioner": params_c, "network": self.network.init(key_n, image, cond)["params"]}

    def condition(self, params: Params, inputs: tuple[jax.Array, ...]) -> jax.Array:
        """The conditioning map ``[..., H, W, C_c]`` of the parents."""
        return self.conditioner.apply({"params": params["conditioner"]}, *inputs)

    def outputs(self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        """``[..., H, W, C, P]``: each value's pixel-model outputs given the values before it
        in ``x [..., H, W, C]`` (teacher forcing)."""
        if x.shape[x.ndim - 3 :] != self.event_shape:
            raise ValueError(
                f"x has shape {x.shape}; the PixelCNN's event_shape is {self.event_shape}: pass "
                "images shaped [B, H, W, C]."
            )
        cond = self.condition(params, inputs)
        return self.network.apply({"params": params["network"]}, x, cond)

    def log_prob(self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        """``[K, B]`` for ``x [B, H, W, C]`` and parents ``[K, B, d]``."""
        log_p = self.pixels.log_prob(self.outputs(params, x, inputs), x)
        return jnp.sum(log_p, axis=(-3, -2, -1))

    def sample_with_log_prob(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> tuple[jax.Array, jax.Array]:
        """Images ``[..., H, W, C]`` drawn value by value (R, G, B within a pixel), and the sum
        of the log-probabilities of the drawn values, ``[...]`` (``log_prob`` of the images).

        Value ``c`` of pixel ``(i, j)`` is drawn with ``fold_in(rng_key, (i W + j) C + c)``.
        """
        height, width, channels = self.event_shape
        cond = self.condition(params, inputs)
        lead = cond.shape[:-3]
        cond = jnp.reshape(cond, (-1, *cond.shape[-3:]))
        radius = field_radius(self.receptive_field())
        rows = min(radius + 1, height)

        def apply(method: Any, *args: Any) -> Any:
            return self.network.apply({"params": params["network"]}, *args, method=method)

        def row(i: jax.Array, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            start = jnp.clip(i - radius, 0, height - rows)
            window = [jax.lax.dynamic_slice_in_dim(a, start, rows, 1) for a in (carry[0], cond)]
            context = [
                jax.lax.dynamic_slice_in_dim(c, i - start, 1, 1)
                for c in apply(GatedPixelCNN.vertical, *window)
            ]

            def value(s: jax.Array, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, ...]:
                x, log_p = carry
                j, c = s // channels, s % channels
                x_row = jax.lax.dynamic_slice_in_dim(x, i, 1, 1)
                out = apply(GatedPixelCNN.horizontal, x_row, context)[:, 0]  # [N, W, C, P]
                out_jc = out[:, j, c]
                v = self.pixels.sample(
                    jax.random.fold_in(rng_key, i * width * channels + s), out_jc
                )
                x = x.at[:, i, j, c].set(v)
                return x, log_p + self.pixels.log_prob(out_jc, v)

            return jax.lax.fori_loop(0, width * channels, value, carry)

        n = cond.shape[0]
        init = (jnp.zeros((n, *self.event_shape), cond.dtype), jnp.zeros((n,), cond.dtype))
        x, log_p = jax.lax.fori_loop(0, height, row, init)
        return jnp.reshape(x, (*lead, *self.event_shape)), jnp.reshape(log_p, lead)

    def sample(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array:
        return self.sample_with_log_prob(params, rng_key, inputs)[0]

    def mean(self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return self.sample(params, rng_key, inputs)
