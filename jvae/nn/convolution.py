r"""Convolutions whose gradients are themselves convolutions in XLA's canonical NHWC/HWIO
form, and the Flax modules on them: :class:`Conv` and :class:`ConvTranspose`, drop-in
replacements of ``flax.linen.Conv`` and ``ConvTranspose`` (same numbers with ``'SAME'``).

Every convolution goes through :func:`conv2d`, whose gradients are themselves convolutions in
XLA's canonical NHWC/HWIO form. With plain ``lax.conv_general_dilated``, XLA on CPU turns the
kernel and input gradients into canonical convolutions in a straight-line program but not
inside a loop body, where they fall back to a naive loop: a PixelCNN training step inside the
``lax.scan`` of :func:`jvae.training.train.make_epoch` ran 20x slower than the same step
alone, the conv encoder's 36x (jax 0.10.2, 2-core AMD EPYC). :func:`conv2d` keeps the padding
inside each convolution (forward and both gradients), sizes the kernel gradient's window to
exactly the kernel, never hands XLA a negative padding (it crops first: XLA's CPU convolution
miscomputes some shapes otherwise); with a gated layer's two convolutions run as one
(:mod:`jvae.nn.conv`), 1.2x less CPU time per encoder step than before
(``benchmarks/bench_conv_torch.py``). Data layout (NCHW), XLA's default YNNPACK convolutions
and an im2col matrix product were each slower on CPU (benchmarks/README.md).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

_NHWC = ("NHWC", "HWIO", "NHWC")
Padding = tuple[tuple[int, int], tuple[int, int]]


def _conv(
    lhs: jax.Array,
    rhs: jax.Array,
    padding: Sequence[tuple[int, int]],
    stride: int = 1,
    lhs_dilation: int = 1,
    rhs_dilation: int = 1,
) -> jax.Array:
    """``lax.conv_general_dilated`` in NHWC/HWIO, where negative padding first crops the
    (dilated) input with ``lax.pad``: XLA's CPU convolution gives wrong numbers for some shapes
    when handed negative padding itself (jax 0.10.2: ``[1, 10, 10, 4]`` against a ``1x2``
    kernel, padding ``(-1, 1)``; ``tests/test_conv.py``)."""
    if any(lo < 0 or hi < 0 for lo, hi in padding):
        crop = [(min(lo, 0), min(hi, 0), lhs_dilation - 1) for lo, hi in padding]
        lhs = jax.lax.pad(lhs, jnp.zeros((), lhs.dtype), [(0, 0, 0), *crop, (0, 0, 0)])
        padding, lhs_dilation = [(max(lo, 0), max(hi, 0)) for lo, hi in padding], 1
    return jax.lax.conv_general_dilated(
        lhs,
        rhs,
        (stride, stride),
        padding,
        (lhs_dilation, lhs_dilation),
        (rhs_dilation, rhs_dilation),
        dimension_numbers=_NHWC,
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv2d(
    x: jax.Array, kernel: jax.Array, stride: int, padding: Padding = ((0, 0), (0, 0))
) -> jax.Array:
    r"""Convolution :math:`y_{nijo} = \sum_{pqc} \bar x_{n,si+p,sj+q,c}\, w_{pqco}` of
    ``x[N, H, W, C]``, zero-padded by ``padding`` (``((top, bottom), (left, right))``; negative
    values crop) to :math:`\bar x`, with ``kernel[kh, kw, C, O]`` at ``stride``; both gradients
    are computed as canonical convolutions (module docstring)."""
    return _conv(x, kernel, padding, stride)


def _conv2d_fwd(
    x: jax.Array, kernel: jax.Array, stride: int, padding: Padding
) -> tuple[jax.Array, tuple]:
    return conv2d(x, kernel, stride, padding), (x, kernel)


def _kernel_gradient(
    x: jax.Array, g: jax.Array, kernel_size: tuple[int, int], stride: int, padding: Padding
) -> jax.Array:
    """``dw[p, q, c, o] = sum_{n,i,j} xbar[n, s i + p, s j + q, c] g[n, i, j, o]`` for
    ``g = conv2d(x, w)``'s cotangent: channels as the batch, examples as the features, g as a
    kernel dilated by the stride; the far side is padded (or cut) to exactly the rows the
    windows reach, so dw comes out ``kernel_size`` wide."""
    axes = [(1, padding[0][0], kernel_size[0]), (2, padding[1][0], kernel_size[1])]
    dw = _conv(
        jnp.transpose(x, (3, 1, 2, 0)),
        jnp.transpose(g, (1, 2, 0, 3)),
        [(lo, k + stride * (g.shape[d] - 1) - x.shape[d] - lo) for d, lo, k in axes],
        rhs_dilation=stride,
    )
    return jnp.transpose(dw, (1, 2, 0, 3))


def _input_gradient(
    g: jax.Array, kernel: jax.Array, size: tuple[int, int], stride: int, padding: Padding
) -> jax.Array:
    """``dx [N, *size, C]`` of ``g = conv2d(x, kernel)``'s cotangent ``g``: g dilated by the
    stride, padded so that the flipped kernel (channels swapped) lands each tap on the input
    pixel it read; rows no window reached get zeros."""
    axes = [
        (1, padding[0][0], kernel.shape[0], size[0]),
        (2, padding[1][0], kernel.shape[1], size[1]),
    ]
    return _conv(
        g,
        jnp.transpose(jnp.flip(kernel, (0, 1)), (0, 1, 3, 2)),
        [(k - 1 - lo, n - 1 + lo - stride * (g.shape[d] - 1)) for d, lo, k, n in axes],
        lhs_dilation=stride,
    )


def _conv2d_bwd(
    stride: int, padding: Padding, residuals: tuple, g: jax.Array
) -> tuple[jax.Array, jax.Array]:
    x, kernel = residuals
    return (
        _input_gradient(g, kernel, x.shape[1:3], stride, padding),
        _kernel_gradient(x, g, kernel.shape[:2], stride, padding),
    )


conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def _check_transpose_size(
    y: jax.Array, kernel: jax.Array, stride: int, padding: Padding, size: tuple[int, int]
) -> None:
    for axis, (n, (lo, hi), k) in enumerate(zip(size, padding, kernel.shape[:2])):
        reached = (n + lo + hi - k) // stride + 1
        if reached != y.shape[1 + axis]:
            first = stride * (y.shape[1 + axis] - 1) + k - lo - hi
            raise ValueError(
                f"conv_transpose2d: a convolution of size {n} (kernel {k}, stride {stride}, "
                f"padding {(lo, hi)}) gives {reached} positions, not the input's "
                f"{y.shape[1 + axis]}: choose a size from {first} to {first + stride - 1}."
            )


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv_transpose2d(
    y: jax.Array, kernel: jax.Array, stride: int, padding: Padding, size: tuple[int, int]
) -> jax.Array:
    r"""The transposed convolution :math:`x = J^\top y`, ``x[N, *size, C]``, of
    ``y[N, h, w, O]``, where :math:`J` is the linear map ``conv2d(., kernel, stride,
    padding)`` from ``[N, *size, C]`` images (``kernel[kh, kw, C, O]``): an upsampling by the
    stride. Its forward pass and both gradients (``conv2d`` of the cotangent for ``y``,
    ``conv2d``'s kernel gradient for ``kernel``) are canonical convolutions, fast inside a
    loop on CPU, where ``lax.conv_transpose``'s gradients are not (module docstring)."""
    _check_transpose_size(y, kernel, stride, padding, size)
    return _input_gradient(y, kernel, size, stride, padding)


def _conv_transpose2d_fwd(
    y: jax.Array, kernel: jax.Array, stride: int, padding: Padding, size: tuple[int, int]
) -> tuple[jax.Array, tuple]:
    return conv_transpose2d(y, kernel, stride, padding, size), (y, kernel)


def _conv_transpose2d_bwd(
    stride: int, padding: Padding, size: tuple[int, int], residuals: tuple, g: jax.Array
) -> tuple[jax.Array, jax.Array]:
    y, kernel = residuals
    return conv2d(g, kernel, stride, padding), _kernel_gradient(
        g, y, kernel.shape[:2], stride, padding
    )


conv_transpose2d.defvjp(_conv_transpose2d_fwd, _conv_transpose2d_bwd)


def convolve(
    x: jax.Array, kernel: jax.Array, bias: jax.Array, stride: int, padding: Padding
) -> jax.Array:
    """``conv2d(x) + bias`` on ``x [..., H, W, C]`` (any leading axes), with ``padding``."""
    lead = x.shape[:-3]
    y = conv2d(jnp.reshape(x, (-1, *x.shape[-3:])), kernel, stride, padding) + bias
    return jnp.reshape(y, (*lead, *y.shape[1:]))


def same_padding(size: Sequence[int], kernel_size: Sequence[int], stride: int) -> Padding:
    """Flax's and TensorFlow's ``'SAME'`` padding of a convolution of ``size`` (``(H, W)``):
    ``ceil(H / stride)`` positions, the padding split with the extra row at the far side."""
    pads = [max((-(-n // stride) - 1) * stride + k - n, 0) for n, k in zip(size, kernel_size)]
    return tuple((p // 2, p - p // 2) for p in pads)  # type: ignore[return-value]


def _padding(
    padding: Padding | str, size: Sequence[int], kernel_size: Sequence[int], stride: int
) -> Padding:
    if padding == "SAME":
        return same_padding(size, kernel_size, stride)
    if padding == "VALID":
        return ((0, 0), (0, 0))
    if isinstance(padding, str):
        raise ValueError(
            f"padding {padding!r}: use 'SAME', 'VALID' or ((top, bottom), (left, right))."
        )
    return padding


class Conv(nn.Module):
    """A convolution of ``[..., H, W, C]`` (any leading axes) through :func:`conv2d`, after
    zero-padding each side by ``padding`` (negative values crop), plus a bias. The drop-in for
    ``flax.linen.Conv`` inside a training epoch on CPU (:mod:`jvae.compiler`).

    Attributes:
      features: output channels.
      kernel_size: ``(kh, kw)``.
      stride: the same along both axes.
      padding: ``'SAME'`` (default; :func:`same_padding`: ``ceil(H / stride)`` positions, as
        ``flax.linen.Conv``), ``'VALID'`` (none) or ``((top, bottom), (left, right))``.
      kernel_init: the kernel initialiser (Flax's ``nn.Conv`` default).
      mask: ``None``, or a 0/1 numpy array broadcastable to the kernel ``[kh, kw, C, features]``
        and multiplied into it (a masked convolution: :mod:`jvae.nn.pixelcnn`).
    """

    features: int
    kernel_size: tuple[int, int]
    stride: int = 1
    padding: Padding | str = "SAME"
    kernel_init: Any = nn.initializers.lecun_normal()
    mask: Any = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (*self.kernel_size, x.shape[-1], self.features)
        kernel = self.param("kernel", self.kernel_init, shape)
        if self.mask is not None:
            kernel = kernel * jnp.asarray(self.mask, kernel.dtype)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        padding = _padding(self.padding, x.shape[-3:-1], self.kernel_size, self.stride)
        return convolve(x, kernel, bias, self.stride, padding)


class ConvTranspose(nn.Module):
    """An upsampling by ``stride`` of ``[..., h, w, C]`` (any leading axes) through
    :func:`conv_transpose2d`, plus a bias: the transpose of a :class:`Conv` with the same
    kernel size, stride and padding, whose output is ``[..., *size, features]``.

    Attributes:
      features: output channels.
      kernel_size: ``(kh, kw)``.
      stride: the same along both axes.
      padding: ``'SAME'`` (default): the transpose of a ``'SAME'`` convolution of
        ``stride * h`` rows (output ``stride * h``, as ``flax.linen.ConvTranspose``'s
        default), or ``((top, bottom), (left, right))`` of the convolution it transposes.
      size: the output's ``(H, W)``; default ``stride * (h - 1) + kh - top - bottom`` (and
        likewise for W), the smallest of the ``stride`` sizes that convolve back to ``h``
        (e.g. kernel 3, stride 2, padding ``((0, 1), (0, 1))``: ``4x4 -> 8x8``).
      kernel_init: the kernel initialiser, of the kernel ``[kh, kw, features, C]`` of the
        convolution it transposes (the layout of ``flax.linen.ConvTranspose`` with
        ``transpose_kernel=True``, which with ``'SAME'`` gives the same numbers).
    """

    features: int
    kernel_size: tuple[int, int]
    stride: int = 1
    padding: Padding | str = "SAME"
    size: tuple[int, int] | None = None
    kernel_init: Any = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, y: jax.Array) -> jax.Array:
        shape = (*self.kernel_size, self.features, y.shape[-1])
        kernel = self.param("kernel", self.kernel_init, shape)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        size, padding = self.size, self.padding
        if padding == "SAME":
            size = size or tuple(self.stride * n for n in y.shape[-3:-1])
        padding = _padding(padding, size or y.shape[-3:-1], self.kernel_size, self.stride)
        size = size or tuple(
            self.stride * (n - 1) + k - lo - hi
            for n, k, (lo, hi) in zip(y.shape[-3:-1], self.kernel_size, padding)
        )
        lead = y.shape[:-3]
        flat = jnp.reshape(y, (-1, *y.shape[-3:]))
        x = conv_transpose2d(flat, kernel, self.stride, padding, size) + bias
        return jnp.reshape(x, (*lead, *x.shape[1:]))
