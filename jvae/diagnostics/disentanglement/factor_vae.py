"""The FactorVAE metric of Kim & Mnih 2018: in a group sharing one factor, the normalised code
dimension of least variance votes for that factor; a majority vote per dimension classifies."""

from __future__ import annotations

import functools
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
    non_negative,
    sample_factors,
)


def check_arguments(
    group_size: int,
    num_train: int,
    num_eval: int,
    num_variance_estimate: int,
    prune_threshold: float,
    batch_size: int,
) -> None:
    at_least(1, num_train=num_train, num_eval=num_eval, batch_size=batch_size)
    at_least(2, group_size=group_size, num_variance_estimate=num_variance_estimate)
    non_negative(prune_threshold=prune_threshold)


def _least_variance_dimensions(
    codes: jax.Array, global_variance: jax.Array, active: jax.Array
) -> jax.Array:
    """``[p, L, d] -> [p]``: per group, the active dimension of least variance (ddof 1)
    relative to its variance over the data."""
    ratio = jnp.var(codes, axis=1, ddof=1) / jnp.where(active, global_variance, 1.0)
    return jnp.argmin(jnp.where(active, ratio, jnp.inf), axis=-1)


least_variance_dimensions_jit = compiler.jit(_least_variance_dimensions)


def _votes(
    rng: np.random.Generator,
    dataset: FactorDataset,
    representation: Representation,
    num_points: int,
    group_size: int,
    batch_size: int,
    global_variance: np.ndarray,
    active: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(votes[F, d], fixed factor[n], voted dimension[n])`` of n groups sharing one factor."""
    num_factors = len(factor_sizes_of(dataset))
    fixed = rng.integers(num_factors, size=num_points)
    factors = sample_factors(dataset, rng, num_points * group_size)
    factors = factors.reshape(num_points, group_size, num_factors)
    shared = (np.arange(num_points)[:, None], np.arange(group_size)[None, :], fixed[:, None])
    factors[shared] = factors[shared][:, :1]
    variance, mask = jnp.asarray(global_variance, jnp.float32), jnp.asarray(active)
    dims = grouped_codes(
        dataset,
        representation,
        factors,
        batch_size,
        lambda codes: least_variance_dimensions_jit(codes, variance, mask),
    )
    votes = np.zeros((num_factors, global_variance.size), np.int64)
    np.add.at(votes, (fixed, dims), 1)
    return votes, fixed, dims


def factor_vae_metric(
    seed: int,
    dataset: FactorDataset,
    representation: Representation,
    group_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
    prune_threshold: float = 0.05,
    batch_size: int = 1024,
) -> dict[str, Any]:
    r"""The FactorVAE metric of Kim & Mnih 2018 (section 4).

    The std :math:`s_j` of each code dimension over ``num_variance_estimate`` images (ddof 1)
    normalises it; dimensions with :math:`s_j \le` ``prune_threshold`` are pruned (collapsed
    units). A point fixes a uniform factor :math:`k` over ``group_size`` images, other factors
    uniform, and votes :math:`(k, \arg\min_j \mathrm{Var}(z_j)/s_j^2)`. The classifier maps each
    dimension to the factor with most of its ``num_train`` training votes; the score is the
    fraction of ``num_eval`` fresh votes it classifies right. With no active dimension the
    score is 0 (as disentanglement_lib).

    Returns:
      ``{'metric', 'score' (eval accuracy), 'train_accuracy', 'eval_accuracy', 'chance',
      'num_active_dims', 'active_dims', 'classifier' (factor per dimension), 'train_votes'
      [F][d], 'per_factor': [{'factor', 'eval_accuracy', 'eval_points', 'dimensions'}],
      'settings', 'seed', 'seconds'}``.
    """
    start = time.perf_counter()
    sizes = factor_sizes_of(dataset)
    settings = dict(
        group_size=group_size,
        num_train=num_train,
        num_eval=num_eval,
        num_variance_estimate=num_variance_estimate,
        prune_threshold=prune_threshold,
        batch_size=batch_size,
    )
    check_arguments(**settings)
    rng = np.random.default_rng(seed)
    factors = sample_factors(dataset, rng, num_variance_estimate)[:, None, :]
    codes = grouped_codes(dataset, representation, factors, batch_size)[:, 0]
    global_variance = np.var(codes.astype(np.float64), axis=0, ddof=1)
    active = np.sqrt(global_variance) > prune_threshold
    details: dict[str, Any] = dict(chance=1.0 / len(sizes), num_active_dims=int(active.sum()))
    if not active.any():
        return metric_result(
            "factor_vae",
            0.0,
            seed,
            settings,
            start,
            train_accuracy=0.0,
            eval_accuracy=0.0,
            **details,
        )
    votes = functools.partial(
        _votes,
        rng,
        dataset,
        representation,
        group_size=group_size,
        batch_size=batch_size,
        global_variance=global_variance,
        active=active,
    )
    train_votes, _, _ = votes(num_points=num_train)
    classifier = np.argmax(train_votes, axis=0)
    eval_votes, eval_fixed, eval_dims = votes(num_points=num_eval)
    columns = np.arange(classifier.size)
    eval_hit = classifier[eval_dims] == eval_fixed
    per_factor = [
        {
            "factor": name,
            "eval_accuracy": float(np.mean(eval_hit[eval_fixed == k]))
            if np.any(eval_fixed == k)
            else None,
            "eval_points": int(np.sum(eval_fixed == k)),
            "dimensions": [int(j) for j in np.flatnonzero((classifier == k) & active)],
        }
        for k, name in enumerate(dataset.factor_names)
    ]
    return metric_result(
        "factor_vae",
        np.mean(eval_hit),
        seed,
        settings,
        start,
        train_accuracy=float(train_votes[classifier, columns].sum() / num_train),
        eval_accuracy=float(np.mean(eval_hit)),
        **details,
        active_dims=[int(j) for j in np.flatnonzero(active)],
        classifier=[int(k) for k in classifier],
        train_votes=train_votes.tolist(),
        per_factor=per_factor,
    )
