"""Binarisation of grey-level images: dynamic (a fresh draw per step) and static (seeded)."""

from __future__ import annotations

import jax
import numpy as np


def binarize(rng_key: jax.Array, x: jax.Array | np.ndarray) -> jax.Array:
    """Dynamic binarization: each pixel is ``Bernoulli(x)``, as float32 of ``x``'s shape."""
    return jax.random.bernoulli(rng_key, x).astype(np.float32)


def static_binarize(x: jax.Array | np.ndarray, seed: int = 0) -> np.ndarray:
    """Fixed-seed binarization (for evaluation): the same ``seed`` always gives the same data."""
    return np.asarray(binarize(jax.random.key(seed), x))
