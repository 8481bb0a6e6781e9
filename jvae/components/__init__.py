"""The parts a model is assembled from: posteriors, priors, conditionals, likelihoods."""

from jvae.components.af_prior import AFPrior
from jvae.components.conditionals import GaussianConditional
from jvae.components.flows import AutoregressiveFlow
from jvae.components.iaf import IAFPosterior
from jvae.components.likelihoods import Bernoulli, Likelihood
from jvae.components.posteriors import GaussianPosterior, Posterior
from jvae.components.priors import GaussianMixture, Prior, StandardNormal, VampPrior

__all__ = [
    "AFPrior",
    "AutoregressiveFlow",
    "Bernoulli",
    "GaussianConditional",
    "GaussianMixture",
    "GaussianPosterior",
    "IAFPosterior",
    "Likelihood",
    "Posterior",
    "Prior",
    "StandardNormal",
    "VampPrior",
]
