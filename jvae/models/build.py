"""From a :class:`~jvae.models.spec.ModelSpec` to a :class:`~jvae.models.model.Model`.

``build_model(spec, event_shape)`` reads:

- ``spec.architecture``: ``'iwae'``, the IWAE paper's chain with ``spec.layers`` stochastic
  layers; ``'hvae'``, Tomczak & Welling's ladder; ``'higgins-mlp'`` and ``'burgess-conv'``, the
  beta-VAE papers' dSprites nets (:mod:`jvae.models.dsprites_vae`);
- ``spec.prior``: ``'sg'`` standard Gaussian, ``'mog'`` mixture of Gaussians, ``'vamp'``
  VampPrior, ``'vamp-data'`` VampPrior with training images as pseudo-inputs, ``'af'``
  autoregressive-flow prior; ``spec.components`` and ``spec.flow_steps``;
- ``spec.posterior``: ``'gaussian'`` or ``'iaf'`` on the latent read from x;
- ``spec.decoder``: ``'mlp'`` (the architecture's own), ``'conv'`` (the conv pair) or
  ``'pixelcnn'`` (conv encoders and a PixelCNN decoder of radius ``spec.receptive_field``),
  with ``spec.likelihood`` (:mod:`jvae.models.conv_models`); ``spec.latent_size``.

Flows use MADEs of two hidden layers: 320 units (the IAF paper's MNIST width) beside the IWAE
MLP, 300 beside the HVAE's gated layers. Unsupported combinations raise a one-line
``ValueError`` before anything compiles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jvae.components.af_prior import AFPrior
from jvae.components.flows import AutoregressiveFlow
from jvae.components.iaf import IAFPosterior
from jvae.components.posteriors import Posterior
from jvae.components.priors import GaussianMixture, Prior, StandardNormal, VampPrior
from jvae.models.conv_models import DECODERS, LIKELIHOODS, conv_posterior, image_decoder
from jvae.models.dsprites_vae import DSPRITES_ARCHITECTURES, LATENTS, dsprites_model
from jvae.models.hvae import tomczak_welling_hvae
from jvae.models.iwae_nets import iwae_mlp
from jvae.models.model import Model
from jvae.nn.gated import GatedGaussianContext
from jvae.nn.mlp import GaussianContextMLP
from jvae.options import check_at_least, check_choice

ARCHITECTURES = ("iwae", "hvae", *DSPRITES_ARCHITECTURES)
PRIORS = ("sg", "mog", "vamp", "vamp-data", "af")
POSTERIORS = ("gaussian", "iaf")
# The initial output bias of the decoder: zero (Flax's default), or the logits of the training
# pixels' means (Burda et al.'s code; see jvae.components.likelihoods.data_mean_logits).
DECODER_BIASES = ("zero", "data_mean")


def top_latent_size(spec: Any) -> int:
    """The size of the latent under the prior."""
    if spec.architecture == "hvae":
        return 40
    if spec.architecture in DSPRITES_ARCHITECTURES:
        return spec.latent_size or LATENTS
    if spec.layers == 2:
        return 50
    return spec.latent_size or 50


def choose_pseudo_inputs(train_images: np.ndarray, num_components: int, seed: int) -> np.ndarray:
    """``num_components`` distinct training images ``[N, *event_shape]``, chosen with ``seed``,
    flattened to ``[C, D]`` (VampPrior "data"; the model reshapes them for its encoder)."""
    n = len(train_images)
    if num_components > n:
        raise ValueError(
            f"prior='vamp-data' needs components <= the {n} training images; got {num_components}."
        )
    idx = np.random.default_rng(seed).choice(n, size=num_components, replace=False)
    chosen = np.asarray(train_images[np.sort(idx)], np.float32)
    return chosen.reshape(num_components, -1)


def flow_width(architecture: str) -> int:
    """Hidden width of the MADEs (and the IAF context) beside an architecture."""
    return 300 if architecture == "hvae" else 320


def make_prior(
    name: str,
    latent_size: int,
    num_components: int,
    data_dim: int,
    train_images: np.ndarray | None = None,
    seed: int = 0,
    flow_steps: int = 2,
    flow_hidden: int = 320,
) -> Prior:
    """The prior called ``name`` over ``latent_size`` dimensions.

    ``'vamp-data'`` draws its pseudo-inputs from ``train_images``; without them it gets zeros
    of the right shape, a template for restoring a checkpoint (which holds the real ones).
    """
    if name == "sg":
        return StandardNormal(latent_size)
    if name == "mog":
        return GaussianMixture(latent_size, num_components)
    if name == "vamp":
        return VampPrior(latent_size, num_components, data_dim)
    if name == "vamp-data":
        if train_images is None:
            fixed = np.zeros((num_components, data_dim), np.float32)
        else:
            fixed = choose_pseudo_inputs(train_images, num_components, seed)
        return VampPrior(latent_size, num_components, data_dim, fixed_inputs=fixed)
    if name == "af":
        return AFPrior(AutoregressiveFlow(latent_size, flow_steps, (flow_hidden, flow_hidden)))
    raise ValueError(f"unknown prior {name!r}; choose one of {PRIORS}.")


def make_posterior(spec: Any, data_dim: int) -> Posterior | None:
    """The IAF posterior of the latent read from x (``None``: the architecture's Gaussian)."""
    if spec.posterior == "gaussian":
        return None
    h, latent = flow_width(spec.architecture), top_latent_size(spec)
    flow = AutoregressiveFlow(latent, spec.flow_steps, (h, h), context_size=h)
    if spec.architecture == "hvae":
        return IAFPosterior(
            GatedGaussianContext(((h, h),), (), latent, context=h), (data_dim,), flow
        )
    return IAFPosterior(GaussianContextMLP((200, 200), latent, context=h), (data_dim,), flow)


def check_combination(spec: Any) -> None:
    """One-line ``ValueError`` for a :class:`~jvae.models.spec.ModelSpec` whose parts do not fit
    together (checked where the model is built, before anything compiles)."""
    check_choice("architecture", spec.architecture, ARCHITECTURES)
    check_choice("prior", spec.prior, PRIORS)
    check_choice("posterior", spec.posterior, POSTERIORS)
    check_choice("decoder", spec.decoder, DECODERS)
    check_choice("likelihood", spec.likelihood, LIKELIHOODS)
    check_choice("decoder_bias", spec.decoder_bias, DECODER_BIASES)
    for name in ("layers", "components", "receptive_field", "pixelcnn_channels"):
        check_at_least(name, getattr(spec, name), 1)
    for name in ("latent_size", "flow_steps"):
        check_at_least(name, getattr(spec, name), 0)
    iwae, layers = spec.architecture == "iwae", spec.layers
    fails = [
        (iwae and layers not in (1, 2), f"the iwae architecture has 1 or 2 layers; got {layers}"),
        (
            not iwae and layers != 1,
            f"the {spec.architecture} architecture has a fixed depth: use layers=1",
        ),
        (
            spec.prior.startswith("vamp") and iwae and layers == 2,
            f"prior={spec.prior!r} mixes posteriors q(z2 | u) of pseudo-inputs, but the IWAE chain "
            "infers z2 from z1, not x: use layers=1 or architecture='hvae'",
        ),
        (
            bool(spec.latent_size)
            and not ((iwae and layers == 1) or spec.architecture in DSPRITES_ARCHITECTURES),
            "latent_size applies to the 1-layer iwae and the dSprites architectures only",
        ),
        (
            spec.posterior == "iaf" and iwae and layers == 2,
            "posterior='iaf' applies to the 1-layer iwae model and to the hvae's q(z2 | x)",
        ),
        (
            spec.posterior == "iaf" and spec.prior.startswith("vamp"),
            f"prior={spec.prior!r} mixes Gaussian posteriors q(z | u), which an IAF posterior "
            "is not: use posterior='gaussian' or another prior",
        ),
        (
            spec.architecture in DSPRITES_ARCHITECTURES and spec.posterior != "gaussian",
            f"the {spec.architecture} architecture has one Gaussian latent: use "
            "posterior='gaussian'",
        ),
        (
            spec.decoder != "mlp" and not (spec.architecture == "hvae" or (iwae and layers == 1)),
            f"decoder={spec.decoder!r} applies to the 1-layer iwae and the hvae architectures",
        ),
        (
            spec.likelihood != "bernoulli" and spec.architecture in DSPRITES_ARCHITECTURES,
            f"the {spec.architecture} architecture models binary images: use "
            "likelihood='bernoulli'",
        ),
        (
            spec.likelihood != "bernoulli"
            and spec.decoder == "mlp"
            and spec.architecture == "hvae",
            f"likelihood={spec.likelihood!r} with the hvae architecture needs decoder='conv' (its "
            "MLP decoder is Bernoulli only)",
        ),
    ]
    for failed, message in fails:
        if failed:
            raise ValueError(message + ".")


def build_model(
    spec: Any,
    event_shape: tuple[int, ...] = (28, 28, 1),
    train_images: np.ndarray | None = None,
    seed: int = 0,
) -> Model:
    """The model a :class:`~jvae.models.spec.ModelSpec` describes (see the module docstring),
    for examples of ``event_shape`` (``(H, W, C)`` images, or ``(D,)`` vectors);
    ``train_images`` and ``seed`` choose a VampPrior "data"'s pseudo-inputs. A
    ``decoder_bias='data_mean'`` is checked here and set at initialisation
    (:meth:`jvae.models.spec.ModelSpec.init`)."""
    check_combination(spec)
    event_shape = tuple(int(d) for d in event_shape)
    data_dim = int(np.prod(event_shape))
    prior = make_prior(
        spec.prior,
        top_latent_size(spec),
        spec.components,
        data_dim,
        train_images,
        seed,
        spec.flow_steps,
        flow_width(spec.architecture),
    )
    if spec.architecture in DSPRITES_ARCHITECTURES:
        model = dsprites_model(spec, prior, event_shape)
    else:
        model = _chain_or_ladder(spec, prior, event_shape)
    if spec.decoder_bias == "data_mean":
        model.parts.likelihood.check_output_bias()
    return model


def _chain_or_ladder(spec: Any, prior: Prior, event_shape: tuple[int, ...]) -> Model:
    """The iwae chain or the hvae ladder, with the spec's posterior and decoder."""
    posterior = make_posterior(spec, int(np.prod(event_shape)))
    likelihood, q_z1 = None, None
    if spec.decoder != "mlp":  # the conv pair, or a PixelCNN decoder, with conv encoders
        z1 = 40 if spec.architecture == "hvae" else top_latent_size(spec)
        parents = (z1, 40) if spec.architecture == "hvae" else (z1,)
        likelihood = image_decoder(
            spec.decoder,
            spec.likelihood,
            parents,
            event_shape,
            spec.receptive_field,
            spec.pixelcnn_channels,
        )
        if spec.posterior == "gaussian":
            posterior = conv_posterior(parents[-1], event_shape)
            if spec.architecture == "hvae":
                q_z1 = conv_posterior(z1, event_shape, (40,))
    if spec.architecture == "hvae":
        return tomczak_welling_hvae(
            prior,
            event_shape,
            q_z2=posterior,
            q_z1=q_z1,
            likelihood=likelihood,
        )
    return iwae_mlp(
        spec.layers,
        event_shape,
        spec.latent_size or None,
        prior,
        posterior,
        likelihood,
        spec.likelihood,
    )
