"""Flax modules that map inputs to distribution parameters."""

from jvae.nn.gated import GatedBernoulli, GatedDense, GatedGaussian, GatedNet
from jvae.nn.mlp import MLP, BernoulliMLP, GaussianMLP, apply_rows

__all__ = [
    "MLP",
    "BernoulliMLP",
    "GatedBernoulli",
    "GatedDense",
    "GatedGaussian",
    "GatedNet",
    "GaussianMLP",
    "apply_rows",
]
