r"""The dSprites networks of the beta-VAE papers, for 64x64 binary images fed flattened.

- Higgins et al. 2017 (appendix A.1, table 1, "2D shapes"): an MLP encoder 4096-1200-1200
  (ReLU) with linear heads for the mean and the log-std of 10 latents, and an MLP decoder
  10-1200-1200-1200 (tanh) to 4096 Bernoulli logits (:class:`HigginsEncoder`,
  :class:`HigginsDecoder`). The paper trains it with Adagrad (learning rate 1e-2), batch 64,
  beta = 4.
- Burgess et al. 2018 (appendix A.1): four convolutions of 32 channels, 4x4 kernels, stride 2
  (64 -> 32 -> 16 -> 8 -> 4), two dense layers of 256, and one dense layer of 2 x 10 for the
  mean and the log-std; the decoder is the transpose (dense 256, 256, 4 x 4 x 32, then four
  transposed convolutions 4x4 stride 2 back to 64x64x1 logits), ReLU throughout
  (:class:`BurgessEncoder`, :class:`BurgessDecoder`). Padding follows the PyTorch
  reimplementations (YannDubs/disentangling-vae ``EncoderBurgess``/``DecoderBurgess``):
  convolutions pad 1 on each side, and the transposed ones pad the dilated input by
  ``4 - 1 - 1 = 2``, so each layer halves or doubles the side exactly.

The (transposed) convolutions are written as matrix products of strided slices
(:class:`Conv4x4Stride2`): XLA's CPU convolutions ran about 10x slower inside a ``lax.scan`` (a
whole epoch) than alone (jax-ml/jax#12868; here 3-6 s per step of batch 64 against 0.3-0.5 s),
while matrix products do not mind the loop, and ``jax.vmap`` over models (sweeps) turns them
into batched products instead of grouped convolutions.

Every module maps ``[rows, D]`` to ``[rows, ...]`` (applied through
:func:`jvae.nn.mlp.apply_rows`, which stacks the K samples into the rows).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

SIDE = 64
CHANNELS = 32
CONV_LAYERS = 4
HIDDEN = 256


def _image(x: jax.Array) -> jax.Array:
    """``[rows, 4096] -> [rows, 64, 64, 1]``; ``ValueError`` for another size."""
    if x.shape[-1] != SIDE * SIDE:
        raise ValueError(
            f"the Burgess et al. conv net reads 64x64 images (4096 values); got {x.shape[-1]}: "
            "use --dataset dsprites or --architecture higgins-mlp."
        )
    return jnp.reshape(x, (x.shape[0], SIDE, SIDE, 1))


def conv_stride2(x: jax.Array, kernel: jax.Array) -> jax.Array:
    r"""4x4 convolution (cross-correlation), stride 2, zero padding 1: ``[N, H, W, C] ->
    [N, H/2, W/2, F]`` with ``kernel [4, 4, C, F]``,

    .. math:: y_{n,i,j} = \sum_{r,c} \tilde x_{n, 2i + r, 2j + c}\, w_{r,c}

    with :math:`\tilde x` the padded input: one ``[N H W / 4, 16 C] x [16 C, F]`` product of
    the 16 strided slices."""
    n, h, w, c = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    taps = [xp[:, r : r + h : 2, s : s + w : 2, :] for r in range(4) for s in range(4)]
    patches = jnp.stack(taps, axis=3).reshape(n * (h // 2) * (w // 2), 16 * c)
    out = patches @ kernel.reshape(16 * c, -1)
    return out.reshape(n, h // 2, w // 2, -1)


def conv_transpose_stride2(x: jax.Array, kernel: jax.Array) -> jax.Array:
    r"""4x4 transposed convolution, stride 2, padding 1 (PyTorch's ``ConvTranspose2d(k=4, s=2,
    p=1)``): ``[N, H, W, C] -> [N, 2H, 2W, F]`` with ``kernel [4, 4, C, F]``,

    .. math:: y_{n,o,o'} = \sum_{i, k:\ o = 2i - 1 + k} \ \sum_{i', k':\ o' = 2i' - 1 + k'}
              x_{n,i,i'}\, w_{k,k'}.

    Output pixel :math:`(2m + a, 2q + b)` reads the 2x2 input window at padded rows
    :math:`m + a + r` and columns :math:`q + b + s` (:math:`r, s \in \{0, 1\}`) with kernel
    taps :math:`(3 - a - 2r, 3 - b - 2s)`: four ``[N H W, 4 C] x [4 C, F]`` products (one per
    output phase), interleaved."""
    n, h, w, c = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    rows = []
    for a in range(2):
        phases = []
        for b in range(2):
            window = [
                xp[:, a + r : a + r + h, b + s : b + s + w, :] for r in (0, 1) for s in (0, 1)
            ]
            taps = jnp.stack([kernel[3 - a - 2 * r, 3 - b - 2 * s] for r in (0, 1) for s in (0, 1)])
            patches = jnp.stack(window, axis=3).reshape(n * h * w, 4 * c)
            phases.append((patches @ taps.reshape(4 * c, -1)).reshape(n, h, w, -1))
        rows.append(jnp.stack(phases, axis=3))  # [N, H, W, 2 (b), F]
    return jnp.stack(rows, axis=2).reshape(n, 2 * h, 2 * w, -1)  # [N, H, 2 (a), W, 2 (b), F]


class Conv4x4Stride2(nn.Module):
    """A 4x4, stride-2 convolution (``transpose=False``: halves the side) or transposed
    convolution (doubles it) with a bias, as matrix products (:func:`conv_stride2`,
    :func:`conv_transpose_stride2`); LeCun-normal kernel ``[4, 4, C, F]``, zero bias."""

    features: int
    transpose: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (4, 4, x.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        conv = conv_transpose_stride2 if self.transpose else conv_stride2
        return conv(x, kernel) + bias


class HigginsEncoder(nn.Module):
    """``x -> (mean, log_scale)``: dense 1200-1200 with ReLU, then two linear heads."""

    latent: int = 10
    hidden: tuple[int, ...] = (1200, 1200)

    @nn.compact
    def __call__(self, h: jax.Array) -> tuple[jax.Array, jax.Array]:
        for i, f in enumerate(self.hidden):
            h = nn.relu(nn.Dense(f, name=f"dense_{i}")(h))
        return nn.Dense(self.latent, name="mean")(h), nn.Dense(self.latent, name="log_scale")(h)


class HigginsDecoder(nn.Module):
    """``z -> logits [rows, out]``: dense 1200-1200-1200 with tanh, then a linear layer."""

    out: int = SIDE * SIDE
    hidden: tuple[int, ...] = (1200, 1200, 1200)

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        for i, f in enumerate(self.hidden):
            h = jnp.tanh(nn.Dense(f, name=f"dense_{i}")(h))
        return nn.Dense(self.out, name="logits")(h)


class BurgessEncoder(nn.Module):
    """``x [rows, 4096] -> (mean, log_scale)``: 4 x conv(32, 4x4, stride 2), dense 256-256,
    then the two halves of a dense layer of 2 x ``latent``."""

    latent: int = 10

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = _image(x)
        for i in range(CONV_LAYERS):
            h = nn.relu(Conv4x4Stride2(CHANNELS, name=f"conv_{i}")(h))
        h = jnp.reshape(h, (h.shape[0], -1))
        for i in range(2):
            h = nn.relu(nn.Dense(HIDDEN, name=f"dense_{i}")(h))
        mean, log_scale = jnp.split(nn.Dense(2 * self.latent, name="heads")(h), 2, axis=-1)
        return mean, log_scale


class BurgessDecoder(nn.Module):
    """``z [rows, latent] -> logits [rows, 4096]``: dense 256-256-512 read as 4x4x32, then
    4 transposed convolutions (4x4, stride 2; the last to one channel)."""

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        h = z
        for i, f in enumerate((HIDDEN, HIDDEN, 4 * 4 * CHANNELS)):
            h = nn.relu(nn.Dense(f, name=f"dense_{i}")(h))
        h = jnp.reshape(h, (h.shape[0], 4, 4, CHANNELS))
        for i in range(CONV_LAYERS):
            last = i == CONV_LAYERS - 1
            h = Conv4x4Stride2(1 if last else CHANNELS, transpose=True, name=f"deconv_{i}")(h)
            if not last:
                h = nn.relu(h)
        return jnp.reshape(h, (h.shape[0], SIDE * SIDE))
