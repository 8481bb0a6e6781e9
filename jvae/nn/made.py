r"""MADE, the masked autoencoder for distribution estimation (Germain et al. 2015).

A dense network whose weight matrices are multiplied by fixed binary masks so that output
:math:`i` depends only on the inputs that come before :math:`i` in a given ordering. With
:math:`\pi(i)` the position of variable :math:`i` in the ordering and :math:`d(k)` the degree
of hidden unit :math:`k`, the masks are

.. math::
    M^{(1)}_{jk} = [d(k) \ge \pi(j)], \quad M^{(l)}_{jk} = [d^{(l)}(k) \ge d^{(l-1)}(j)],
    \quad M^{\text{out}}_{ki} = [\pi(i) > d^{(L)}(k)],

so :math:`\partial y_i / \partial x_j = 0` whenever :math:`\pi(j) \ge \pi(i)`. Hidden degrees
cycle deterministically through :math:`0, \dots, D-2` (every connection the ordering allows
exists once a layer has at least :math:`D-1` units). An optional context :math:`h` (the IAF
encoder's extra output, Kingma et al. 2016) enters the first hidden layer unmasked, as in
openai/iaf's ``ar.mlp``; the first variable in the ordering has no hidden unit before it, so
its outputs are biases (in an IAF its mean and scale come from the encoder's Gaussian).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jvae.nn.mlp import flatten_rows


def hidden_degrees(num_units: int, num_inputs: int) -> np.ndarray:
    """Degrees of ``num_units`` hidden units: ``0, 1, ..., D-2, 0, 1, ...`` (all 0 when D=1)."""
    return np.arange(num_units) % max(num_inputs - 1, 1)


def made_masks(order: Sequence[int], hidden: Sequence[int]) -> list[np.ndarray]:
    """The masks ``[fan_in, fan_out]`` of each layer, the output layer last.

    Args:
      order: a permutation of ``range(D)``: the variables in autoregressive order.
      hidden: hidden-layer widths.

    >>> [m.astype(int).tolist() for m in made_masks((0, 1, 2), (2,))]
    [[[1, 1], [0, 1], [0, 0]], [[0, 1, 1], [0, 0, 1]]]
    """
    d = len(order)
    if sorted(order) != list(range(d)):
        raise ValueError(f"a MADE ordering must be a permutation of range({d}); got {list(order)}.")
    position = np.empty(d, np.int64)
    position[np.asarray(order)] = np.arange(d)
    degrees = [position] + [hidden_degrees(h, d) for h in hidden]
    masks = [(later[None, :] >= earlier[:, None]) for earlier, later in zip(degrees, degrees[1:])]
    masks.append(position[None, :] > degrees[-1][:, None])
    return [m.astype(np.float32) for m in masks]


class MaskedDense(nn.Module):
    r""":math:`y = x (W \odot M) + b` for a fixed mask ``M [fan_in, features]``.

    :math:`W` starts LeCun-normal times ``kernel_scale``; ``bias_init`` sets :math:`b` (zeros
    by default).
    """

    mask: np.ndarray
    bias_init: Callable = nn.initializers.zeros
    kernel_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fan_in, features = self.mask.shape
        init = nn.initializers.variance_scaling(self.kernel_scale**2, "fan_in", "truncated_normal")
        kernel = self.param("kernel", init, (fan_in, features))
        bias = self.param("bias", self.bias_init, (features,))
        mask = jnp.asarray(self.mask, kernel.dtype)
        return flatten_rows(x, lambda rows: rows @ (kernel * mask) + bias)


class MADE(nn.Module):
    r"""``x [..., D], context [..., C] -> num_heads`` arrays ``[..., D]``, autoregressive in
    ``order``.

    Attributes:
      order: the variables in autoregressive order (a permutation of ``range(D)``).
      hidden: hidden-layer widths (may be empty: one masked linear map).
      num_heads: outputs per variable (2 for an IAF step's :math:`(m, s)`).
      head_bias: initial bias of each head (``None``: zeros); the IAF sets its gate's bias.
      output_scale: scales the output layer's initial weights (the IAF starts near its bias;
        openai/iaf multiplies its autoregressive outputs by 0.1).
      activation: the hidden nonlinearity (ELU by default).

    The context may have fewer leading axes than ``x`` (``[B, C]`` beside ``[K, B, D]``); its
    contribution is computed once per row of the context and broadcast.
    """

    order: Sequence[int]
    hidden: Sequence[int]
    num_heads: int = 1
    head_bias: Sequence[float] | None = None
    output_scale: float = 1.0
    activation: Callable[[jax.Array], jax.Array] = nn.elu

    @nn.compact
    def __call__(self, x: jax.Array, context: jax.Array | None = None) -> tuple[jax.Array, ...]:
        d = len(self.order)
        if x.shape[-1] != d:
            raise ValueError(f"MADE over {d} variables got inputs of size {x.shape[-1]}.")
        if self.head_bias is not None and len(self.head_bias) != self.num_heads:
            raise ValueError(
                f"head_bias needs one value per head ({self.num_heads}); got {self.head_bias}."
            )
        *hidden_masks, out_mask = made_masks(self.order, self.hidden)
        out_mask = np.tile(out_mask, (1, self.num_heads))
        h = x
        for i, mask in enumerate(hidden_masks):
            h = MaskedDense(mask, name=f"masked_{i}")(h)
            if i == 0 and context is not None:
                h = h + flatten_rows(context, nn.Dense(mask.shape[1], name="context"))
            h = self.activation(h)
        biases = np.repeat(np.asarray(self.head_bias or [0.0] * self.num_heads, np.float32), d)

        def bias_init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
            return jnp.asarray(biases, dtype)

        out = MaskedDense(out_mask, bias_init, self.output_scale, name="out")(h)
        if not self.hidden and context is not None:
            out = out + flatten_rows(context, nn.Dense(out_mask.shape[1], name="context"))
        return tuple(jnp.split(out, self.num_heads, axis=-1))
