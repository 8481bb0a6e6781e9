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
output is :math:`O\,\mathrm{gate}(W_o h_L + B_o c)`, ``out_channels`` numbers per value.

Colour (Pixel RNN, van den Oord et al. 2016a, section 3.4): the ``C`` values of a pixel are
ordered (R, G, B) and the features of the horizontal stack are cut into ``C`` contiguous
groups, group ``g`` for value ``g``. Wherever the horizontal stack reads the pixel itself (the
centre tap of :math:`H_l`, and the 1x1 maps :math:`W_l`, :math:`W_o`, :math:`O`), group ``g``
reads input groups ``< g`` in layer 1 (mask A: R none of the pixel, G its R, B its R and G) and
``<= g`` after (mask B), so the outputs for value ``c`` see the values ``< c`` of their own
pixel and never value ``c``. The vertical stack and :math:`U_l` read only rows above and need
no mask. With ``C = 1`` mask A removes layer 1's centre tap altogether and mask B is all ones:
the grey-level network above, parameter for parameter.

Receptive field: with :math:`R = \lfloor k_1/2 \rfloor + (L-1) \lfloor k/2 \rfloor` (first kernel
:math:`k_1`), output pixel :math:`(i, j)` depends on exactly the pixels
:math:`\{(i + a, j + b) : -R \le a \le -1, |b| \le R\} \cup \{(i, j + b) : -R \le b \le -1\}`
inside the image, :math:`2R(R+1)` offsets (:func:`receptive_field` derives the set from the same
taps the layers use), plus, in colour, the earlier values of pixel :math:`(i, j)` itself. A
small :math:`R` is VLAE's local window (Chen et al. 2017): what lies further away must come
through the latents; :func:`validate_field` refuses a field larger than the image needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jvae.nn.convolution import Conv

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


def validate_field(
    image_shape: tuple[int, ...],
    num_layers: int,
    kernel_size: int = 3,
    first_kernel_size: int | None = None,
) -> None:
    """One-line ``ValueError`` when a PixelCNN's receptive field reaches further than
    :func:`largest_useful_radius` of the image's ``(H, W, ...)``: its extra layers see nothing new
    (and a radius of 100 on 28x28 images compiled for minutes)."""
    height, width = image_shape[:2]
    radius = field_radius(receptive_field(num_layers, kernel_size, first_kernel_size))
    useful = largest_useful_radius((height, width), kernel_size, first_kernel_size)
    if radius > useful:
        layers = layers_for_radius(useful, kernel_size, first_kernel_size)
        raise ValueError(
            f"the PixelCNN's receptive field (radius {radius}, {num_layers} layers) reaches past "
            f"{height}x{width} images: radius {useful} ({layers} layers) already sees every "
            "earlier pixel; use at most that."
        )


def _gate(h: jax.Array) -> jax.Array:
    a, b = jnp.split(h, 2, axis=-1)
    return jnp.tanh(a) * jax.nn.sigmoid(b)


def channel_groups(size: int, colours: int, halves: int = 1) -> np.ndarray:
    """The colour channel each of ``size`` features belongs to: ``halves`` equal parts (the two
    halves of a gate's pre-activation), each cut into ``colours`` contiguous groups.

    >>> channel_groups(6, 3), channel_groups(4, 2, halves=2)
    (array([0, 0, 1, 1, 2, 2]), array([0, 1, 0, 1]))
    """
    part = size // halves
    return (np.arange(size) % part) // (part // colours)


def group_mask(inputs: np.ndarray, outputs: np.ndarray, strict: bool) -> np.ndarray:
    """``[in, out]`` 0/1: output group ``g`` reads input groups ``< g`` (mask A, ``strict``) or
    ``<= g`` (mask B)."""
    allowed = np.less if strict else np.less_equal
    return allowed(inputs[:, None], outputs[None, :]).astype(np.float32)


