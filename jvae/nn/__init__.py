"""Flax modules that map inputs to distribution parameters."""

from jvae.nn.conv import ConvBernoulli, ConvGaussian, ConvLogistic, ConvMap, GatedConv
from jvae.nn.convolution import Conv, ConvTranspose, conv2d, conv_transpose2d, same_padding
from jvae.nn.gated import (
    GatedBernoulli,
    GatedDense,
    GatedGaussian,
    GatedGaussianContext,
    GatedNet,
)
from jvae.nn.made import MADE
from jvae.nn.mlp import MLP, BernoulliMLP, GaussianContextMLP, GaussianMLP, apply_rows
from jvae.nn.network import Network, as_network
from jvae.nn.pixelcnn import GatedPixelCNN, layers_for_radius, receptive_field

__all__ = [
    "MADE",
    "MLP",
    "BernoulliMLP",
    "Conv",
    "ConvBernoulli",
    "ConvGaussian",
    "ConvLogistic",
    "ConvMap",
    "ConvTranspose",
    "GatedBernoulli",
    "GatedConv",
    "GatedDense",
    "GatedGaussian",
    "GatedGaussianContext",
    "GatedNet",
    "GatedPixelCNN",
    "GaussianContextMLP",
    "GaussianMLP",
    "Network",
    "apply_rows",
    "as_network",
    "conv2d",
    "conv_transpose2d",
    "layers_for_radius",
    "receptive_field",
    "same_padding",
]
