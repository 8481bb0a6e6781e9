"""Convolutional and autoregressive decoders, and the conv encoders paired with them.

``decoder="conv"`` is the VampPrior paper's conv pair (Tomczak & Welling 2018, ConvHVAE): gated
convolutional encoders and a decoder of gated dense layers read as an image, then gated 3x3
convolutions (:mod:`jvae.nn.conv`). ``decoder="pixelcnn"`` is an autoregressive decoder: a
gated PixelCNN without blind spot (:mod:`jvae.nn.pixelcnn`) conditioned on a map of the latents,
whose receptive field is a radius ``R``: each pixel sees the ``R`` rows above it (``R`` columns
either side) and the ``R`` pixels to its left. A small ``R`` is VLAE's (Chen et al. 2017): local
statistics in the decoder, global structure through z; a large one is PixelVAE's (Gulrajani et
al. 2016), free to ignore z. The PixelCNN's layers are 3x3, one per unit of radius
(:func:`jvae.nn.pixelcnn.layers_for_radius`), which costs less than fewer, larger kernels.

``likelihood='bernoulli'`` is for binarised images; ``'logistic'`` a discretised logistic per
8-bit grey level (PixelCNN++ edge bins), for grey-level data, reported in bits/dim too.
"""

from __future__ import annotations

from jvae.components.conditionals import GaussianConditional
from jvae.components.likelihoods import Bernoulli, DiscretizedLogistic, Likelihood, PixelCNN
from jvae.components.pixels import BernoulliPixels, LogisticPixels
from jvae.components.posteriors import GaussianPosterior
from jvae.nn.conv import ENCODER_CONVS_Z1, ConvBernoulli, ConvGaussian, ConvLogistic, ConvMap
from jvae.nn.pixelcnn import GatedPixelCNN, largest_useful_radius, layers_for_radius

DECODERS = ("mlp", "conv", "pixelcnn")
LIKELIHOODS = ("bernoulli", "logistic")


def conv_posterior(
    latent: int, image_shape: tuple[int, int], parent_sizes: tuple[int, ...] = ()
) -> GaussianPosterior:
    r""":math:`q(z \mid x)` through the authors' gated convolutions (28x28 -> 7x7x6), or with
    further parents (:math:`q(z_1 \mid x, z_2)`) their second stack, a gated dense branch per
    parent as wide as the flattened image features and a joint gated layer of 300."""
    height, width = image_shape
    if not parent_sizes:
        module = ConvGaussian(image_shape, latent)
    else:
        features = 6 * (height // 4) * (width // 4)
        branches = tuple((features,) for _ in parent_sizes)
        module = ConvGaussian(image_shape, latent, ENCODER_CONVS_Z1, branches, (300,))
    return GaussianPosterior(GaussianConditional(module, (height * width, *parent_sizes), latent))


def image_decoder(
    kind: str,
    likelihood: str,
    parent_sizes: tuple[int, ...],
    image_shape: tuple[int, int],
    receptive_field: int = 6,
    channels: int = 32,
) -> Likelihood:
    """:math:`p(x \\mid \\text{parents})` for ``kind`` in ``'conv'``, ``'pixelcnn'``.

    Args:
      kind: ``'conv'`` (gated dense 300 per parent, an ``H*W`` map, four gated 3x3 convolutions
        of 64) or ``'pixelcnn'`` (a dense map of ``H*W`` per parent conditioning a gated
        PixelCNN of ``receptive_field`` 3x3 layers and ``channels`` channels).
      likelihood: ``'bernoulli'`` or ``'logistic'``.
      parent_sizes: the size of each parent latent.
      image_shape: ``(H, W)``.
      receptive_field: the PixelCNN's radius ``R`` (``'pixelcnn'`` only), at most
        ``max(H, W) - 1`` (:func:`jvae.nn.pixelcnn.largest_useful_radius`): that radius already
        sees every earlier pixel, and a larger one only adds layers (and compile time).
      channels: the PixelCNN's channels (``'pixelcnn'`` only).
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {LIKELIHOODS}.")
    pixels_dim = image_shape[0] * image_shape[1]
    if kind == "conv":
        branches = tuple((300,) for _ in parent_sizes)
        if likelihood == "bernoulli":
            return Bernoulli(ConvBernoulli(image_shape, branches, (pixels_dim,)), parent_sizes,
                             pixels_dim)  # fmt: skip
        module = ConvLogistic(image_shape, branches, (pixels_dim,))
        return DiscretizedLogistic(module, parent_sizes, pixels_dim)
    if kind == "pixelcnn":
        pixels = BernoulliPixels() if likelihood == "bernoulli" else LogisticPixels()
        conditioner = ConvMap(image_shape, tuple((pixels_dim,) for _ in parent_sizes))
        useful = largest_useful_radius(image_shape)
        if receptive_field > useful:
            raise ValueError(
                f"receptive_field={receptive_field} exceeds the largest useful value {useful} for "
                f"{image_shape[0]}x{image_shape[1]} images (a radius of {useful} already sees "
                "every earlier pixel)."
            )
        layers = layers_for_radius(receptive_field)
        network = GatedPixelCNN(layers, channels, out_channels=pixels.channels)
        return PixelCNN(conditioner, network, parent_sizes, image_shape, pixels)
    raise ValueError(f"unknown image decoder {kind!r}; choose 'conv' or 'pixelcnn'.")
