"""Shared fixtures (fixed seeds, tiny models and data) and how the suite compiles.

Most of the suite's time is XLA compiling small programs that then run for milliseconds, so
two settings, made before jax starts, cut it without changing what is computed:

- quick compiles: XLA_FLAGS gains ``_workers.FAST_XLA`` (no LLVM optimisation of the code;
  the same HLO passes, buffer assignment and memory analysis, so the memory planner picks the
  same shapes; results agree to float rounding), unless XLA_FLAGS already sets an
  optimisation level. ``JVAE_TEST_XLA_DEFAULTS=1`` keeps XLA's defaults.
- a persistent compilation cache, one temporary folder per test process, deleted at exit: a
  program compiled again (the same evaluation of the same architecture in another experiment
  row or test) is read back from it instead of compiled. In-memory caches, traces and
  ``_cache_size()`` are unchanged.

Subprocesses inherit XLA_FLAGS but not the cache; tests that want other flags set their own.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from _workers import FAST_XLA

if not os.environ.get("JVAE_TEST_XLA_DEFAULTS") and "optimization_level" not in os.environ.get(
    "XLA_FLAGS", ""
):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_XLA}".strip()

import jax  # noqa: E402  (after XLA_FLAGS: XLA reads them once, when its backend starts)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

_CACHE = tempfile.mkdtemp(prefix="jvae-test-xla-cache-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` first (stable otherwise), so that with ``-n 2 --dist worksteal``
    the long ones start early and the short ones fill in around them."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def rng_key() -> jax.Array:
    return jax.random.PRNGKey(0)


@pytest.fixture(scope="session")
def grey_data() -> np.ndarray:
    """512 synthetic 'images' ``[512, 28, 28, 1]`` in [0, 1): smooth blobs, so a VAE can learn
    something fast."""
    rng = np.random.default_rng(0)
    centres = rng.uniform(6, 22, size=(512, 2))
    yy, xx = np.mgrid[0:28, 0:28]
    d2 = (yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2
    return np.clip(np.exp(-d2 / 20.0), 0.0, 0.999).reshape(512, 28, 28, 1).astype(np.float32)


@pytest.fixture(scope="session")
def grey_rows(grey_data) -> np.ndarray:
    """``grey_data`` flattened to ``[512, 784]``: the batches of a model whose event shape is
    ``(784,)`` (``iwae_mlp`` and the other MLP models by default)."""
    return grey_data.reshape(len(grey_data), -1)
