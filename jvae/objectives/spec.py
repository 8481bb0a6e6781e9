r"""``ObjectiveSpec``: what a run maximises, and how its gradient is estimated.

Either a bound of the (tempered) log-weights (ELBO, IWAE, MIWAE, CIWAE, PIWAE, Renyi) with a
gradient estimator (reparameterisation, STL, DReG) and an optional KL warm-up or weight
:math:`\beta(t) = \beta\, a(t)` on its KL part, or a KL reweighting of the ELBO's terms
(beta-VAE, free bits, controlled capacity: :class:`~jvae.objectives.KLReweighting`), which
takes no bound but the ELBO and no estimator but the reparameterisation gradient.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax.numpy as jnp
import optax

from jvae import bounds
from jvae.estimators import ESTIMATORS
from jvae.objectives.kl_objective import KLReweighting
from jvae.objectives.schedules import kl_annealing
from jvae.options import check_at_least, check_choice, option

MODELS = ("vae", "iwae")
BOUNDS = ("elbo", "iwae", "miwae", "ciwae", "piwae", "renyi")
# The objective's scalars that a sweep may trace (jvae.training.sweep): each member of a sweep
# compiles to the same program with its own values.
TRACEABLE = ("kl_weight", "free_bits", "capacity", "capacity_gamma")


@dataclasses.dataclass(frozen=True)
class ObjectiveSpec:
    """The training objective (see the module docstring); checked when made.

    ``model='vae'`` trains the ELBO averaged over ``k`` samples, ``model='iwae'`` the bound
    ``L_k``; ``bound`` overrides that choice (``miwae``/``piwae`` use ``groups``, ``ciwae``
    uses ``ciwae_beta``, ``renyi`` uses ``alpha``). ``kl_warmup`` raises the KL weight
    linearly from 0 to 1 over that many steps (``kl_cycles`` > 0: that many cyclical ramps).
    ``kl_weight`` (beta), ``free_bits`` (lambda nats per group of ``free_bits_groups`` groups,
    0 = one per latent dimension) and ``capacity`` (C_max nats reached after
    ``capacity_steps``, weight ``capacity_gamma``) reweight the ELBO's KL term (``None``: not
    used); ``kl_weight`` with another bound tempers its log-weights instead.

    >>> ObjectiveSpec(model="vae", k=5).name
    'elbo'
    >>> ObjectiveSpec(bound="miwae", k=5, groups=2)
    Traceback (most recent call last):
    ...
    ValueError: k=5 must be divisible by groups=2 for the miwae bound.
    """

    model: str = option("iwae", "vae: the ELBO; iwae: the bound L_k", MODELS)
    k: int = option(1, "samples per example in training")
    bound: str = option("", "the bound trained (overrides model)", ("", *BOUNDS))
    estimator: str = option("reparam", "gradient estimator", ESTIMATORS)
    groups: int = option(1, "M for miwae/piwae")
    ciwae_beta: float = option(0.5, "ciwae mixing weight in [0, 1]")
    alpha: float = option(0.5, "renyi alpha")
    kl_warmup: int = option(0, "steps of linear KL warm-up from 0 to 1")
    kl_cycles: int = option(0, "cyclical KL annealing: cycles in kl_warmup")
    kl_weight: float | None = option(None, "beta: weight of the KL (ELBO: analytic)")
    free_bits: float | None = option(None, "free bits: lambda nats per group of latents")
    free_bits_groups: int = option(0, "free-bits groups (0: one per latent)")
    capacity: float | None = option(None, "controlled capacity: C_max nats")
    capacity_steps: int = option(0, "steps to raise C from 0 to C_max")
    capacity_gamma: float = option(1000.0, "controlled capacity: gamma")

    @property
    def name(self) -> str:
        """The bound trained: ``bound`` if set, else ELBO for ``vae`` and IWAE for ``iwae``."""
        return self.bound or ("elbo" if self.model == "vae" else "iwae")

    @property
    def reweights_kl(self) -> bool:
        """Whether the ELBO's KL term is reweighted (beta-VAE, free bits, capacity) rather than
        a bound of (tempered) log-weights trained."""
        chosen = (self.kl_weight, self.free_bits, self.capacity)
        return self.name == "elbo" and any(v is not None for v in chosen)

    def __post_init__(self) -> None:
        check_choice("model", self.model, MODELS)
        check_choice("bound", self.name, BOUNDS)
        check_choice("estimator", self.estimator, ESTIMATORS)
        check_at_least("k", self.k, 1)
        check_at_least("groups", self.groups, 1)
        for name in ("kl_weight", "free_bits", "capacity", "capacity_steps", "kl_cycles"):
            check_at_least(name, getattr(self, name), 0)
        if self.name in ("miwae", "piwae") and self.k % self.groups:
            raise ValueError(
                f"k={self.k} must be divisible by groups={self.groups} for the {self.name} bound."
            )
        if self.capacity_gamma <= 0:
            raise ValueError(f"capacity_gamma must be > 0; got {self.capacity_gamma}.")
        if not 0.0 <= self.ciwae_beta <= 1.0:
            raise ValueError(f"ciwae_beta must lie in [0, 1]; got {self.ciwae_beta}.")
        if self.free_bits is not None and self.capacity is not None:
            raise ValueError("free_bits and capacity are two different KL penalties: choose one.")
        if self.capacity is not None and self.kl_weight is not None:
            raise ValueError("capacity weights |KL - C| by capacity_gamma: drop kl_weight.")
        if self.name != "elbo" and (self.free_bits is not None or self.capacity is not None):
            raise ValueError(
                f"free_bits and capacity reweight the ELBO's KL term, not the {self.name} bound: "
                "use model='vae'."
            )
        if self.reweights_kl and self.estimator != "reparam":
            raise ValueError(
                "the KL reweightings (kl_weight, free_bits, capacity) of the ELBO train with "
                f"estimator='reparam' (an analytic KL has no score term); got {self.estimator!r}."
            )
        self.kl_choices()  # builds the schedules and the reweighting, which check themselves

    def bounds(self) -> tuple[bounds.Bound, bounds.Bound | None]:
        """``(bound, encoder_bound)`` of the objective (``encoder_bound`` for PIWAE)."""
        name = self.name
        if name == "elbo":
            return bounds.elbo, None
        if name == "iwae":
            return bounds.iwae, None
        if name == "miwae":
            return functools.partial(bounds.miwae, num_groups=self.groups), None
        if name == "ciwae":
            return functools.partial(bounds.ciwae, beta=self.ciwae_beta), None
        if name == "renyi":
            return functools.partial(bounds.renyi, alpha=self.alpha), None
        return bounds.piwae(self.groups)

    def kl_choices(
        self, values: dict[str, Any] | None = None
    ) -> tuple[optax.Schedule | None, KLReweighting | None]:
        r"""``(kl_schedule, reweighting)``, at most one of them set.

        A reweighted ELBO (:attr:`reweights_kl`) gives a :class:`KLReweighting`; otherwise a
        KL warm-up (linear or cyclical) and a ``kl_weight`` temper the log-weights of the
        bound, :math:`\beta(t) = \beta\, a(t)`. ``values`` replaces the traced scalars
        (:data:`TRACEABLE`) by a sweep's arrays (:mod:`jvae.training.sweep`).
        """
        v = {name: getattr(self, name) for name in TRACEABLE} | (values or {})
        if self.reweights_kl:
            penalty = (
                "capacity"
                if self.capacity is not None
                else "free-bits"
                if self.free_bits is not None
                else "kl"
            )
            return None, KLReweighting(
                penalty=penalty,
                kl_weight=1.0 if v["kl_weight"] is None else v["kl_weight"],
                warmup=self.kl_warmup,
                cycles=self.kl_cycles,
                free_bits=0.0 if v["free_bits"] is None else v["free_bits"],
                groups=self.free_bits_groups,
                capacity=0.0 if v["capacity"] is None else v["capacity"],
                capacity_steps=self.capacity_steps,
                capacity_gamma=v["capacity_gamma"],
            )
        annealing = kl_annealing(self.kl_warmup, self.kl_cycles)  # checks steps and cycles
        if v["kl_weight"] is None:
            return (annealing if self.kl_warmup else None), None
        weight = v["kl_weight"]
        return (lambda count: jnp.asarray(weight, jnp.float32) * annealing(count)), None
