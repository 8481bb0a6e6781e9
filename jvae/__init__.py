"""jvae: variational autoencoders and importance-weighted bounds as pure JAX functions.

The public face: bounds of log-weights, gradient estimators, models assembled from parts
(posteriors, priors, likelihoods, hierarchies), training and evaluation. Subpackages:
``jvae.components``, ``jvae.models``, ``jvae.nn``, ``jvae.diagnostics``, ``jvae.data``,
``jvae.training``, ``jvae.run``, ``jvae.reports``, ``jvae.cli``.
"""

from jvae.bounds import (
    LogWeights,
    ciwae,
    effective_sample_size,
    elbo,
    iwae,
    jackknife,
    miwae,
    normalized_weights,
    piwae,
    renyi,
)
from jvae.components import (
    Bernoulli,
    GaussianConditional,
    GaussianMixture,
    GaussianPosterior,
    StandardNormal,
    VampPrior,
)
from jvae.diagnostics.active_units import active_units
from jvae.diagnostics.nll import dataset_bound, streamed_iwae
from jvae.estimators import dreg_weights, make_objective, tempered_log_weights
from jvae.models import (
    PRIOR_ENCODER,
    Latent,
    Model,
    ModelParts,
    assemble,
    chain_vae,
    iwae_mlp,
    tomczak_welling_hvae,
    vae,
)
from jvae.models.dsprites_vae import burgess_conv, higgins_mlp
from jvae.numerics import log_mean_exp
from jvae.objectives import (
    KLReweighting,
    KLTerms,
    beta_vae,
    controlled_capacity,
    cyclical_kl_annealing,
    free_bits,
    kl_terms,
    linear_capacity,
    linear_kl_warmup,
    make_kl_objective,
)
from jvae.training import TrainState, init_state, make_epoch, make_optimizer, make_train_step

__all__ = [
    "PRIOR_ENCODER",
    "Bernoulli",
    "GaussianConditional",
    "GaussianMixture",
    "GaussianPosterior",
    "KLReweighting",
    "KLTerms",
    "Latent",
    "LogWeights",
    "Model",
    "ModelParts",
    "StandardNormal",
    "TrainState",
    "VampPrior",
    "active_units",
    "assemble",
    "beta_vae",
    "burgess_conv",
    "chain_vae",
    "ciwae",
    "controlled_capacity",
    "cyclical_kl_annealing",
    "dataset_bound",
    "dreg_weights",
    "effective_sample_size",
    "elbo",
    "free_bits",
    "higgins_mlp",
    "init_state",
    "iwae",
    "iwae_mlp",
    "jackknife",
    "kl_terms",
    "linear_capacity",
    "linear_kl_warmup",
    "log_mean_exp",
    "make_epoch",
    "make_kl_objective",
    "make_objective",
    "make_optimizer",
    "make_train_step",
    "miwae",
    "normalized_weights",
    "piwae",
    "renyi",
    "streamed_iwae",
    "tempered_log_weights",
    "tomczak_welling_hvae",
    "vae",
]
__version__ = "0.3.0"
