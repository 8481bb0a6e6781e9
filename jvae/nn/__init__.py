"""Flax modules that map inputs to distribution parameters."""

from jvae.nn.gated import (
    GatedBernoulli,
    GatedDense,
    GatedGaussian,
    GatedGaussianContext,
    GatedNet,
)
from jvae.nn.made import MADE
from jvae.nn.mlp import MLP, BernoulliMLP, GaussianContextMLP, GaussianMLP, apply_rows

__all__ = [
    "MADE",
    "MLP",
    "BernoulliMLP",
    "GatedBernoulli",
    "GatedDense",
    "GatedGaussian",
    "GatedGaussianContext",
    "GatedNet",
    "GaussianContextMLP",
    "GaussianMLP",
    "apply_rows",
]
