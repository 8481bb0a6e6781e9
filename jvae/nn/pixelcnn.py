r"""A gated PixelCNN (van den Oord et al. 2016) with vertical and horizontal stacks, conditioned
on a feature map, and its exact receptive field.

Pixels are ordered by rows, then columns. Each layer :math:`l = 1..L` keeps two stacks: the
vertical stack :math:`v_l` sees only rows strictly above (so it needs no shift), the horizontal
stack :math:`h_l` only the current row to the left; together they cover every earlier pixel, so
there is no blind spot. With :math:`p = \lfloor k/2 \rfloor` for a kernel of size :math:`k`:

.. math::
    \tilde v_l &= V_l * v_{l-1} + A_l c, \qquad v_l = \tanh(\tilde v_l^{(1)}) \odot
      \sigma(\tilde v_l^{(2)}), \\
    \tilde h_l &= H_l * h_{l-1} + U_l \tilde v_l + B_l c, \qquad
      h_l = W_l\, [\tanh(\tilde h_l^{(1)}) \odot \sigma(\tilde h_l^{(2)})] + [l > 1]\, h_{l-1},

with :math:`v_0 = h_0 = x`, :math:`c` the conditioning map (a function of the latents, read at
the same position through 1x1 convolutions: van den Oord et al.'s location-dependent
conditioning), :math:`U, W` 1x1 convolutions, and the superscripts the two halves of the
channels that form the gate.
:math:`V_l` reads rows :math:`-p..-1` (layer 1, "mask A") or :math:`-p..0` (later layers, whose
input already lies strictly above) and columns :math:`-p..p`; :math:`H_l` reads the current row,
columns :math:`-p..-1` (layer 1, mask A: not the pixel itself) or :math:`-p..0` (mask B). The
masks are realised as smaller kernels with shifted padding rather than zeroed weights. The
output is :math:`O\,\mathrm{gate}(W_o h_L + B_o c)`, one vector of ``out_channels`` per pixel.

Receptive field: with :math:`R = \lfloor k_1/2 \rfloor + (L-1) \lfloor k/2 \rfloor` (first kernel
:math:`k_1`), output pixel :math:`(i, j)` depends on exactly the pixels
:math:`\{(i + a, j + b) : -R \le a \le -1, |b| \le R\} \cup \{(i, j + b) : -R \le b \le -1\}`
inside the image, :math:`2R(R+1)` offsets (:func:`receptive_field` derives the set from the same
taps the layers use). A small :math:`R` is VLAE's local window (Chen et al. 2017): what lies
further away must come through the latents.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jvae.nn.conv import Conv

Taps = tuple[range, range]
Offset = tuple[int, int]


def _half(kernel_size: int) -> int:
    if kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"PixelCNN kernel sizes must be odd and at least 3; got {kernel_size}.")
    return kernel_size // 2


def stack_taps(kernel_size: int, first: bool) -> tuple[Taps, Taps]:
    """``((rows, cols), (rows, cols))`` offsets that a layer's vertical and horizontal
    convolutions read, relative to the output pixel."""
    p = _half(kernel_size)
    last = 0 if first else 1
    vertical = (range(-p, last), range(-p, p + 1))
    horizontal = (range(0, 1), range(-p, last))
    return vertical, horizontal


def _layer_kernels(num_layers: int, kernel_size: int, first_kernel_size: int | None) -> list[int]:
    if num_layers < 1:
        raise ValueError(f"a PixelCNN needs at least one layer; got num_layers={num_layers}.")
    first = kernel_size if first_kernel_size is None else first_kernel_size
    return [first] + [kernel_size] * (num_layers - 1)


def _dilate(offsets: set[Offset], taps: Taps) -> set[Offset]:
    rows, cols = taps
    return {(a + r, b + c) for a, b in offsets for r in rows for c in cols}


def receptive_field(
    num_layers: int, kernel_size: int = 3, first_kernel_size: int | None = None
) -> frozenset[Offset]:
    """The offsets ``(row, col)`` of every input pixel that can change an output pixel, found
    by composing each layer's taps (:func:`stack_taps`) through both stacks.

    >>> sorted(receptive_field(1))
    [(-1, -1), (-1, 0), (-1, 1), (0, -1)]
    >>> len(receptive_field(3, 3, 7))  # R = 3 + 2 = 5: 2 R (R + 1)
    60
    """
    vertical, horizontal = {(0, 0)}, {(0, 0)}
    for l, k in enumerate(_layer_kernels(num_layers, kernel_size, first_kernel_size)):
        v_taps, h_taps = stack_taps(k, first=l == 0)
        vertical = _dilate(vertical, v_taps)
        horizontal = _dilate(horizontal, h_taps) | vertical | (horizontal if l else set())
    return frozenset(horizontal)


def field_radius(field: frozenset[Offset]) -> int:
    """How many rows above (and columns either side) a receptive field reaches."""
    return max(max(-a, abs(b)) for a, b in field)


def layers_for_radius(
    radius: int, kernel_size: int = 3, first_kernel_size: int | None = None
) -> int:
    """The number of layers whose receptive field has exactly ``radius``; ``ValueError`` when
    these kernel sizes cannot reach it.

    >>> layers_for_radius(6), layers_for_radius(27, 5, 7)
    (6, 13)
    """
    first = _half(kernel_size if first_kernel_size is None else first_kernel_size)
    rest, remainder = divmod(radius - first, _half(kernel_size))
    if rest < 0 or remainder:
        raise ValueError(
            f"no PixelCNN with a {2 * first + 1}x{2 * first + 1} first kernel and "
            f"{kernel_size}x{kernel_size} kernels after has receptive-field radius {radius}: "
            f"use {first} plus a multiple of {kernel_size // 2}."
        )
    return rest + 1


def largest_useful_radius(
    image_shape: tuple[int, int], kernel_size: int = 3, first_kernel_size: int | None = None
) -> int:
    r"""The smallest radius these kernels reach whose field covers, for every pixel of an
    ``H x W`` image, every pixel before it; a larger radius only adds layers.

    The field of radius :math:`R` reaches :math:`R` rows up and :math:`R` columns either side
    (module docstring), so it takes pixel :math:`(H-1, W-1)` back to :math:`(0, 0)` and
    :math:`(H-1, 0)` to :math:`(0, W-1)` exactly when :math:`R \ge \max(H, W) - 1`. The radius
    grows by :math:`\lfloor k/2 \rfloor` per layer after the first layer's
    :math:`\lfloor k_1/2 \rfloor`: the answer is the first radius on that ladder at least
    :math:`\max(H, W) - 1`.

    >>> largest_useful_radius((28, 28)), largest_useful_radius((8, 8), 5)
    (27, 8)
    """
    first = _half(kernel_size if first_kernel_size is None else first_kernel_size)
    step = _half(kernel_size)
    layers_after_first = max(-(-(max(image_shape) - 1 - first) // step), 0)
    return first + step * layers_after_first


def _gate(h: jax.Array) -> jax.Array:
    a, b = jnp.split(h, 2, axis=-1)
    return jnp.tanh(a) * jax.nn.sigmoid(b)


def _tapped_conv(features: int, taps: Taps) -> Conv:
    """A convolution whose output at ``(i, j)`` reads input rows ``i + rows`` and columns
    ``j + cols`` (zero outside), same spatial size: a masked convolution without the zeros."""
    rows, cols = taps
    padding = ((-rows.start, rows.stop - 1), (-cols.start, cols.stop - 1))
    return Conv(features, (len(rows), len(cols)), padding=padding)


class GatedPixelCNN(nn.Module):
    """``(x [..., H, W, 1], c [..., H, W, C_c]) -> [..., H, W, out_channels]`` (module docstring).

    :meth:`vertical` computes everything the horizontal stack adds from rows above and from the
    conditioning map; :meth:`horizontal` finishes row by row. A sampler calls them separately: the
    former once per row, the latter once per pixel, on that row alone.

    Attributes:
      num_layers: :math:`L`, gated layers of both stacks.
      channels: width of each stack.
      kernel_size: :math:`k` of layers 2..L (odd).
      first_kernel_size: :math:`k_1` of layer 1 (odd; default ``kernel_size``).
      out_channels: outputs per pixel (1 for Bernoulli logits, 2 for a discretised logistic).
    """

    num_layers: int
    channels: int
    kernel_size: int = 3
    first_kernel_size: int | None = None
    out_channels: int = 1

    def setup(self) -> None:
        kernels = _layer_kernels(self.num_layers, self.kernel_size, self.first_kernel_size)
        c2 = 2 * self.channels
        taps = [stack_taps(k, first=l == 0) for l, k in enumerate(kernels)]
        self.vertical_convs = [_tapped_conv(c2, v) for v, _ in taps]
        self.horizontal_convs = [_tapped_conv(c2, h) for _, h in taps]
        self.vertical_cond = [nn.Dense(c2, use_bias=False) for _ in kernels]
        self.horizontal_cond = [nn.Dense(c2, use_bias=False) for _ in kernels]
        self.links = [nn.Dense(c2) for _ in kernels]
        self.horizontal_out = [nn.Dense(self.channels) for _ in kernels]
        self.head_in = nn.Dense(c2)
        self.head_cond = nn.Dense(c2, use_bias=False)
        self.head_out = nn.Dense(self.out_channels)

    def vertical(self, x: jax.Array, cond: jax.Array) -> tuple[jax.Array, ...]:
        """Per layer, :math:`U_l \\tilde v_l + B_l c`; last, the head's :math:`B_o c`."""
        v, context = x, []
        for conv, cond_v, cond_h, link in zip(
            self.vertical_convs, self.vertical_cond, self.horizontal_cond, self.links
        ):
            pre = conv(v) + cond_v(cond)
            context.append(link(pre) + cond_h(cond))
            v = _gate(pre)
        return (*context, self.head_cond(cond))

    def horizontal(self, x: jax.Array, context: Sequence[jax.Array]) -> jax.Array:
        """The horizontal stack and the head, given :meth:`vertical`'s ``context``."""
        h = x
        for l, (conv, out) in enumerate(zip(self.horizontal_convs, self.horizontal_out)):
            update = out(_gate(conv(h) + context[l]))
            h = update + h if l else update
        return self.head_out(_gate(self.head_in(h) + context[-1]))

    def __call__(self, x: jax.Array, cond: jax.Array) -> jax.Array:
        return self.horizontal(x, self.vertical(x, cond))
