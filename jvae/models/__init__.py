"""Models assembled from parts, the IWAE paper's and the VampPrior paper's architectures, the
linear-Gaussian oracle, and the configuration -> model builder."""

from jvae.models.dense_decoders import dense_likelihood
from jvae.models.hvae import tomczak_welling_hvae
from jvae.models.iwae_nets import chain_vae, iwae_mlp
from jvae.models.model import PRIOR_ENCODER, Latent, Model, ModelParts, assemble, check_data
from jvae.models.vae import vae

__all__ = [
    "PRIOR_ENCODER",
    "Latent",
    "Model",
    "ModelParts",
    "assemble",
    "chain_vae",
    "check_data",
    "dense_likelihood",
    "iwae_mlp",
    "tomczak_welling_hvae",
    "vae",
]
