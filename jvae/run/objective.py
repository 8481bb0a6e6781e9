"""How a run's config becomes its training objective: a bound of (tempered) log-weights, or a
KL reweighting of the ELBO (beta-VAE, free bits, controlled capacity), and what an epoch
records about the KL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jvae import bounds
from jvae.models.model import Model
from jvae.objectives import KLReweighting, kl_annealing
from jvae.run.config import Config
from jvae.training.train import TrainState, make_train_step


def kl_choices(
    config: Config, values: dict[str, Any] | None = None
) -> tuple[optax.Schedule | None, KLReweighting | None]:
    """``(kl_schedule, reweighting)`` of a config, at most one of them set.

    A reweighted ELBO (:attr:`Config.reweights_kl`: beta-VAE, free bits or capacity) gives a
    :class:`~jvae.objectives.KLReweighting`; otherwise a KL warm-up (linear or cyclical) and a
    ``kl_weight`` temper the log-weights of the bound, :math:`\\beta(t) = \\beta\\, a(t)`.
    ``values`` replaces the swept scalars (``kl_weight``, ``free_bits``, ``capacity``,
    ``capacity_gamma``) by traced ones (:mod:`jvae.training.sweep`).
    """
    v = {
        "kl_weight": config.kl_weight,
        "free_bits": config.free_bits,
        "capacity": config.capacity,
        "capacity_gamma": config.capacity_gamma,
        **(values or {}),
    }
    if config.reweights_kl:
        penalty = (
            "capacity"
            if config.capacity is not None
            else "free-bits"
            if config.free_bits is not None
            else "kl"
        )
        return None, KLReweighting(
            penalty=penalty,
            kl_weight=1.0 if v["kl_weight"] is None else v["kl_weight"],
            warmup=config.kl_warmup,
            cycles=config.kl_cycles,
            free_bits=0.0 if v["free_bits"] is None else v["free_bits"],
            groups=config.free_bits_groups,
            capacity=0.0 if v["capacity"] is None else v["capacity"],
            capacity_steps=config.capacity_steps,
            capacity_gamma=v["capacity_gamma"],
        )
    if v["kl_weight"] is None:
        return (
            kl_annealing(config.kl_warmup, config.kl_cycles) if config.kl_warmup else None
        ), None
    annealing, weight = kl_annealing(config.kl_warmup, config.kl_cycles), v["kl_weight"]
    return (lambda count: jnp.asarray(weight, jnp.float32) * annealing(count)), None


def make_step(
    config: Config,
    model: Model,
    optimizer: optax.GradientTransformation,
    bound_pair: tuple[bounds.Bound, bounds.Bound | None],
    values: dict[str, Any] | None = None,
) -> Callable[[jax.Array, TrainState, jax.Array], tuple[TrainState, dict]]:
    """The config's train step: its KL reweighting, or ``bound_pair`` = ``(bound,
    encoder_bound)`` (:func:`jvae.run.experiment.objective_bounds`) with its estimator and KL
    schedule (:func:`kl_choices`; ``values`` for a sweep's traced scalars)."""
    kl_schedule, reweighting = kl_choices(config, values)
    binarize = config.likelihood == "bernoulli"  # grey levels stay grey for a logistic
    if reweighting is not None:
        return make_train_step(
            model, optimizer, config.k, bounds.elbo, binarize=binarize, reweighting=reweighting
        )
    bound, encoder_bound = bound_pair
    return make_train_step(
        model,
        optimizer,
        config.k,
        bound,
        config.estimator,
        encoder_bound,
        binarize=binarize,
        kl_schedule=kl_schedule,
    )


def kl_record(
    metrics: dict[str, Any],
    kl_schedule: optax.Schedule | None,
    reweighting: KLReweighting | None,
    step: int,
) -> dict[str, Any]:
    """The KL part of an epoch's record: the KL weight (and capacity) at the epoch's last
    ``step``, and the epoch means of the reconstruction, the KL and the KL per dimension where
    the step measured them."""
    record: dict[str, Any] = {}
    if kl_schedule is not None:
        record["kl_weight"] = float(kl_schedule(step))
    if reweighting is not None:
        record["kl_weight"] = float(reweighting.kl_weight_at(step))
        if reweighting.penalty == "capacity":
            record["capacity"] = float(reweighting.capacity_at(step))
    for name in ("reconstruction", "kl"):
        if name in metrics:
            record[name] = round(float(metrics[name]), 4)
    if "kl_per_dim" in metrics:
        record["kl_per_dim"] = [round(float(v), 4) for v in np.asarray(metrics["kl_per_dim"])]
    return record
