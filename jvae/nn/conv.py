r"""Gated convolutional networks of Tomczak & Welling (2018), the VampPrior paper's ConvHVAE.

A gated convolution is :math:`h = (W_1 * x + b_1) \odot \sigma(W_2 * x + b_2)`, the convolutional
form of :class:`jvae.nn.gated.GatedDense`, with PyTorch's padding ``kernel // 2`` (so a stride-2
layer halves an even side). Data arrive flattened, ``x[..., H * W]``, and are reshaped here.

Following the authors' ``models/convHVAE_2level.py``:

- :math:`q(z \mid x)` (their ``q_z2``): gated convolutions (channels, kernel, stride) (32, 7, 1),
  (32, 3, 2), (64, 5, 1), (64, 3, 2), (6, 3, 1), so 28x28 becomes 7x7x6 = 294 features, then
  linear heads for the mean and the log-variance, clipped to [-6, 2] (``Hardtanh``);
  :math:`q(z_1 \mid x, z_2)` runs x through (32, 3, 1), (32, 3, 2), (64, 3, 1), (64, 3, 2),
  (6, 3, 1), z2 through a gated dense layer of 294, and both through a joint gated layer of 300;
- :math:`p(x \mid z_1, z_2)`: a gated dense layer of 300 per latent, a joint gated layer of
  ``H * W`` units read as an image, four gated 3x3 convolutions of 64 channels and a 1x1
  convolution to the pixel parameters (Bernoulli logits, or a discretised logistic's location
  and log-scale).

Inputs may have different leading shapes (``x[B, D]`` beside ``z[K, B, d]``): the convolutional
branch of x runs once per example and is broadcast against the sample axis (as in
:class:`jvae.nn.gated.GatedNet`).

Every convolution goes through :func:`conv2d`, whose gradients are themselves convolutions in
XLA's canonical NHWC/HWIO form. With plain ``lax.conv_general_dilated``, XLA on CPU turns the
kernel and input gradients into canonical convolutions in a straight-line program but not
inside a loop body, where they fall back to a naive loop: a PixelCNN training step inside the
``lax.scan`` of :func:`jvae.training.train.make_epoch` ran 20x slower than the same step
alone (jax 0.10.2, 2-core AMD EPYC).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jvae.nn.gated import GatedNet, he_normal
from jvae.nn.mlp import flatten_rows

ConvSpec = Sequence[tuple[int, int, int]]
ENCODER_CONVS: ConvSpec = ((32, 7, 1), (32, 3, 2), (64, 5, 1), (64, 3, 2), (6, 3, 1))
ENCODER_CONVS_Z1: ConvSpec = ((32, 3, 1), (32, 3, 2), (64, 3, 1), (64, 3, 2), (6, 3, 1))
DECODER_CONVS: ConvSpec = ((64, 3, 1),) * 4


def image_of(x: jax.Array, image_shape: tuple[int, int]) -> jax.Array:
    """``x[..., H * W]`` as images ``[..., H, W, 1]``; ``ValueError`` if the sizes disagree."""
    height, width = image_shape
    if x.shape[-1] != height * width:
        raise ValueError(
            f"expected flattened {height}x{width} images ({height * width} values); got "
            f"{x.shape[-1]}: set image_shape to the data's."
        )
    return jnp.reshape(x, (*x.shape[:-1], height, width, 1))


_NHWC = ("NHWC", "HWIO", "NHWC")


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv2d(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    r"""``VALID`` convolution :math:`y_{nijo} = \sum_{pqc} x_{n,si+p,sj+q,c}\, w_{pqco}` of
    ``x[N, H, W, C]`` with ``kernel[kh, kw, C, O]`` at ``stride``; both gradients are computed as
    canonical convolutions (module docstring)."""
    return jax.lax.conv_general_dilated(
        x, kernel, (stride, stride), "VALID", dimension_numbers=_NHWC
    )


def _conv2d_fwd(x: jax.Array, kernel: jax.Array, stride: int) -> tuple[jax.Array, tuple]:
    return conv2d(x, kernel, stride), (x, kernel)


def _conv2d_bwd(stride: int, residuals: tuple, g: jax.Array) -> tuple[jax.Array, jax.Array]:
    x, kernel = residuals
    kh, kw = kernel.shape[:2]
    # dw[p, q, c, o] = sum_{n,i,j} x[n, s i + p, s j + q, c] g[n, i, j, o]: channels as the
    # batch, examples as the features, g as a kernel dilated by the stride.
    dw = jax.lax.conv_general_dilated(
        jnp.transpose(x, (3, 1, 2, 0)),
        jnp.transpose(g, (1, 2, 0, 3)),
        (1, 1),
        "VALID",
        rhs_dilation=(stride, stride),
        dimension_numbers=_NHWC,
    )
    dw = jnp.transpose(dw[:, :kh, :kw], (1, 2, 0, 3))
    # dx: g dilated by the stride, padded, against the flipped kernel with its channels swapped;
    # rows and columns that no window reached get zeros.
    spare = [x.shape[d] - stride * (g.shape[d] - 1) - k for d, k in ((1, kh), (2, kw))]
    dx = jax.lax.conv_general_dilated(
        g,
        jnp.transpose(jnp.flip(kernel, (0, 1)), (0, 1, 3, 2)),
        (1, 1),
        [(kh - 1, kh - 1 + spare[0]), (kw - 1, kw - 1 + spare[1])],
        lhs_dilation=(stride, stride),
        dimension_numbers=_NHWC,
    )
    return dx, dw


conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


class Conv(nn.Module):
    """A convolution of ``[..., H, W, C]`` (any leading axes) through :func:`conv2d`, after
    zero-padding each side by ``padding`` (negative values crop), plus a bias.

    Attributes:
      features: output channels.
      kernel_size: ``(kh, kw)``.
      stride: the same along both axes.
      padding: ``((top, bottom), (left, right))``.
      kernel_init: the kernel initialiser (Flax's ``nn.Conv`` default).
    """

    features: int
    kernel_size: tuple[int, int]
    stride: int = 1
    padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))
    kernel_init: Any = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (*self.kernel_size, x.shape[-1], self.features)
        kernel = self.param("kernel", self.kernel_init, shape)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        lead = x.shape[:-3]
        x = jnp.reshape(x, (-1, *x.shape[-3:]))
        pad = [(0, 0, 0), (*self.padding[0], 0), (*self.padding[1], 0), (0, 0, 0)]
        y = conv2d(jax.lax.pad(x, jnp.zeros((), x.dtype), pad), kernel, self.stride) + bias
        return jnp.reshape(y, (*lead, *y.shape[1:]))


class GatedConv(nn.Module):
    r""":math:`(W_1 * x + b_1) \odot \mathrm{sigmoid}(W_2 * x + b_2)` on ``[..., H, W, C]``."""

    features: int
    kernel: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel
        pad = ((k // 2, k // 2), (k // 2, k // 2))

        def conv(name: str) -> jax.Array:
            return Conv(self.features, (k, k), self.stride, pad, he_normal, name=name)(x)

        return conv("h") * jax.nn.sigmoid(conv("g"))


class ConvGaussian(nn.Module):
    r"""``(x, *parents) -> (mean, log_scale)``: gated convolutions of the image ``x``, flattened,
    then (with further parents) per-parent gated dense branches, a concatenation and joint
    gated layers (:class:`jvae.nn.gated.GatedNet`), and two linear heads;
    :math:`\log\sigma = \tfrac12 \mathrm{clip}(\cdot, \text{log\_var\_range})`.

    Attributes:
      image_shape: ``(H, W)`` of x.
      latent: dimension of the Gaussian.
      convs: ``(channels, kernel, stride)`` of each gated convolution.
      branches: gated dense widths for each further parent (one tuple per parent).
      joint: gated dense widths after the concatenation.
      log_var_range: the clip of the log-variance head (the authors' ``Hardtanh(-6, 2)``).
    """

    image_shape: tuple[int, int]
    latent: int
    convs: ConvSpec = ENCODER_CONVS
    branches: Sequence[Sequence[int]] = ()
    joint: Sequence[int] = ()
    log_var_range: tuple[float, float] = (-6.0, 2.0)

    @nn.compact
    def __call__(self, x: jax.Array, *parents: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = image_of(x, self.image_shape)
        for i, (features, kernel, stride) in enumerate(self.convs):
            h = GatedConv(features, kernel, stride, name=f"conv_{i}")(h)
        h = jnp.reshape(h, (*h.shape[:-3], -1))
        h = GatedNet(((), *self.branches), self.joint, name="net")(h, *parents)
        mean = flatten_rows(h, nn.Dense(self.latent, kernel_init=he_normal, name="mean"))
        log_var = flatten_rows(h, nn.Dense(self.latent, kernel_init=he_normal, name="log_var"))
        return mean, 0.5 * jnp.clip(log_var, *self.log_var_range)


class ConvMap(nn.Module):
    """``(*parents) -> [..., H, W, C]``: gated dense layers whose last width ``C * H * W`` is read
    as ``C`` image channels (the authors' ``view``), then stride-1 gated convolutions.

    The trunk of :class:`ConvBernoulli` and :class:`ConvLogistic`, and the conditioning map of
    a PixelCNN decoder (:class:`jvae.components.likelihoods.PixelCNN`).

    Attributes:
      image_shape: ``(H, W)``.
      branches: gated dense widths for each parent (one tuple per parent).
      joint: gated dense widths after the concatenation; the last width (or, with none, the sum
        of the branches' last widths) must be a multiple of ``H * W``.
      convs: ``(channels, kernel, stride)`` of each gated convolution (strides must be 1).
    """

    image_shape: tuple[int, int]
    branches: Sequence[Sequence[int]]
    joint: Sequence[int] = ()
    convs: ConvSpec = ()

    @nn.compact
    def __call__(self, *parents: jax.Array) -> jax.Array:
        height, width = self.image_shape
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


def _pixel_head(h: jax.Array, channels: int) -> jax.Array:
    """1x1 convolution to ``channels`` per pixel, flattened to ``[..., H * W, channels]``."""
    out = nn.Dense(channels, name="head")(h)
    return jnp.reshape(out, (*out.shape[:-3], -1, channels))


class ConvBernoulli(nn.Module):
    """``(*parents) -> logits [..., H * W]`` through a :class:`ConvMap` and a 1x1 convolution."""

    image_shape: tuple[int, int]
    branches: Sequence[Sequence[int]]
    joint: Sequence[int] = ()
    convs: ConvSpec = DECODER_CONVS

    @nn.compact
    def __call__(self, *parents: jax.Array) -> jax.Array:
        h = ConvMap(self.image_shape, self.branches, self.joint, self.convs, name="map")(*parents)
        return _pixel_head(h, 1)[..., 0]


class ConvLogistic(nn.Module):
    """``(*parents) -> (loc, log_scale)``, each ``[..., H * W]``, of a discretised logistic per
    pixel (:class:`jvae.components.likelihoods.DiscretizedLogistic`), through a
    :class:`ConvMap` and a 1x1 convolution."""

    image_shape: tuple[int, int]
    branches: Sequence[Sequence[int]]
    joint: Sequence[int] = ()
    convs: ConvSpec = DECODER_CONVS

    @nn.compact
    def __call__(self, *parents: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = ConvMap(self.image_shape, self.branches, self.joint, self.convs, name="map")(*parents)
        out = _pixel_head(h, 2)
        return out[..., 0], out[..., 1]
