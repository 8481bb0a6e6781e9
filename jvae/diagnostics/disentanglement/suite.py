"""The three metrics by name, their settings checked before anything runs, and all three of
one representation."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from jvae.data.factors import FactorDataset
from jvae.diagnostics.disentanglement import beta_vae, factor_vae, mutual_info_gap
from jvae.diagnostics.disentanglement.common import Representation

METRICS: dict[str, Callable[..., dict[str, Any]]] = {
    "beta_vae_metric": beta_vae.beta_vae_metric,
    "factor_vae_metric": factor_vae.factor_vae_metric,
    "mig": mutual_info_gap.mig,
}
_CHECKS = {
    "beta_vae_metric": beta_vae.check_arguments,
    "factor_vae_metric": factor_vae.check_arguments,
    "mig": mutual_info_gap.check_arguments,
}


def check_settings(settings: dict[str, dict[str, Any]]) -> None:
    """One-line ``ValueError`` unless ``settings[name]`` are valid keyword arguments of the
    metric :data:`METRICS` ``[name]`` (before anything is computed)."""
    unknown = sorted(set(settings) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {sorted(METRICS)}.")
    for name, kwargs in settings.items():
        try:
            bound = inspect.signature(METRICS[name]).bind(0, None, None, **kwargs)
        except TypeError as err:
            raise ValueError(f"{name}: {err}.") from None
        bound.apply_defaults()
        _CHECKS[name](**dict(list(bound.arguments.items())[3:]))


def all_metrics(
    seed: int,
    dataset: FactorDataset,
    representation: Representation,
    settings: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The three metrics of one representation, keyed as :data:`METRICS`, each with the same
    seed and its keyword arguments from ``settings[name]`` (defaults otherwise)."""
    settings = settings or {}
    check_settings(settings)
    return {
        name: metric(seed, dataset, representation, **settings.get(name, {}))
        for name, metric in METRICS.items()
    }
