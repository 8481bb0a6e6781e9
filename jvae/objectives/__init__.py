r"""Objectives beyond bounds of log-weights: KL annealing schedules and the reweightings of the
ELBO's KL term (beta-VAE, free bits, controlled capacity), with the KL analytic where the model
allows.

Two ways to weight the KL:

- tempering the log-weights, :math:`\log p(x|z) + \beta (\log p(z) - \log q(z|x))`
  (:func:`jvae.estimators.tempered_log_weights`), which composes with any bound and estimator
  (a KL warm-up of an IWAE trained with DReG);
- the ELBO's terms, :math:`E_q \log p(x|z) - \beta\, \mathrm{penalty}(\mathrm{KL})`
  (:class:`KLReweighting`, :func:`make_kl_objective`), where free bits and controlled capacity
  live and the KL can be analytic.

Modules: :mod:`.schedules`, :mod:`.kl`, :mod:`.reweighted`, :mod:`.kl_objective`.
"""

from jvae.objectives.kl import KLTerms, analytic_kl, gaussian_kl_per_dim, kl_terms
from jvae.objectives.kl_objective import PENALTIES, KLReweighting, make_kl_objective
from jvae.objectives.reweighted import beta_vae, controlled_capacity, free_bits, group_kl
from jvae.objectives.schedules import (
    cyclical_kl_annealing,
    kl_annealing,
    linear_capacity,
    linear_kl_warmup,
)

__all__ = [
    "PENALTIES",
    "KLReweighting",
    "KLTerms",
    "analytic_kl",
    "beta_vae",
    "controlled_capacity",
    "cyclical_kl_annealing",
    "free_bits",
    "gaussian_kl_per_dim",
    "group_kl",
    "kl_annealing",
    "kl_terms",
    "linear_capacity",
    "linear_kl_warmup",
    "make_kl_objective",
]
