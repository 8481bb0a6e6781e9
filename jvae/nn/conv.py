r"""Gated convolutional networks of Tomczak & Welling (2018), the VampPrior paper's ConvHVAE.

A gated convolution is :math:`h = (W_1 * x + b_1) \odot \sigma(W_2 * x + b_2)`, the convolutional
form of :class:`jvae.nn.gated.GatedDense`, with PyTorch's padding ``kernel // 2`` (so a stride-2
layer halves an even side). Images keep their natural shape: encoders read ``x[..., H, W, C]``
and decoders return ``[..., H, W, C]`` (or ``[..., H, W, C, P]``, P numbers per value).

Following the authors' ``models/convHVAE_2level.py``:

- :math:`q(z \mid x)` (their ``q_z2``): gated convolutions (channels, kernel, stride) (32, 7, 1),
  (32, 3, 2), (64, 5, 1), (64, 3, 2), (6, 3, 1), so 28x28 becomes 7x7x6 = 294 features, then
  linear heads for the mean and the log-variance, clipped to [-6, 2] (``Hardtanh``); any
  number of channels C (the first kernel reads them all);
  :math:`q(z_1 \mid x, z_2)` runs x through (32, 3, 1), (32, 3, 2), (64, 3, 1), (64, 3, 2),
  (6, 3, 1), z2 through a gated dense layer of 294, and both through a joint gated layer of 300;
- :math:`p(x \mid z_1, z_2)`: a gated dense layer of 300 per latent, a joint gated layer of
  ``H * W`` units read as an image, four gated 3x3 convolutions of 64 channels and a 1x1
  convolution to the parameters of each of the C values of a pixel (Bernoulli logits, a
  discretised logistic's location and log-scale, or any P numbers: :class:`ConvDecoder`).

Inputs may have different leading shapes (``x[B, H, W, C]`` beside ``z[K, B, d]``): the
convolutional branch of x runs once per example and is broadcast against the sample axis (as in
:class:`jvae.nn.gated.GatedNet`).

Every convolution goes through :func:`jvae.nn.convolution.conv2d` (gradients in XLA's
canonical form, fast inside a training loop on CPU: :mod:`jvae.nn.convolution`); a gated
layer runs its two convolutions as one of ``2 * features`` outputs (one pass over x, matrix
products twice as wide).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jvae.nn.convolution import convolve
from jvae.nn.gated import GatedNet, he_normal
from jvae.nn.mlp import flatten_rows

ConvSpec = Sequence[tuple[int, int, int]]
ENCODER_CONVS: ConvSpec = ((32, 7, 1), (32, 3, 2), (64, 5, 1), (64, 3, 2), (6, 3, 1))
ENCODER_CONVS_Z1: ConvSpec = ((32, 3, 1), (32, 3, 2), (64, 3, 1), (64, 3, 2), (6, 3, 1))
DECODER_CONVS: ConvSpec = ((64, 3, 1),) * 4


class _ConvParams(nn.Module):
    """A convolution's ``(kernel [kh, kw, C, features], bias [features])`` parameters."""

    features: int
    kernel_size: tuple[int, int]
    kernel_init: Any = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, in_features: int) -> tuple[jax.Array, jax.Array]:
        shape = (*self.kernel_size, in_features, self.features)
        kernel = self.param("kernel", self.kernel_init, shape)
        return kernel, self.param("bias", nn.initializers.zeros, (self.features,))


