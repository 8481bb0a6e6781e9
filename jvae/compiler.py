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

A second CPU trait: XLA rewrites every convolution into its canonical form (NHWC input,
HWIO kernel) in a straight-line program but not inside a loop body, where a convolution of
another form runs as a naive loop (jax-ml/jax#12868). ``lax.conv``'s own gradients (those of
``flax.linen.Conv`` and ``ConvTranspose``) are of other forms: in a training epoch, one
``lax.scan``, a small conv VAE's steps ran 17x slower with Flax's convolutions than with
:class:`jvae.nn.Conv` and :class:`jvae.nn.ConvTranspose`, whose gradients are canonical
(8x8 and 28x28 images, ``python benchmarks/bench_conv_loop.py``, table in
``benchmarks/results/conv_loop.md``). :func:`noncanonical_convolutions` finds them, and
:func:`jvae.training.make_epoch` warns about them on CPU.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.extend as jex
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


class SlowConvolutionWarning(UserWarning):
    """Convolutions that XLA on CPU would run as naive loops inside a loop body."""


def _canonical(dims: jax.lax.ConvDimensionNumbers) -> bool:
    """NHWC input and output, HWIO kernel (in any number of spatial dimensions)."""
    n = len(dims.lhs_spec)
    nhwc, hwio = (0, n - 1, *range(1, n - 1)), (n - 1, n - 2, *range(n - 2))
    return tuple(dims.lhs_spec) == tuple(dims.out_spec) == nhwc and tuple(dims.rhs_spec) == hwio


def _count_noncanonical(jaxpr: Any) -> int:
    """:func:`noncanonical_convolutions` of a jaxpr and, recursively, its sub-jaxprs."""
    count = sum(
        not _canonical(eqn.params["dimension_numbers"])
        for eqn in jaxpr.eqns
        if eqn.primitive.name == "conv_general_dilated"
    )
    return count + sum(_count_noncanonical(sub) for sub in jex.core.subjaxprs(jaxpr))


def noncanonical_convolutions(fun: Callable, *args: Any) -> int:
    """How many convolutions of ``fun(*args)``'s program (any autodiff it takes included, and
    every sub-program: ``jit``, ``cond``, ``scan``) are not in XLA's canonical NHWC/HWIO form,
    so that XLA on CPU would run them as naive loops inside a loop body. ``args`` may be
    arrays, tracers or ``jax.ShapeDtypeStruct``: nothing runs."""
    shapes = jax.tree.map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), args)
    return _count_noncanonical(jax.make_jaxpr(fun)(*shapes).jaxpr)


def call_checking_convolutions(fun: Callable, *args: Any) -> Any:
    """``fun(*args)``, traced once (as its jaxpr, then evaluated in the caller's trace: a loop
    body's), with a :class:`SlowConvolutionWarning` on CPU when the program holds
    :func:`noncanonical_convolutions`, naming the fix."""
    closed, out_shape = jax.make_jaxpr(fun, return_shape=True)(*args)
    count = _count_noncanonical(closed.jaxpr) if jax.default_backend() == "cpu" else 0
    if count:
        warnings.warn(
            f"{count} convolutions of this step are not in NHWC/HWIO form (the gradients of "
            "flax.linen.Conv, ConvTranspose or lax.conv); inside a lax.scan XLA on CPU runs "
            "them as naive loops, several times slower (jax-ml/jax#12868): build the networks "
            "from jvae.nn.Conv and jvae.nn.ConvTranspose, whose gradients are NHWC/HWIO.",
            SlowConvolutionWarning,
            stacklevel=3,
        )
    out = jex.core.jaxpr_as_fun(closed)(*jax.tree.leaves(args))
    return jax.tree.unflatten(jax.tree.structure(out_shape), out)
