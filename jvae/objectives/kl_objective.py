r"""The KL-reweighting objectives as a training objective: choices, schedules, value and grad.

:class:`KLReweighting` holds one objective's choices: the penalty (``'kl'``: beta-VAE,
``'free-bits'``, ``'capacity'``), the KL weight :math:`\beta` with its annealing schedule
(linear warm-up or cyclical), :math:`\lambda` and the grouping of free bits, and
:math:`C_{\max}`, its ramp and :math:`\gamma` for controlled capacity. At step :math:`t`:

.. math:: \mathcal J_t(x) = E_q \log p(x|z) - \beta\, a(t)\, \mathrm{penalty}_t(\mathrm{KL})

with :math:`a(t)` the annealing factor (1 without one) and the penalties of
:mod:`jvae.objectives.reweighted` (capacity takes no :math:`\beta`: its weight is
:math:`\gamma`). The scalars (:math:`\beta, \lambda, C_{\max}, \gamma`) may be traced values,
so a sweep can ``jax.vmap`` one program over them (:mod:`jvae.training.sweep`).

Unlike the bounds of :mod:`jvae.estimators`, these are not functions of the log-weights
alone: the KL is analytic where the model allows (:func:`jvae.objectives.kl.analytic_kl`) and
the gradient is the plain reparameterisation gradient of :math:`\mathcal J` (an analytic KL has
no score term for STL or DReG to remove).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jvae.estimators import LossInfo
from jvae.models.model import Model
from jvae.objectives.kl import KLTerms, analytic_kl, kl_terms
from jvae.objectives.reweighted import beta_vae, controlled_capacity, free_bits
from jvae.objectives.schedules import kl_annealing, linear_capacity

PENALTIES = ("kl", "free-bits", "capacity")
Scalar = float | jax.Array


@dataclasses.dataclass(frozen=True)
class KLReweighting:
    """One KL-reweighting objective (see the module docstring).

    Attributes:
      penalty: ``'kl'`` (beta-VAE), ``'free-bits'`` or ``'capacity'``.
      kl_weight: :math:`\\beta` (``'kl'``, ``'free-bits'``).
      warmup: steps of KL annealing (0: none); ``cycles`` > 0 makes it cyclical.
      cycles: number of cyclical annealing cycles in ``warmup`` steps (0: linear warm-up).
      free_bits: :math:`\\lambda` in nats per group.
      groups: free-bits groups of consecutive latent dimensions (0: one per dimension).
      capacity: :math:`C_{\\max}` in nats.
      capacity_steps: steps over which :math:`C` rises from 0 to :math:`C_{\\max}`.
      capacity_gamma: :math:`\\gamma`.
    """

    penalty: str = "kl"
    kl_weight: Scalar = 1.0
    warmup: int = 0
    cycles: int = 0
    free_bits: Scalar = 0.0
    groups: int = 0
    capacity: Scalar = 0.0
    capacity_steps: int = 0
    capacity_gamma: Scalar = 1000.0

    def __post_init__(self) -> None:
        if self.penalty not in PENALTIES:
            raise ValueError(f"unknown KL penalty {self.penalty!r}; choose one of {PENALTIES}.")
        if self.penalty == "capacity" and self.warmup:
            raise ValueError(
                "penalty='capacity' raises C over capacity_steps instead of a KL warm-up; set "
                "warmup=0."
            )
        if self.groups < 0:
            raise ValueError(f"groups must be >= 0 (0: one per dimension); got {self.groups}.")
        kl_annealing(self.warmup, self.cycles)  # checks steps and cycles
        linear_capacity(0.0, self.capacity_steps)

    def kl_weight_at(self, step: jax.Array) -> jax.Array:
        """:math:`\\beta\\, a(t)` (1 for capacity, whose weight is :math:`\\gamma`)."""
        if self.penalty == "capacity":
            return jnp.ones((), jnp.float32)
        return jnp.asarray(self.kl_weight, jnp.float32) * kl_annealing(self.warmup, self.cycles)(
            step
        )

    def capacity_at(self, step: jax.Array) -> jax.Array:
        """:math:`C(t)`, nats."""
        return linear_capacity(self.capacity, self.capacity_steps)(step)

    def check(self, model: Model) -> None:
        """One-line ``ValueError`` if the model cannot give what the objective needs."""
        if self.penalty == "free-bits" and self.groups != 1 and analytic_kl(model) is None:
            raise ValueError(
                "free bits over several groups needs the KL per latent dimension in closed form "
                "(one Gaussian latent of x under a standard normal prior); this model's KL "
                "does not factorise: use groups=1."
            )

    def __call__(self, terms: KLTerms, step: jax.Array) -> jax.Array:
        """:math:`\\mathcal J_t` per example, ``[B]`` (maximised)."""
        if self.penalty == "capacity":
            return controlled_capacity(terms, self.capacity_gamma, self.capacity_at(step))
        weight = self.kl_weight_at(step)
        if self.penalty == "kl":
            return beta_vae(terms, weight)
        groups = self.groups or (1 if terms.kl_per_dim is None else terms.kl_per_dim.shape[-1])
        penalised = free_bits(terms, self.free_bits, groups)
        return terms.reconstruction + weight * (penalised - terms.reconstruction)


def make_kl_objective(
    model: Model, num_samples: int, reweighting: KLReweighting
) -> Callable[..., tuple[LossInfo, Any, dict[str, jax.Array]]]:
    """``value_and_grad(params, rng_key, x, step) -> (LossInfo, grads, metrics)``.

    The loss is :math:`-\\frac1B \\sum_b \\mathcal J_t(x_b)` with ``num_samples`` draws per
    example for the reconstruction (and the KL where it is not analytic); ``grads`` is its
    reparameterisation gradient; ``metrics`` holds the batch means of the reconstruction and
    the KL, the KL per dimension where analytic, the KL weight and, for capacity, :math:`C`.
    """
    reweighting.check(model)
    kl_per_dim = analytic_kl(model)

    def value_and_grad(
        params: Any, rng_key: jax.Array, x: jax.Array, step: jax.Array
    ) -> tuple[LossInfo, Any, dict[str, jax.Array]]:
        def loss(p: Any) -> tuple[jax.Array, tuple[jax.Array, KLTerms, Any]]:
            log_weights = model.log_weights(p, rng_key, x, num_samples)
            terms = kl_terms(log_weights, None if kl_per_dim is None else kl_per_dim(p, x))
            objective = reweighting(terms, step)
            return -jnp.mean(objective), (objective, terms, log_weights)

        (value, (objective, terms, log_weights)), grads = jax.value_and_grad(loss, has_aux=True)(
            params
        )
        metrics = {
            "kl_weight": reweighting.kl_weight_at(step),
            "reconstruction": jnp.mean(terms.reconstruction),
            "kl": jnp.mean(terms.kl),
        }
        if terms.kl_per_dim is not None:
            metrics["kl_per_dim"] = jnp.mean(terms.kl_per_dim, axis=0)
        if reweighting.penalty == "capacity":
            metrics["capacity"] = reweighting.capacity_at(step)
        info = LossInfo(value, jax.lax.stop_gradient(objective), log_weights)
        return info, grads, metrics

    return value_and_grad
