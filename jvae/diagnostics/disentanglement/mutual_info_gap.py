"""The mutual information gap (MIG) of Chen et al. 2018, with the plug-in mutual information of
discretised codes and factors."""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jvae import compiler
from jvae.data.factors import FactorDataset
from jvae.diagnostics.disentanglement.common import (
    Representation,
    at_least,
    factor_sizes_of,
    grouped_codes,
    metric_result,
    sample_factors,
)


def check_arguments(num_points: int, num_bins: int, batch_size: int) -> None:
    at_least(2, num_points=num_points, num_bins=num_bins)
    at_least(1, batch_size=batch_size)


def _discretise(codes: jax.Array, num_bins: int) -> jax.Array:
    """``[n, d] -> [n, d]`` bin indices in ``[0, num_bins)``: equal-width bins from each
    column's min to max, as ``np.digitize(c, np.histogram(c, num_bins)[1][:-1]) - 1``
    (a constant column: one bin)."""
    lo, hi = jnp.min(codes, axis=0), jnp.max(codes, axis=0)
    lo, hi = jnp.where(hi > lo, lo, lo - 0.5), jnp.where(hi > lo, hi, hi + 0.5)
    inner = lo + jnp.arange(1, num_bins)[:, None] * ((hi - lo) / num_bins)  # [bins - 1, d]
    count_at_or_below = jax.vmap(lambda edges, c: jnp.searchsorted(edges, c, side="right"))
    return count_at_or_below(inner.T, codes.T).T


def _contingency(
    codes: jax.Array, factors: jax.Array, factor_sizes: tuple[int, ...], num_bins: int
) -> jax.Array:
    """``[d, bins, sum(factor_sizes)]`` counts of (bin of code j, value of each factor)."""
    bins = _discretise(codes, num_bins)
    offsets = np.cumsum((0,) + factor_sizes[:-1])
    values = jax.nn.one_hot(factors + offsets, sum(factor_sizes)).sum(axis=1)  # [n, S]

    def per_dimension(dimension_bins: jax.Array) -> jax.Array:  # [n] -> [bins, S]
        return jax.nn.one_hot(dimension_bins, num_bins).T @ values

    return jax.lax.map(per_dimension, bins.T, batch_size=64)


contingency_jit = compiler.jit(_contingency, static_argnames=("factor_sizes", "num_bins"))


def mutual_information(
    codes: np.ndarray, factors: np.ndarray, factor_sizes: tuple[int, ...], num_bins: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    r"""Plug-in mutual information of discretised codes with each factor, and factor entropies.

    .. math:: I(z_j; y_k) = \sum_{b, v} \hat p(b, v) \log \frac{\hat p(b, v)}
              {\hat p(b)\, \hat p(v)}, \qquad H(y_k) = -\sum_v \hat p(v) \log \hat p(v)

    in nats, with :math:`b` the equal-width bin of :math:`z_j` (:func:`_discretise`) and
    empirical frequencies over the n points (as ``sklearn.metrics.mutual_info_score``). Counts
    are jitted; the sums run in float64.

    Args:
      codes: ``[n, d]``.
      factors: ``[n, F]`` class indices below ``factor_sizes``.

    Returns:
      ``(info[F, d], entropy[F])``.
    """
    counts = np.asarray(
        contingency_jit(
            jnp.asarray(codes, jnp.float32),
            jnp.asarray(factors, jnp.int32),
            factor_sizes=tuple(int(v) for v in factor_sizes),
            num_bins=int(num_bins),
        ),
        np.float64,
    )
    n = float(len(codes))
    edges = np.cumsum((0,) + tuple(factor_sizes))
    info, entropy = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        joint = counts[:, :, lo:hi] / n  # [d, bins, V_k]
        p_bin, p_value = joint.sum(axis=2, keepdims=True), joint.sum(axis=1, keepdims=True)
        ratio = np.where(joint > 0, joint, 1.0) / np.where(joint > 0, p_bin * p_value, 1.0)
        info.append(np.sum(joint * np.log(ratio), axis=(1, 2)))
        p = p_value[0, 0]
        entropy.append(-np.sum(p[p > 0] * np.log(p[p > 0])))
    return np.maximum(np.stack(info), 0.0), np.asarray(entropy)


def mig(
    seed: int,
    dataset: FactorDataset,
    representation: Representation,
    num_points: int = 10_000,
    num_bins: int = 20,
    batch_size: int = 1024,
) -> dict[str, Any]:
    r"""The mutual information gap of Chen et al. 2018 (section 4.1).

    Codes of ``num_points`` images of uniform factors, each dimension discretised into
    ``num_bins`` equal-width bins (:func:`mutual_information`):

    .. math:: \mathrm{MIG} = \frac1F \sum_{k=1}^F \frac{I(z_{j_k}; y_k) - \max_{j \ne j_k}
              I(z_j; y_k)}{H(y_k)}, \qquad j_k = \arg\max_j I(z_j; y_k).

    1 when each factor is a function of its own dimension and independent of the others; 0 for
    codes independent of the factors (up to the plug-in estimator's positive bias, about
    :math:`(\text{bins} - 1)(V_k - 1) / 2n` nats).

    Returns:
      ``{'metric', 'score', 'per_factor': [{'factor', 'gap' (normalised), 'entropy',
      'best_dimension', 'best_info', 'second_dimension', 'second_info'}],
      'mutual_information' [F][d] (nats), 'settings', 'seed', 'seconds'}``.
    """
    start = time.perf_counter()
    sizes = factor_sizes_of(dataset)
    settings = dict(num_points=num_points, num_bins=num_bins, batch_size=batch_size)
    check_arguments(**settings)
    rng = np.random.default_rng(seed)
    factors = sample_factors(dataset, rng, num_points)
    codes = grouped_codes(dataset, representation, factors[:, None, :], batch_size)[:, 0]
    if codes.shape[1] < 2:
        raise ValueError(f"MIG needs codes of >= 2 dimensions; got {codes.shape[1]}.")
    info, entropy = mutual_information(codes, factors, sizes, num_bins)
    if np.any(entropy == 0):
        raise ValueError(
            f"num_points={num_points} is too few: a factor took a single value; use more."
        )
    order = np.argsort(-info, axis=1, kind="stable")
    rows = np.arange(len(sizes))
    best, second = info[rows, order[:, 0]], info[rows, order[:, 1]]
    gaps = (best - second) / entropy
    per_factor = [
        {
            "factor": name,
            "gap": float(gaps[k]),
            "entropy": float(entropy[k]),
            "best_dimension": int(order[k, 0]),
            "best_info": float(best[k]),
            "second_dimension": int(order[k, 1]),
            "second_info": float(second[k]),
        }
        for k, name in enumerate(dataset.factor_names)
    ]
    return metric_result(
        "mig",
        np.mean(gaps),
        seed,
        settings,
        start,
        per_factor=per_factor,
        mutual_information=info.tolist(),
    )
