"""What every disentanglement metric shares: argument checks, factor sampling, the codes of
groups of images streamed through a representation, and the result record."""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from jvae.data.factors import FactorDataset

Representation = Callable[[np.ndarray], np.ndarray]


def at_least(minimum: int, **values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")


def non_negative(**values: Any) -> None:
    for name, value in values.items():
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")


def factor_sizes_of(dataset: FactorDataset) -> tuple[int, ...]:
    """The dataset's factor sizes; ``ValueError`` unless there are >= 2 named factors of >= 2
    values each."""
    names, sizes = tuple(dataset.factor_names), tuple(int(v) for v in dataset.factor_sizes)
    if len(names) != len(sizes) or len(sizes) < 2 or min(sizes) < 2:
        raise ValueError(
            f"a factor dataset needs >= 2 factors of >= 2 values each, one name per factor; got "
            f"factor_names {names} and factor_sizes {sizes}."
        )
    return sizes


def sample_factors(dataset: FactorDataset, rng: np.random.Generator, n: int) -> np.ndarray:
    """``[n, F]`` factors from the dataset's sampler, checked against its factor sizes."""
    sizes = np.asarray(factor_sizes_of(dataset))
    factors = np.asarray(dataset.sample_factors(rng, n))
    if factors.shape != (n, sizes.size) or np.any(factors < 0) or np.any(factors >= sizes):
        raise ValueError(
            f"{type(dataset).__name__}.sample_factors(rng, {n}) must return [{n}, {sizes.size}] "
            f"class indices below factor_sizes {tuple(sizes)}; got shape {factors.shape}."
        )
    return factors.astype(np.int64)


def _codes(representation: Representation, images: np.ndarray) -> np.ndarray:
    codes = np.asarray(representation(images))
    if codes.ndim != 2 or codes.shape[0] != len(images):
        raise ValueError(
            "the representation must map [n, *event_shape] images to finite [n, d] codes; "
            f"got shape {codes.shape} for {len(images)} images."
        )
    if not np.all(np.isfinite(codes)):
        raise ValueError(
            "the representation must map [n, *event_shape] images to finite [n, d] codes; "
            "got NaN or inf."
        )
    return codes


def grouped_codes(
    dataset: FactorDataset,
    representation: Representation,
    factors: np.ndarray,
    batch_size: int,
    reduce: Callable[[np.ndarray], Any] = lambda codes: codes,
) -> np.ndarray:
    """``reduce`` applied to the codes of groups of images, without holding all codes at once.

    Args:
      factors: ``[n, m, F]``, n groups of m images each.
      batch_size: images per call of the representation: ``p = max(1, batch_size // m)`` whole
        groups, the last call padded with copies of the last group, so every call has the
        same shape ``[p * m, D]``.
      reduce: ``codes[p, m, d] -> [p, ...]`` (a jitted function sees one shape).

    Returns:
      ``[n, ...]``, the reduced groups stacked.
    """
    n, m, num_factors = factors.shape
    per_call = max(1, batch_size // m)
    calls = -(-n // per_call)
    padded = np.concatenate([factors, np.repeat(factors[-1:], calls * per_call - n, axis=0)])
    out = []
    for c in range(calls):
        group = padded[c * per_call : (c + 1) * per_call].reshape(per_call * m, num_factors)
        codes = _codes(representation, dataset.images(group))
        out.append(np.asarray(reduce(codes.reshape(per_call, m, codes.shape[-1]))))
    return np.concatenate(out)[:n]


def metric_result(
    name: str, score: float, seed: int, settings: dict[str, Any], start: float, **details: Any
) -> dict[str, Any]:
    return {
        "metric": name,
        "score": float(score),
        **details,
        "settings": settings,
        "seed": int(seed),
        "seconds": time.perf_counter() - start,
    }
