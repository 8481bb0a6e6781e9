"""Shared fixtures: fixed seeds, tiny models and data."""

from __future__ import annotations

import jax
import numpy as np
import pytest


@pytest.fixture
def rng_key() -> jax.Array:
    return jax.random.PRNGKey(0)


@pytest.fixture(scope="session")
def grey_data() -> np.ndarray:
    """512 synthetic 'images' in [0, 1): smooth blobs, so a VAE can learn something fast."""
    rng = np.random.default_rng(0)
    centres = rng.uniform(6, 22, size=(512, 2))
    yy, xx = np.mgrid[0:28, 0:28]
    d2 = (yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2
    return np.clip(np.exp(-d2 / 20.0), 0.0, 0.999).reshape(512, 784).astype(np.float32)
