"""Evaluation: IWAE bounds with K streamed in chunks, test NLL, active units."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jvae import compiler
from jvae.models import Model


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


def active_units(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    data: np.ndarray | jax.Array,
    threshold: float = 0.01,
    num_samples: int = 100,
    batch_size: int = 1000,
) -> list[dict[str, Any]]:
    r"""Active units per stochastic layer (Burda et al. 2015, section 5.2).

    Unit :math:`u` of layer :math:`l` is active when :math:`A_u = \mathrm{Cov}_x\big(
    E_{q(z_l|x)}[z_{l,u}]\big) > 0.01`. Upper-layer means average over ``num_samples`` draws
    of the layers below.

    Returns:
      one dict per layer: ``{'active': int, 'variances': [D_l] numpy array}``.
    """
    means_fn = compiler.jit(lambda p, k, x: model.posterior_means(p, k, x, num_samples))
    data = np.asarray(data)
    chunks: list[list[np.ndarray]] = [[] for _ in model.latent_sizes]
    for j, start in enumerate(range(0, data.shape[0], batch_size)):
        means = means_fn(params, jax.random.fold_in(rng_key, j), data[start : start + batch_size])
        for layer, m in enumerate(means):
            chunks[layer].append(np.asarray(m, np.float64))
    out = []
    for layer_chunks in chunks:
        variances = np.var(np.concatenate(layer_chunks), axis=0)
        out.append({"active": int(np.sum(variances > threshold)), "variances": variances})
    return out
