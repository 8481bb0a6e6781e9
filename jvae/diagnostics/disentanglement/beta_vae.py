"""The beta-VAE metric of Higgins et al. 2017: a linear classifier predicts which factor a
set of pairs of images shares from their mean absolute code differences."""

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
from jvae.diagnostics.disentanglement.linear_probe import fit_logistic_regression, predict


def check_arguments(
    pairs: int,
    num_train: int,
    num_eval: int,
    l2: float,
    max_steps: int,
    tol: float,
    standardise: bool,
    batch_size: int,
) -> None:
    at_least(1, pairs=pairs, num_train=num_train, num_eval=num_eval, max_steps=max_steps)
    at_least(1, batch_size=batch_size)
    non_negative(l2=l2, tol=tol)


def _pair_differences(codes: jax.Array) -> jax.Array:
    """``[p, 2L, d] -> [p, d]``: mean over l of ``|codes[:, l] - codes[:, L + l]|``."""
    first, second = jnp.split(codes, 2, axis=1)
    return jnp.mean(jnp.abs(first - second), axis=1)


pair_differences_jit = compiler.jit(_pair_differences)


def _beta_vae_points(
    rng: np.random.Generator,
    dataset: FactorDataset,
    representation: Representation,
    num_points: int,
    pairs: int,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(z_diff[n, d], fixed factor[n])``: per point a uniform factor y and L pairs of
    images whose factors are uniform except that both images of a pair share y's value."""
    num_factors = len(factor_sizes_of(dataset))
    fixed = rng.integers(num_factors, size=num_points)
    first = sample_factors(dataset, rng, num_points * pairs).reshape(num_points, pairs, num_factors)
    second = sample_factors(dataset, rng, num_points * pairs).reshape(
        num_points, pairs, num_factors
    )
    shared = (np.arange(num_points)[:, None], np.arange(pairs)[None, :], fixed[:, None])
    second[shared] = first[shared]
    factors = np.concatenate([first, second], axis=1)
    z_diff = grouped_codes(
        dataset, representation, factors, batch_size, lambda codes: pair_differences_jit(codes)
    )
    return z_diff, fixed


def beta_vae_metric(
    seed: int,
    dataset: FactorDataset,
    representation: Representation,
    pairs: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    l2: float = 1e-4,
    max_steps: int = 100,
    tol: float = 1e-4,
    standardise: bool = True,
    batch_size: int = 1024,
) -> dict[str, Any]:
    r"""The beta-VAE metric of Higgins et al. 2017 (section 3, appendix A.4).

    Each point fixes a uniform factor :math:`y` and draws ``pairs`` = L pairs of images whose
    other factors are uniform; its feature is
    :math:`z_{\text{diff}} = \frac1L \sum_l |r(x_{1,l}) - r(x_{2,l})|`. A multinomial logistic
    regression (:func:`fit_logistic_regression` with ``l2``, ``max_steps``, ``tol``,
    ``standardise``) is fitted on ``num_train`` points; the score is its accuracy on
    ``num_eval`` fresh points. Chance is :math:`1/F`.

    Returns:
      ``{'metric', 'score' (eval accuracy), 'train_accuracy', 'eval_accuracy', 'chance',
      'per_factor': [{'factor', 'eval_accuracy', 'eval_points'}], 'fit': {'loss',
      'grad_norm', 'steps'}, 'settings', 'seed', 'seconds'}``.
    """
    start = time.perf_counter()
    sizes = factor_sizes_of(dataset)
    settings = dict(
        pairs=pairs,
        num_train=num_train,
        num_eval=num_eval,
        l2=l2,
        max_steps=max_steps,
        tol=tol,
        standardise=standardise,
        batch_size=batch_size,
    )
    check_arguments(**settings)
    rng = np.random.default_rng(seed)
    points = functools.partial(_beta_vae_points, rng, dataset, representation)
    train_x, train_y = points(num_train, pairs, batch_size)
    eval_x, eval_y = points(num_eval, pairs, batch_size)
    classifier, info = fit_logistic_regression(
        train_x, train_y, len(sizes), l2, max_steps, tol, standardise
    )
    train_hit = predict(classifier, train_x) == train_y
    eval_hit = predict(classifier, eval_x) == eval_y
    per_factor = [
        {
            "factor": name,
            "eval_accuracy": float(np.mean(eval_hit[eval_y == k])) if np.any(eval_y == k) else None,
            "eval_points": int(np.sum(eval_y == k)),
        }
        for k, name in enumerate(dataset.factor_names)
    ]
    return metric_result(
        "beta_vae",
        np.mean(eval_hit),
        seed,
        settings,
        start,
        train_accuracy=float(np.mean(train_hit)),
        eval_accuracy=float(np.mean(eval_hit)),
        chance=1.0 / len(sizes),
        per_factor=per_factor,
        fit={
            "loss": float(info.loss),
            "grad_norm": float(info.grad_norm),
            "steps": int(info.steps),
        },
    )
