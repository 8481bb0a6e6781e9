"""jvae: variational autoencoders and importance-weighted bounds as pure JAX functions."""

from jvae.bounds import LogWeights, effective_sample_size, elbo, iwae, normalized_weights
from jvae.estimators import dreg_weights, make_objective
from jvae.models import Model, iwae_mlp, layered_vae
from jvae.numerics import log_mean_exp
from jvae.train import TrainState, init_state, make_epoch, make_optimizer, make_train_step

__all__ = [
    "LogWeights",
    "Model",
    "TrainState",
    "dreg_weights",
    "effective_sample_size",
    "elbo",
    "init_state",
    "iwae",
    "iwae_mlp",
    "layered_vae",
    "log_mean_exp",
    "make_epoch",
    "make_objective",
    "make_optimizer",
    "make_train_step",
    "normalized_weights",
]
__version__ = "0.1.0"