class MaskedDense(nn.Module):
    """``nn.Dense`` (the same parameters) with its kernel ``[in, features]`` multiplied by a
    0/1 ``mask``: a 1x1 convolution that respects colour groups."""

    features: int
    mask: np.ndarray

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (x.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        kernel = kernel * jnp.asarray(self.mask, kernel.dtype)
        dims = (((x.ndim - 1,), (0,)), ((), ()))
        return jax.lax.dot_general(x, kernel, dims) + bias


def _tapped_conv(features: int, taps: Taps, centre_mask: np.ndarray | None = None) -> Conv:
    """A convolution whose output at ``(i, j)`` reads input rows ``i + rows`` and columns
    ``j + cols`` (zero outside), same spatial size: a masked convolution without the zeros. With
    ``centre_mask [in, out]`` the last tap of a one-row kernel, the pixel itself, reads only the
    channels the mask allows."""
    rows, cols = taps
    padding = ((-rows.start, rows.stop - 1), (-cols.start, cols.stop - 1))
    mask = None
    if centre_mask is not None:
        mask = np.ones((len(rows), len(cols), *centre_mask.shape), np.float32)
        mask[-1, -1] = centre_mask
    return Conv(features, (len(rows), len(cols)), padding=padding, mask=mask)


class GatedPixelCNN(nn.Module):
    """``(x [..., H, W, C], c [..., H, W, C_c]) -> [..., H, W, C, out_channels]`` (module
    docstring).

    :meth:`vertical` computes everything the horizontal stack adds from rows above and from the
    conditioning map; :meth:`horizontal` finishes row by row. A sampler calls them separately: the
    former once per row, the latter once per value, on that row alone.

    Attributes:
      num_layers: :math:`L`, gated layers of both stacks.
      channels: width of each stack (a multiple of ``image_channels``: one group per colour).
      kernel_size: :math:`k` of layers 2..L (odd).
      first_kernel_size: :math:`k_1` of layer 1 (odd; default ``kernel_size``).
      out_channels: ``P``, outputs per value (1 for Bernoulli logits, 2 for a discretised
        logistic).
      image_channels: ``C``, values per pixel, ordered (R before G before B).
    """

    num_layers: int
    channels: int
    kernel_size: int = 3
    first_kernel_size: int | None = None
    out_channels: int = 1
    image_channels: int = 1

    def __post_init__(self) -> None:
        if self.image_channels < 1 or self.channels % self.image_channels:
            raise ValueError(
                f"PixelCNN channels={self.channels} must be a multiple of image_channels="
                f"{self.image_channels} (one feature group per colour)."
            )
        super().__post_init__()

    def setup(self) -> None:
        kernels = _layer_kernels(self.num_layers, self.kernel_size, self.first_kernel_size)
        colours, c2 = self.image_channels, 2 * self.channels
        features = channel_groups(self.channels, colours)
        gates = channel_groups(c2, colours, halves=2)
        vertical_convs, horizontal_convs = [], []
        for l, k in enumerate(kernels):
            vertical, (rows, cols) = stack_taps(k, first=l == 0)
            vertical_convs.append(_tapped_conv(c2, vertical))
            if l == 0 and colours == 1:  # mask A leaves nothing of the pixel itself
                horizontal_convs.append(_tapped_conv(c2, (rows, cols)))
            else:
                inputs = np.arange(colours) if l == 0 else features
                centre = group_mask(inputs, gates, strict=l == 0)
                horizontal_convs.append(_tapped_conv(c2, (rows, range(cols.start, 1)), centre))
        self.vertical_convs, self.horizontal_convs = vertical_convs, horizontal_convs
        self.vertical_cond = [nn.Dense(c2, use_bias=False) for _ in kernels]
        self.horizontal_cond = [nn.Dense(c2, use_bias=False) for _ in kernels]
        self.links = [nn.Dense(c2) for _ in kernels]
        mask_b = group_mask(features, features, strict=False)
        self.horizontal_out = [MaskedDense(self.channels, mask_b) for _ in kernels]
        self.head_in = MaskedDense(c2, group_mask(features, gates, strict=False))
        self.head_cond = nn.Dense(c2, use_bias=False)
        outputs = channel_groups(colours * self.out_channels, colours)
        self.head_out = MaskedDense(
            colours * self.out_channels, group_mask(features, outputs, strict=False)
        )

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
        """The horizontal stack and the head, given :meth:`vertical`'s ``context``:
        ``[..., H, W, C, out_channels]``."""
        h = x
        for l, (conv, out) in enumerate(zip(self.horizontal_convs, self.horizontal_out)):
            update = out(_gate(conv(h) + context[l]))
            h = update + h if l else update
        out = self.head_out(_gate(self.head_in(h) + context[-1]))
        return jnp.reshape(out, (*out.shape[:-1], self.image_channels, self.out_channels))

    def __call__(self, x: jax.Array, cond: jax.Array) -> jax.Array:
        if x.shape[-1] != self.image_channels:
            raise ValueError(
                f"the PixelCNN has image_channels={self.image_channels}; the images have "
                f"{x.shape[-1]} channels (shape {x.shape}): set image_channels to the data's C."
            )
        return self.horizontal(x, self.vertical(x, cond))
