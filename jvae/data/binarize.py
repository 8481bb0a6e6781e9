r"""Binarisation of grey-level images: dynamic (a fresh draw per step) and static (seeded).

:func:`bernoulli_bytes` is the training step's dynamic binarisation: an exact
:math:`\mathrm{Bernoulli}(x)` draw that compares random bytes with the base-256 digits of
:math:`x` (a uniform :math:`U = 0.u_1 u_2 \ldots_{256}` against :math:`x = 0.d_1 d_2
\ldots_{256}`),

.. math:: b = 1 \iff U < x, \qquad P(b = 1) = \frac{d_1}{256} + \frac{1}{256}\Big(
          \frac{d_2}{256} + \frac{1}{256}\Big(\frac{d_3}{256} + \ldots\Big)\Big).

The first byte decides unless :math:`u_1 = d_1` (probability 1/256), and only then do later
digits matter. Grey levels on the grid :math:`v / 256` (MNIST's pickle, dSprites' {0, 1})
have one digit, so one byte per pixel is exact: :math:`P(u_1 < 256 x) = x`, an eighth of the
Threefry blocks of ``jax.random.bernoulli`` (one block gives 8 bytes; ``bernoulli`` spends a
block per pixel). Other levels (Omniglot's :math:`v / 225`) draw up to three more bytes, each
only when some pixel is still tied (``lax.cond``): :math:`|P(b = 1) - x| < 2^{-32}`, finer
than ``jax.random.bernoulli``'s :math:`2^{-23}`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import threefry_2x32

BYTES = 4  # digits compared at most: |P(b = 1) - x| < 256^-4


def binarize(rng_key: jax.Array, x: jax.Array | np.ndarray) -> jax.Array:
    """Dynamic binarization: each pixel is ``Bernoulli(x)``, as float32 of ``x``'s shape
    (``jax.random.bernoulli``; :func:`static_binarize` draws with it, so fixed test sets stay
    as they were; training draws with :func:`bernoulli_bytes`)."""
    return jax.random.bernoulli(rng_key, x).astype(np.float32)


def static_binarize(x: jax.Array | np.ndarray, seed: int = 0) -> np.ndarray:
    """Fixed-seed binarization (for evaluation): the same ``seed`` always gives the same data."""
    return np.asarray(binarize(jax.random.key(seed), x))


def random_bytes(rng_key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """I.i.d. uniform bytes of ``shape`` (uint8): both 32-bit words of each Threefry-2x32
    block, four bytes a word (``jax.random.bits`` words for keys of other implementations).

    >>> random_bytes(jax.random.key(0), (2, 3)).shape
    (2, 3)
    """
    size = int(np.prod(shape, dtype=np.int64))
    words = -(-size // 4)
    if str(jax.random.key_impl(rng_key)) == "threefry2x32":
        bits = threefry_2x32(jax.random.key_data(rng_key), jnp.arange(words, dtype=jnp.uint32))
    else:
        bits = jax.random.bits(rng_key, (words,), jnp.uint32)
    return jax.lax.bitcast_convert_type(bits, jnp.uint8).reshape(-1)[:size].reshape(shape)


def bernoulli_bytes(rng_key: jax.Array, x: jax.Array | np.ndarray) -> jax.Array:
    r"""Exact dynamic binarisation :math:`b \sim \mathrm{Bernoulli}(x)`, in ``x``'s dtype and
    shape; a pure function of the key (values outside [0, 1] act as clipped).

    Level :math:`l` splits :math:`256 r_{l-1} = d_l + r_l` (:math:`r_0 = x`; digit
    :math:`d_l` an integer, rest :math:`r_l \in [0, 1)`, exact in float32) and draws a byte
    :math:`u_l`: :math:`u_l < d_l` gives 1, :math:`u_l > d_l` or a tie with :math:`r_l = 0`
    gives 0, a tie with :math:`r_l > 0` goes on to level :math:`l + 1` (at most
    :data:`BYTES`; a tie there gives 0, so :math:`0 \le x - P(b = 1) < 256^{-4}`). Levels
    after the first are drawn only when some pixel reaches them.

    >>> import jax.numpy as jnp
    >>> bernoulli_bytes(jax.random.key(0), jnp.array([0.0, 1.0, 0.0, 1.0])).tolist()
    [0.0, 1.0, 0.0, 1.0]
    """
    x = jnp.asarray(x)
    keys = jax.random.split(rng_key, BYTES)

    def level(index: int, rest: jax.Array, reached: jax.Array | None) -> jax.Array:
        scaled = rest * 256.0  # exact: a power of two
        digit = jnp.floor(scaled)
        rest = scaled - digit
        u = random_bytes(keys[index], x.shape).astype(jnp.float32)
        below = u < digit
        if index == BYTES - 1:
            return below
        tie = (u == digit) & (rest > 0.0)
        if reached is not None:
            tie = tie & reached
        later = jax.lax.cond(
            jnp.any(tie),
            lambda: level(index + 1, rest, tie),
            lambda: jnp.zeros(x.shape, bool),
        )
        return below | (tie & later)

    return level(0, jnp.clip(x.astype(jnp.float32), 0.0, 1.0), None).astype(x.dtype)
