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
8-bit value (PixelCNN++ edge bins), ``'logistic-mixture'`` a mixture of discretised logistics
per pixel with its colour channels coupled (PixelCNN++), ``'gaussian'`` a Gaussian with a
predicted scale for real-valued data. Images are ``(H, W, C)``: grey or colour.
"""

from __future__ import annotations

from jvae.components.conditionals import GaussianConditional
from jvae.components.gaussian_likelihood import Gaussian
from jvae.components.likelihoods import Bernoulli, DiscretizedLogistic, Likelihood
from jvae.components.logistic_mixture import DiscretizedLogisticMixture, LogisticMixturePixels
from jvae.components.pixelcnn_likelihood import PixelCNN
from jvae.components.pixels import BernoulliPixels, LogisticPixels
from jvae.components.posteriors import GaussianPosterior
from jvae.nn.conv import (
    ENCODER_CONVS_Z1,
    ConvBernoulli,
    ConvDecoder,
    ConvGaussian,
    ConvLogistic,
    ConvMap,
)
from jvae.nn.pixelcnn import GatedPixelCNN, largest_useful_radius, layers_for_radius

DECODERS = ("mlp", "conv", "pixelcnn")
# Each likelihood and the data it models (jvae.components.likelihoods): binary values are
# binarised while training, 8-bit ones and real ones are used as they are.
DATA_KINDS = {
    "bernoulli": "binary",
    "gaussian": "real",
    "logistic": "8bit",
    "logistic-mixture": "8bit",
}
LIKELIHOODS = tuple(DATA_KINDS)
MIXTURE_COMPONENTS = 5  # of the logistic mixture (PixelCNN++ used 10 with a far larger net)


def conv_posterior(
    latent: int, event_shape: tuple[int, int, int], parent_sizes: tuple[int, ...] = ()
) -> GaussianPosterior:
    r""":math:`q(z \mid x)` through the authors' gated convolutions (28x28 -> 7x7x6) of images
    ``[..., H, W, C]``, or with further parents (:math:`q(z_1 \mid x, z_2)`) their second stack,
    a gated dense branch per parent as wide as the flattened image features and a joint gated
    layer of 300."""
    height, width = event_shape[:2]
    if not parent_sizes:
        module = ConvGaussian(latent)
    else:
        features = 6 * (height // 4) * (width // 4)
        branches = tuple((features,) for _ in parent_sizes)
        module = ConvGaussian(latent, ENCODER_CONVS_Z1, branches, (300,))
    return GaussianPosterior(
        GaussianConditional(module, (tuple(event_shape), *parent_sizes), latent)
    )


def image_decoder(
    kind: str,
    likelihood: str,
    parent_sizes: tuple[int, ...],
    event_shape: tuple[int, int, int],
    receptive_field: int = 6,
    channels: int = 32,
) -> Likelihood:
    """:math:`p(x \\mid \text{parents})` for ``kind`` in ``'conv'``, ``'pixelcnn'``.

    Args:
      kind: ``'conv'`` (gated dense 300 per parent, an ``H*W`` map, four gated 3x3 convolutions
        of 64, a 1x1 convolution to the likelihood's outputs) or ``'pixelcnn'`` (a dense map of
        ``H*W`` per parent conditioning a gated PixelCNN of ``receptive_field`` 3x3 layers and
        ``channels`` channels, values ordered R before G before B within a pixel).
      likelihood: one of :data:`LIKELIHOODS` (``'pixelcnn'``: ``'bernoulli'`` or
        ``'logistic'``).
      parent_sizes: the size of each parent latent.
      event_shape: ``(H, W, C)``.
      receptive_field: the PixelCNN's radius ``R`` (``'pixelcnn'`` only), at most
        ``max(H, W) - 1`` (:func:`jvae.nn.pixelcnn.largest_useful_radius`): that radius already
        sees every earlier pixel, and a larger one only adds layers (and compile time).
      channels: the PixelCNN's channels (``'pixelcnn'`` only; rounded up to a multiple of C).
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {LIKELIHOODS}.")
    event_shape = tuple(int(d) for d in event_shape)
    if len(event_shape) != 3:
        raise ValueError(
            f"decoder={kind!r} reads images (H, W, C); the data have event shape {event_shape}: "
            "use decoder='mlp'."
        )
    height, width, colours = event_shape
    pixels_dim = height * width
    if kind == "conv":
        branches = tuple((300,) for _ in parent_sizes)
        joint = (pixels_dim,)
        if likelihood == "bernoulli":
            module = ConvBernoulli(event_shape, branches, joint)
            return Bernoulli(module, parent_sizes, event_shape)
        if likelihood == "logistic":
            module = ConvLogistic(event_shape, branches, joint)
            return DiscretizedLogistic(module, parent_sizes, event_shape)
        if likelihood == "gaussian":
            module = ConvDecoder(event_shape, branches, 2, joint)
            return Gaussian(module, parent_sizes, event_shape, variance="predicted", scale=0.1)
        per_pixel = LogisticMixturePixels(MIXTURE_COMPONENTS, colours).outputs_per_pixel
        module = ConvDecoder((height, width, 1), branches, per_pixel, joint)
        return DiscretizedLogisticMixture(module, parent_sizes, event_shape, MIXTURE_COMPONENTS)
    if kind == "pixelcnn":
        if likelihood not in ("bernoulli", "logistic"):
            raise ValueError(
                f"the PixelCNN decoder models each value as a Bernoulli or a discretised "
                f"logistic; got likelihood={likelihood!r}: use 'bernoulli' or 'logistic'."
            )
        pixels = BernoulliPixels() if likelihood == "bernoulli" else LogisticPixels()
        conditioner = ConvMap(event_shape, tuple((pixels_dim,) for _ in parent_sizes))
        useful = largest_useful_radius((height, width))
        if receptive_field > useful:
            raise ValueError(
                f"receptive_field={receptive_field} exceeds the largest useful value {useful} for "
                f"{height}x{width} images (a radius of {useful} already sees every earlier "
                "pixel)."
            )
        layers = layers_for_radius(receptive_field)
        width_channels = -(-channels // colours) * colours
        network = GatedPixelCNN(
            layers, width_channels, out_channels=pixels.channels, image_channels=colours
        )
        return PixelCNN(conditioner, network, parent_sizes, event_shape, pixels)
    raise ValueError(f"unknown image decoder {kind!r}; choose 'conv' or 'pixelcnn'.")
