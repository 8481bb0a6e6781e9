"""The XLA options jvae compiles with, and :func:`jit`: ``jax.jit`` with those options.

On CPU, XLA hands matrix products, reductions and element-wise ops to the YNNPACK library by
default (jax 0.10). For this library's shapes (thousands of rows of 50 to 784 columns) XLA's
own path, Eigen matrix products plus XLA's fused loops, was faster on the 2-core AMD EPYC
machine of ``benchmarks/``: in one interleaved run a K=50 training step ran 1.14x as fast
and a K=5000 evaluation 1.52x as fast (``python benchmarks/bench_xla_options.py``, table in
``benchmarks/results/xla_options.md``).

So on CPU every function jvae compiles passes ``xla_cpu_experimental_ynn_fusion_type=''``
(no YNNPACK fusions). Nothing global changes: other programs in the process keep XLA's
defaults, and on other backends, or when ``XLA_FLAGS`` already sets that option, jvae passes
no options at all.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

CPU_OPTIONS: dict[str, Any] = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def _accepted() -> bool:
    """Whether this XLA build knows the options (a build without YNNPACK fusions may not)."""
    try:
        jax.jit(jnp.negative).lower(jnp.zeros(())).compile(compiler_options=CPU_OPTIONS)
    except Exception:  # an unknown option: XLA raises at compile time
        return False
    return True


def compiler_options(backend: str | None = None) -> dict[str, Any]:
    """Options for compiling on ``backend`` (default: jax's default backend).

    :data:`CPU_OPTIONS` on CPU when XLA accepts them and ``XLA_FLAGS`` does not already choose
    the YNNPACK fusions; ``{}`` otherwise.
    """
    backend = backend or jax.default_backend()
    if backend != "cpu" or "ynn_fusion_type" in os.environ.get("XLA_FLAGS", ""):
        return {}
    return dict(CPU_OPTIONS) if _accepted() else {}


def jit(fun: Callable, **kwargs: Any) -> Callable:
    """``jax.jit(fun, **kwargs)`` compiled with :func:`compiler_options`."""
    return jax.jit(fun, compiler_options=compiler_options() or None, **kwargs)
