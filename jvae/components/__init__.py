"""The parts a model is assembled from: posteriors, priors, conditionals, likelihoods."""

from jvae.components.conditionals import GaussianConditional
from jvae.components.likelihoods import Bernoulli, Likelihood
from jvae.components.posteriors import GaussianPosterior, Posterior
from jvae.components.priors import GaussianMixture, Prior, StandardNormal, VampPrior

__all__ = [
    "Bernoulli",
    "GaussianConditional",
    "GaussianMixture",
    "GaussianPosterior",
    "Likelihood",
    "Posterior",
    "Prior",
    "StandardNormal",
    "VampPrior",
]