class GatedConv(nn.Module):
    r""":math:`(W_1 * x + b_1) \odot \mathrm{sigmoid}(W_2 * x + b_2)` on ``[..., H, W, C]``,
    the two convolutions (parameters ``h`` and ``g``) computed as one of ``2 * features``
    outputs: one pass over x, and matrix products twice as wide."""

    features: int
    kernel: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel
        h, g = (
            _ConvParams(self.features, (k, k), he_normal, name=name)(x.shape[-1])
            for name in ("h", "g")
        )
        kernel, bias = (jnp.concatenate(pair, axis=-1) for pair in zip(h, g))
        y = convolve(x, kernel, bias, self.stride, ((k // 2, k // 2), (k // 2, k // 2)))
        return y[..., : self.features] * jax.nn.sigmoid(y[..., self.features :])


def _check_images(x: jax.Array, name: str) -> None:
    if x.ndim < 3:
        raise ValueError(
            f"{name} reads images [..., H, W, C]; got an input of shape {x.shape}: pass the data "
            "in its event shape (H, W, C), not flattened."
        )


class ConvGaussian(nn.Module):
    r"""``(x [..., H, W, C], *parents) -> (mean, log_scale)``, each ``[..., latent]``: gated
    convolutions of the image ``x``, flattened, then (with further parents) per-parent gated
    dense branches, a concatenation and joint gated layers (:class:`jvae.nn.gated.GatedNet`),
    and two linear heads;
    :math:`\log\sigma = \tfrac12 \mathrm{clip}(\cdot, \text{log\_var\_range})`.

    Attributes:
      latent: dimension of the Gaussian.
      convs: ``(channels, kernel, stride)`` of each gated convolution.
      branches: gated dense widths for each further parent (one tuple per parent).
      joint: gated dense widths after the concatenation.
      log_var_range: the clip of the log-variance head (the authors' ``Hardtanh(-6, 2)``).
    """

    latent: int
    convs: ConvSpec = ENCODER_CONVS
    branches: Sequence[Sequence[int]] = ()
    joint: Sequence[int] = ()
    log_var_range: tuple[float, float] = (-6.0, 2.0)

    @nn.compact
    def __call__(self, x: jax.Array, *parents: jax.Array) -> tuple[jax.Array, jax.Array]:
        _check_images(x, "ConvGaussian")
        h = x
        for i, (features, kernel, stride) in enumerate(self.convs):
            h = GatedConv(features, kernel, stride, name=f"conv_{i}")(h)
        h = jnp.reshape(h, (*h.shape[:-3], -1))
        h = GatedNet(((), *self.branches), self.joint, name="net")(h, *parents)
        mean = flatten_rows(h, nn.Dense(self.latent, kernel_init=he_normal, name="mean"))
        log_var = flatten_rows(h, nn.Dense(self.latent, kernel_init=he_normal, name="log_var"))
        return mean, 0.5 * jnp.clip(log_var, *self.log_var_range)


class ConvMap(nn.Module):
    """``(*parents) -> [..., H, W, C_c]``: gated dense layers whose last width ``C_c * H * W``
    is read as ``C_c`` image channels (the authors' ``view``), then stride-1 gated convolutions.

    The trunk of the decoders below, and the conditioning map of a PixelCNN decoder
    (:class:`jvae.components.pixelcnn_likelihood.PixelCNN`).

    Attributes:
      image_shape: ``(H, W)``, or an event shape ``(H, W, C)`` (only H and W are read: the
        map's channels ``C_c`` follow from the last dense width).
      branches: gated dense widths for each parent (one tuple per parent).
      joint: gated dense widths after the concatenation; the last width (or, with none, the sum
        of the branches' last widths) must be a multiple of ``H * W``.
      convs: ``(channels, kernel, stride)`` of each gated convolution (strides must be 1).
    """

    image_shape: tuple[int, ...]
    branches: Sequence[Sequence[int]]
    joint: Sequence[int] = ()
    convs: ConvSpec = ()

    @nn.compact
    def __call__(self, *parents: jax.Array) -> jax.Array:
        height, width = self.image_shape[:2]
        h = GatedNet(self.branches, self.joint, name="net")(*parents)
        if h.shape[-1] % (height * width):
            raise ValueError(
                f"ConvMap's last dense width {h.shape[-1]} is not a multiple of {height}x{width}: "
                "make it channels * H * W."
            )
        h = jnp.reshape(h, (*h.shape[:-1], -1, height, width))
        h = jnp.moveaxis(h, -3, -1)
        for i, (features, kernel, stride) in enumerate(self.convs):
            if stride != 1:
                raise ValueError(f"ConvMap keeps the image size: stride must be 1, got {stride}.")
            h = GatedConv(features, kernel, name=f"conv_{i}")(h)
        return h


def _check_image_shape(image_shape: tuple[int, ...], name: str) -> None:
    if len(image_shape) != 3:
        raise ValueError(
            f"{name} needs image_shape (H, W, C); got {tuple(image_shape)}: add the channels, "
            "e.g. (28, 28, 1)."
        )


def _decode(module: nn.Module, parents: Sequence[jax.Array], per_value: int) -> jax.Array:
    """``[..., H, W, C, per_value]``: ``module``'s :class:`ConvMap` (``"map"``), then a 1x1
    convolution (``"head"``) to ``C * per_value`` numbers per pixel, value by value."""
    channels = module.image_shape[2]
    h = ConvMap(module.image_shape, module.branches, module.joint, module.convs, name="map")(
        *parents
    )
    out = nn.Dense(channels * per_value, name="head")(h)
    return jnp.reshape(out, (*out.shape[:-1], channels, per_value))


class ConvDecoder(nn.Module):
    """``(*parents) -> [..., H, W, C, P]``: ``P`` numbers for each value of a ``H x W x C``
    image, through a :class:`ConvMap` and a 1x1 convolution to ``C * P`` channels (read as
    ``[C, P]``, so the flat ``[..., H * W * C * P]`` is the same numbers in the same order).

    For a likelihood with several numbers per value: a Gaussian's mean and log-scale, a
    logistic mixture's weights, locations and scales.

    Attributes:
      image_shape: ``(H, W, C)``.
      branches: gated dense widths for each parent (one tuple per parent).
      per_value: ``P``.
      joint: gated dense widths after the concatenation (last: a multiple of ``H * W``).
      convs: ``(channels, kernel, 1)`` of each gated convolution.
    """

    image_shape: tuple[int, int, int]
    branches: Sequence[Sequence[int]]
    per_value: int
    joint: Sequence[int] = ()
    convs: ConvSpec = DECODER_CONVS

    def __post_init__(self) -> None:
        _check_image_shape(self.image_shape, "ConvDecoder")
        super().__post_init__()

    @nn.compact
    def __call__(self, *parents: jax.Array) -> jax.Array:
        return _decode(self, parents, self.per_value)


class ConvBernoulli(nn.Module):
    """``(*parents) -> logits [..., H, W, C]`` through a :class:`ConvMap` and a 1x1
    convolution (:class:`ConvDecoder` with ``P = 1``, the last axis dropped)."""

    image_shape: tuple[int, int, int]
    branches: Sequence[Sequence[int]]
    joint: Sequence[int] = ()
    convs: ConvSpec = DECODER_CONVS

    def __post_init__(self) -> None:
        _check_image_shape(self.image_shape, "ConvBernoulli")
        super().__post_init__()

    @nn.compact
    def __call__(self, *parents: jax.Array) -> jax.Array:
        return _decode(self, parents, 1)[..., 0]


class ConvLogistic(nn.Module):
    """``(*parents) -> (loc, log_scale)``, each ``[..., H, W, C]``, of a discretised logistic
    per value (:class:`jvae.components.likelihoods.DiscretizedLogistic`), through a
    :class:`ConvMap` and a 1x1 convolution (:class:`ConvDecoder` with ``P = 2``, split)."""

    image_shape: tuple[int, int, int]
    branches: Sequence[Sequence[int]]
    joint: Sequence[int] = ()
    convs: ConvSpec = DECODER_CONVS

    def __post_init__(self) -> None:
        _check_image_shape(self.image_shape, "ConvLogistic")
        super().__post_init__()

    @nn.compact
    def __call__(self, *parents: jax.Array) -> tuple[jax.Array, jax.Array]:
        out = _decode(self, parents, 2)
        return out[..., 0], out[..., 1]
