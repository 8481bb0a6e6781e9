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
    across chunks (``lax.scan``); the last chunk may be smaller.

    Args:
      log_w_fn: ``(rng_key, n) -> [n, B]`` log-weights of ``n`` fresh draws.
      rng_key: chunk ``i`` uses ``fold_in(rng_key, i)``.
      num_samples: ``K``.
      chunk_size: draws per chunk.

    Returns:
      ``[B]``.
    """
    chunk_size = min(chunk_size, num_samples)
    full, rest = divmod(num_samples, chunk_size)

    def accumulate(carry: tuple[jax.Array, jax.Array], lw: jax.Array):
        m, s = carry
        m_new = jnp.maximum(m, jnp.max(lw, axis=0))
        m_safe = jnp.where(jnp.isfinite(m_new), m_new, 0.0)
        s = s * jnp.exp(m - m_safe) + jnp.sum(jnp.exp(lw - m_safe), axis=0)
        return m_new, s

    def body(carry, i):
        return accumulate(carry, log_w_fn(jax.random.fold_in(rng_key, i), chunk_size)), None

    first = log_w_fn(jax.random.fold_in(rng_key, 0), chunk_size)
    init = (jnp.full(first.shape[1:], -jnp.inf, first.dtype), jnp.zeros(first.shape[1:]))
    carry = accumulate(init, first)
    carry, _ = jax.lax.scan(body, carry, jnp.arange(1, full))
    if rest:
        carry = accumulate(carry, log_w_fn(jax.random.fold_in(rng_key, full), rest))
    m, s = carry
    m_safe = jnp.where(jnp.isfinite(m), m, 0.0)
    return jnp.where(s > 0, jnp.log(jnp.where(s > 0, s, 1.0)) + m_safe, -jnp.inf) - jnp.log(
        num_samples
    )


def make_bound_evaluator(
    model: Model, num_samples: int, chunk_size: int = 100
) -> Callable[[Any, jax.Array, jax.Array], jax.Array]:
    """Jitted ``(params, rng_key, x[B, D]) -> L_K [B]`` with K streamed in chunks."""

    @compiler.jit
    def evaluate(params: Any, rng_key: jax.Array, x: jax.Array) -> jax.Array:
        def log_w_fn(key: jax.Array, n: int) -> jax.Array:
            return model.log_weights(params, key, x, n).total

        return streamed_iwae(log_w_fn, rng_key, num_samples, chunk_size)

    return evaluate


def dataset_bound(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    data: np.ndarray | jax.Array,
    num_samples: int,
    batch_size: int = 500,
    chunk_size: int = 100,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Per-example :math:`\\mathcal L_K` over a whole dataset ``[N, D]`` (binary), ``[N]``.

    Batches are evaluated one jitted call each (one compilation; a smaller last batch is
    padded). Example ``i`` in batch ``j`` uses ``fold_in(rng_key, j)``.
    """
    evaluate = make_bound_evaluator(model, num_samples, chunk_size)
    data = np.asarray(data)
    batch_size = min(batch_size, data.shape[0])
    return map_batches(
        lambda key, x: np.asarray(evaluate(params, key, jnp.asarray(x))),
        rng_key,
        data,
        batch_size,
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
    batch_size: int = 100,
    chunk_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Per-example :math:`\\mathcal L_K` over ``data[N, D]``, ``[N]``, like
    :func:`dataset_bound` but with rows over ``'data'`` and samples over
    ``'samples'``. Batch ``j`` uses ``fold_in(rng_key, j)``; a smaller last batch is padded."""
    parallel.check_batch_size(batch_size, mesh, "eval batch size")
    evaluate_batch = make_sharded_bound_evaluator(model, num_samples, mesh, chunk_size)
    params = parallel.put(params, parallel.replicated(mesh))

    def batch_bound(key: jax.Array, x: np.ndarray) -> np.ndarray:
        values = evaluate_batch(
            params,
            parallel.put(key, parallel.replicated(mesh)),
            parallel.put(x, parallel.batch_sharded(mesh)),
        )
        return multihost_utils.process_allgather(values, tiled=True)

    return map_batches(batch_bound, rng_key, np.asarray(data), batch_size, progress)
