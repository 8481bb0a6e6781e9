"""``ModelSpec``: the parts of a model (architecture, prior, posterior, decoder, likelihood) and
how its params start; :meth:`ModelSpec.build` makes the :class:`~jvae.models.model.Model`."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from jvae.components.likelihoods import data_mean_logits
from jvae.models.build import (
    ARCHITECTURES,
    DECODER_BIASES,
    POSTERIORS,
    PRIORS,
    build_model,
    check_combination,
)
from jvae.models.conv_models import DATA_KINDS, DECODERS, LIKELIHOODS
from jvae.models.model import Model
from jvae.options import option

Params = dict


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A model from parts (see :mod:`jvae.models.build`); its one-line checks run when it is
    made and when it is built, never later.

    >>> spec = ModelSpec(prior="mog", components=10)
    >>> spec.build((28, 28)).latent_sizes
    (50,)
    >>> ModelSpec(posterior="iaf", prior="vamp")
    Traceback (most recent call last):
    ...
    ValueError: prior='vamp' mixes Gaussian posteriors q(z | u), which an IAF posterior is not: use posterior='gaussian' or another prior.
    """  # noqa: E501

    architecture: str = option("iwae", "iwae chain, hvae ladder or a dSprites net", ARCHITECTURES)
    layers: int = option(1, "stochastic layers of the iwae architecture (1 or 2)")
    latent_size: int = option(0, "latent size of the 1-layer iwae and dSprites nets (0: theirs)")
    prior: str = option("sg", "prior over the top latent", PRIORS)
    components: int = option(500, "mixture components / VampPrior pseudo-inputs")
    posterior: str = option("gaussian", "posterior of the latent read from x", POSTERIORS)
    flow_steps: int = option(2, "steps of the IAF posterior or the AF prior")
    decoder: str = option("mlp", "the architecture's mlp, the conv pair or a PixelCNN", DECODERS)
    likelihood: str = option(
        "bernoulli", "p(x|z): bernoulli, gaussian, logistic or logistic-mixture", LIKELIHOODS
    )
    decoder_bias: str = option(
        "zero", "initial output bias: zero or the data's mean logits", DECODER_BIASES
    )
    receptive_field: int = option(6, "PixelCNN radius in pixels")
    pixelcnn_channels: int = option(32, "PixelCNN channels")

    def __post_init__(self) -> None:
        check_combination(self)

    def build(
        self,
        event_shape: tuple[int, ...],
        train_images: np.ndarray | None = None,
        seed: int = 0,
    ) -> Model:
        """The model for examples of ``event_shape`` (``train_images`` and ``seed`` choose a
        VampPrior "data"'s pseudo-inputs; without them, a template to restore into)."""
        return build_model(self, event_shape, train_images, seed)

    @property
    def data_kind(self) -> str:
        """What data the likelihood models: ``'binary'``, ``'8bit'`` or ``'real'``."""
        return DATA_KINDS[self.likelihood]

    def output_bias(self, train_images: np.ndarray) -> np.ndarray | None:
        """The decoder's initial output bias: the training pixels' mean logits for
        ``decoder_bias='data_mean'`` (:func:`~jvae.components.likelihoods.data_mean_logits`),
        else ``None`` (the network's own initialisation)."""
        return data_mean_logits(train_images) if self.decoder_bias == "data_mean" else None

    @staticmethod
    def init(rng_key: jax.Array, model: Model, output_bias: jax.Array | None = None) -> Params:
        """``model.init(rng_key)``, with the likelihood's output bias set to ``output_bias``
        when given (:meth:`output_bias`)."""
        params = model.init(rng_key)
        if output_bias is None:
            return params
        key = model.parts.likelihood_key
        decoder = params["decoder"]
        biased = model.parts.likelihood.with_output_bias(decoder[key], output_bias)
        return {**params, "decoder": {**decoder, key: biased}}
