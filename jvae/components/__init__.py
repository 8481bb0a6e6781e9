"""The parts a model is assembled from: posteriors, priors, conditionals, likelihoods."""

from jvae.components.af_prior import AFPrior
from jvae.components.conditionals import GaussianConditional
from jvae.components.flows import AutoregressiveFlow
from jvae.components.gaussian_likelihood import Gaussian, dequantize, dequantized_bits_per_dim
from jvae.components.iaf import IAFPosterior
from jvae.components.likelihoods import Bernoulli, DiscretizedLogistic, Likelihood
from jvae.components.logistic_mixture import DiscretizedLogisticMixture, LogisticMixturePixels
from jvae.components.pixelcnn_likelihood import PixelCNN
from jvae.components.pixels import BernoulliPixels, LogisticPixels, bits_per_dim
from jvae.components.posteriors import GaussianPosterior, Posterior
from jvae.components.priors import GaussianMixture, Prior, StandardNormal, VampPrior

__all__ = [
    "AFPrior",
    "AutoregressiveFlow",
    "Bernoulli",
    "BernoulliPixels",
    "DiscretizedLogistic",
    "DiscretizedLogisticMixture",
    "Gaussian",
    "GaussianConditional",
    "GaussianMixture",
    "GaussianPosterior",
    "IAFPosterior",
    "Likelihood",
    "LogisticMixturePixels",
    "LogisticPixels",
    "PixelCNN",
    "Posterior",
    "Prior",
    "StandardNormal",
    "VampPrior",
    "bits_per_dim",
    "dequantize",
    "dequantized_bits_per_dim",
]
