"""Test NLL by importance sampling: :math:`\\mathcal L_K` with K streamed in chunks (K=5000 in
bounded memory), over a dataset, on one device or with rows and samples sharded over a mesh."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from jvae import compiler
from jvae.diagnostics import memory
from jvae.models.model import Model
from jvae.training import parallel


def streamed_iwae(
    log_w_fn: Callable[[jax.Array, int], jax.Array],
    rng_key: jax.Array,
    num_samples: int,
    chunk_size: int,
) -> jax.Array:
    r""":math:`\mathcal L_K = \log \frac1K \sum_k w_k` with the K draws made ``chunk_size`` at a
    time, so memory is bounded by one chunk whatever ``K``.

    A running max :math:`m` and rescaled sum :math:`s = \sum_k e^{\ell_k - m}` are carried
    across chunks (``lax.scan``), all of them inside the loop, so XLA keeps one chunk's buffers
    (a chunk outside it, or a loop short enough to unroll, would hold its own). The last chunk
    draws ``chunk_size`` too and gives its draws past ``K`` weight 0.

    Args:
      log_w_fn: ``(rng_key, n) -> [n, B]`` log-weights of ``n`` fresh draws.
      rng_key: chunk ``i`` uses ``fold_in(rng_key, i)``.
      num_samples: ``K``.
      chunk_size: draws per chunk.

    Returns:
      ``[B]``.
    """
    chunk_size = min(chunk_size, num_samples)
    num_chunks = -(-num_samples // chunk_size)

    def accumulate(carry: tuple[jax.Array, jax.Array], lw: jax.Array):
        m, s = carry
        m_new = jnp.maximum(m, jnp.max(lw, axis=0))
        m_safe = jnp.where(jnp.isfinite(m_new), m_new, 0.0)
        s = s * jnp.exp(m - m_safe) + jnp.sum(jnp.exp(lw - m_safe), axis=0)
        return m_new, s

    def body(carry, i):
        lw = log_w_fn(jax.random.fold_in(rng_key, i), chunk_size)
        if num_chunks * chunk_size > num_samples:  # the last chunk's extra draws count for 0
            drawn = i * chunk_size + jnp.arange(chunk_size)
            lw = jnp.where((drawn < num_samples)[:, None], lw, -jnp.inf)
        return accumulate(carry, lw), None

    out = jax.eval_shape(lambda key: log_w_fn(key, chunk_size), rng_key)
    init = (jnp.full(out.shape[1:], -jnp.inf, out.dtype), jnp.zeros(out.shape[1:], out.dtype))
    # Inside shard_map the draws vary over the mesh's manual axes: so must the carry.
    varying = getattr(getattr(out, "manual_axis_type", None), "varying", frozenset())
    if varying:
        init = jax.lax.pcast(init, tuple(sorted(varying)), to="varying")
    carry, _ = jax.lax.scan(body, init, jnp.arange(num_chunks))
    m, s = carry
    m_safe = jnp.where(jnp.isfinite(m), m, 0.0)
    return jnp.where(s > 0, jnp.log(jnp.where(s > 0, s, 1.0)) + m_safe, -jnp.inf) - jnp.log(
        num_samples
    )


def _bound_fn(
    model: Model, num_samples: int, chunk_size: int
) -> Callable[[Any, jax.Array, jax.Array], jax.Array]:
    """Jitted ``(params, rng_key, x[B, D]) -> L_K [B]``, K streamed ``chunk_size`` at a time."""

    @compiler.jit
    def evaluate(params: Any, rng_key: jax.Array, x: jax.Array) -> jax.Array:
        def log_w_fn(key: jax.Array, n: int) -> jax.Array:
            return model.log_weights(params, key, x, n).total

        return streamed_iwae(log_w_fn, rng_key, num_samples, chunk_size)

    return evaluate


def _compile_bound(
    model: Model, params: Any, rng_key: jax.Array, x_shape: tuple[int, ...], dtype: Any, k: int
) -> Callable[[int, int], jax.stages.Compiled]:
    """``(B, C) -> `` the bound over ``[B, *x_shape]`` with chunks of ``C``, compiled."""

    def compile_at(batch: int, chunk: int) -> jax.stages.Compiled:
        x = jax.ShapeDtypeStruct((batch, *x_shape), jax.dtypes.canonicalize_dtype(dtype))
        return _bound_fn(model, k, chunk).lower(params, rng_key, x).compile()

    return compile_at


def make_bound_evaluator(
    model: Model,
    num_samples: int,
    chunk_size: int | None = None,
    memory_bytes: int | None = None,
) -> Callable[[Any, jax.Array, jax.Array], jax.Array]:
    """``(params, rng_key, x[B, D]) -> L_K [B]`` with K streamed in chunks.

    With ``chunk_size`` the jitted function; without, the chunk is planned for each new
    ``x`` shape (the batch as given) within ``memory_bytes``
    (:func:`jvae.diagnostics.memory.plan_evaluation`) and that compiled function runs.
    """
    if chunk_size is not None:
        return _bound_fn(model, num_samples, chunk_size)
    planned: dict[tuple[Any, ...], jax.stages.Compiled] = {}

    def evaluate(params: Any, rng_key: jax.Array, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        shape = (x.shape, x.dtype, jax.tree.structure(params))
        if shape not in planned:
            compile_at = _compile_bound(model, params, rng_key, x.shape[1:], x.dtype, num_samples)
            _, planned[shape] = memory.plan_evaluation(
                compile_at, x.shape[0], num_samples, memory_bytes, batch_size=x.shape[0]
            )
        return planned[shape](params, rng_key, x)

    return evaluate


def plan_dataset_bound(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    data: np.ndarray | jax.Array,
    num_samples: int,
    memory_bytes: int | None = None,
    *,
    batch_size: int | None = None,
    chunk_size: int | None = None,
) -> tuple[memory.Plan, Callable[[Any, jax.Array, jax.Array], jax.Array]]:
    """The batch and chunk :func:`dataset_bound` runs at within ``memory_bytes`` (default
    :func:`jvae.diagnostics.memory.default_memory_bytes`), and the function compiled at them,
    ``(params, rng_key, x[batch, D]) -> [batch]``. ``batch_size``/``chunk_size`` pin either."""
    compile_at = _compile_bound(model, params, rng_key, data.shape[1:], data.dtype, num_samples)
    return memory.plan_evaluation(
        compile_at,
        data.shape[0],
        num_samples,
        memory_bytes,
        batch_size=batch_size,
        chunk_size=chunk_size,
    )


def dataset_bound(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    data: np.ndarray | jax.Array,
    num_samples: int,
    batch_size: int | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    memory_bytes: int | None = None,
) -> np.ndarray:
    """Per-example :math:`\\mathcal L_K` over a whole dataset ``[N, D]`` (binary), ``[N]``.

    Batch and chunk sizes are planned within ``memory_bytes`` (XLA's bytes for the compiled
    evaluation; default :func:`jvae.diagnostics.memory.default_memory_bytes`), whatever the
    decoder: :func:`plan_dataset_bound`. ``batch_size``/``chunk_size`` pin either (both pinned:
    no planning). Batches are evaluated one compiled call each (one compilation beside the
    planning's two small ones; a smaller last batch is padded). Example ``i`` in batch ``j``
    uses ``fold_in(rng_key, j)``, so the draws, not the value's expectation, depend on the plan.
    """
    data = np.asarray(data)
    plan, evaluate = plan_dataset_bound(
        model,
        params,
        rng_key,
        data,
        num_samples,
        memory_bytes,
        batch_size=batch_size,
        chunk_size=chunk_size,
    )
    return map_batches(
        lambda key, x: np.asarray(evaluate(params, key, jnp.asarray(x))),
        rng_key,
        data,
        plan.batch_size,
        progress,
    )


def map_batches(
    fn: Callable[[jax.Array, np.ndarray], np.ndarray],
    rng_key: jax.Array,
    data: np.ndarray,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """``fn(fold_in(rng_key, j), x_j) -> [batch_size]`` over fixed-size batches ``x_j`` of
    ``data``, concatenated to ``[N]`` (float64); the last batch is zero-padded, so ``fn``
    compiles once."""
    n = data.shape[0]
    out = np.empty((n,), np.float64)
    for j, start in enumerate(range(0, n, batch_size)):
        x = data[start : start + batch_size]
        m = x.shape[0]
        if m < batch_size:
            x = np.concatenate([x, np.zeros((batch_size - m, *x.shape[1:]), x.dtype)])
        out[start : start + m] = fn(jax.random.fold_in(rng_key, j), x)[:m]
        if progress is not None:
            progress(m)
    return out


def make_sharded_bound_evaluator(
    model: Model, num_samples: int, mesh: Mesh, chunk_size: int = 500
) -> Callable[[Any, jax.Array, jax.Array], jax.Array]:
    r"""Jitted ``(params, rng_key, x[B, D]) -> L_K [B]`` on a ``('data', 'samples')`` mesh.

    Device ``(d, s)`` draws ``K / S`` samples for its rows with key
    ``fold_in(fold_in(rng_key, d), s)``, streamed in chunks (:func:`streamed_iwae`);
    then :math:`\mathcal L_K = m + \log \frac1S \sum_s e^{\mathcal L^{(s)} - m}` with
    :math:`m = \max_s \mathcal L^{(s)}` (``pmax``, ``psum`` over ``'samples'``).
    """
    shards = mesh.shape[parallel.SAMPLES]
    if num_samples % shards:
        raise ValueError(
            f"K={num_samples} is not divisible by the {shards} sample shards of the mesh."
        )

    def local(params: Any, rng_key: jax.Array, x: jax.Array) -> jax.Array:
        key = jax.random.fold_in(rng_key, jax.lax.axis_index(parallel.DATA))
        key = jax.random.fold_in(key, jax.lax.axis_index(parallel.SAMPLES))

        def log_w_fn(k: jax.Array, n: int) -> jax.Array:
            return model.log_weights(params, k, x, n).total

        bound = streamed_iwae(log_w_fn, key, num_samples // shards, chunk_size)
        m = jax.lax.pmax(bound, parallel.SAMPLES)
        m_safe = jnp.where(jnp.isfinite(m), m, 0.0)
        total = jax.lax.psum(jnp.exp(bound - m_safe), parallel.SAMPLES)
        log_total = jnp.log(jnp.where(total > 0, total, 1.0))
        return jnp.where(total > 0, log_total + m_safe, -jnp.inf) - jnp.log(shards)

    mapped = jax.shard_map(
        local, mesh=mesh, in_specs=(P(), P(), P(parallel.DATA)), out_specs=P(parallel.DATA)
    )
    return compiler.jit(mapped)


def sharded_dataset_bound(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    data: np.ndarray | jax.Array,
    num_samples: int,
    mesh: Mesh,
    batch_size: int | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    memory_bytes: int | None = None,
) -> np.ndarray:
    """Per-example :math:`\\mathcal L_K` over ``data[N, D]``, ``[N]``, like
    :func:`dataset_bound` but with rows over ``'data'`` and samples over ``'samples'``.

    ``memory_bytes`` is per device (XLA's bytes for one device's part of the compiled
    evaluation); the batch (a multiple of the data devices) and the chunk of each device's
    ``K / S`` draws are planned within it unless ``batch_size``/``chunk_size`` pin them. Batch
    ``j`` uses ``fold_in(rng_key, j)``; a smaller last batch is padded.
    """
    devices = mesh.shape[parallel.DATA]
    if batch_size is not None:
        parallel.check_batch_size(batch_size, mesh, "eval batch size")
    shards = mesh.shape[parallel.SAMPLES]
    if num_samples % shards:
        raise ValueError(
            f"K={num_samples} is not divisible by the {shards} sample shards of the mesh."
        )
    data = np.asarray(data)
    params = parallel.put(params, parallel.replicated(mesh))
    key = parallel.put(rng_key, parallel.replicated(mesh))
    dtype = jax.dtypes.canonicalize_dtype(data.dtype)

    def compile_at(rows: int, chunk: int) -> jax.stages.Compiled:
        x = jax.ShapeDtypeStruct(
            (rows * devices, *data.shape[1:]), dtype, sharding=parallel.batch_sharded(mesh)
        )
        fn = make_sharded_bound_evaluator(model, num_samples, mesh, chunk)
        return fn.lower(params, key, x).compile()

    plan, evaluate_batch = memory.plan_evaluation(
        compile_at,
        -(-data.shape[0] // devices),
        num_samples // shards,
        memory_bytes,
        batch_size=None if batch_size is None else batch_size // devices,
        chunk_size=chunk_size,
    )

    def batch_bound(key: jax.Array, x: np.ndarray) -> np.ndarray:
        values = evaluate_batch(
            params,
            parallel.put(key, parallel.replicated(mesh)),
            parallel.put(x, parallel.batch_sharded(mesh)),
        )
        return multihost_utils.process_allgather(values, tiled=True)

    return map_batches(batch_bound, rng_key, data, plan.batch_size * devices, progress)
