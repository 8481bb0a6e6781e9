r"""A dense (MLP) decoder :math:`p(x \mid z)` for any of the likelihoods: the IWAE paper's tanh
MLP with a linear head sized to what the likelihood reads per example.

``'bernoulli'``: a logit per value; ``'gaussian'``: a mean and a raw scale per value (the
lecture's :math:`\mathcal N(\mu(z), \sigma^2(z))`, its scale floored,
:mod:`jvae.components.gaussian_likelihood`); ``'logistic'``: a location and a log-scale per
8-bit value; ``'logistic-mixture'``: a mixture of discretised logistics per pixel with its
colour channels coupled (PixelCNN++).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from jvae.components.gaussian_likelihood import Gaussian
from jvae.components.likelihoods import Bernoulli, DiscretizedLogistic, Likelihood
from jvae.components.logistic_mixture import DiscretizedLogisticMixture
from jvae.nn.mlp import BernoulliMLP, as_shape

#: The scale of a Gaussian decoder at a zero raw output (data in [0, 1]).
GAUSSIAN_SCALE = 0.1


def dense_likelihood(
    likelihood: str,
    hidden: Sequence[int],
    latent_size: int,
    event_shape: int | Sequence[int],
    mixture_components: int = 5,
) -> Likelihood:
    """:math:`p(x \\mid z)` for ``likelihood`` (``'bernoulli'``, ``'gaussian'``, ``'logistic'``,
    ``'logistic-mixture'``) through a tanh MLP of widths ``hidden`` from ``z [..., latent_size]``
    to the likelihood's outputs for examples of ``event_shape``; a mixture needs
    ``(H, W, C)`` images (its channels are coupled within a pixel)."""
    event_shape = as_shape(event_shape)
    values = math.prod(event_shape)
    parents = (int(latent_size),)
    hidden = tuple(int(h) for h in hidden)
    if likelihood == "bernoulli":
        return Bernoulli(BernoulliMLP(hidden, values), parents, event_shape)
    if likelihood == "gaussian":
        shape = Gaussian(None, parents, event_shape, scale=GAUSSIAN_SCALE).output_shape
        network = BernoulliMLP(hidden, math.prod(shape))
        return Gaussian(network, parents, event_shape, variance="predicted", scale=GAUSSIAN_SCALE)
    if likelihood == "logistic":
        return DiscretizedLogistic(BernoulliMLP(hidden, 2 * values), parents, event_shape)
    if likelihood == "logistic-mixture":
        if len(event_shape) != 3:
            raise ValueError(
                f"a logistic mixture couples the colour channels of a pixel: it needs (H, W, C) "
                f"images; got event shape {event_shape}: use likelihood='logistic'."
            )
        shape = DiscretizedLogisticMixture(
            None, parents, event_shape, mixture_components
        ).output_shape
        network = BernoulliMLP(hidden, math.prod(shape))
        return DiscretizedLogisticMixture(network, parents, event_shape, mixture_components)
    raise ValueError(
        f"unknown likelihood {likelihood!r}; choose 'bernoulli', 'gaussian', 'logistic' or "
        "'logistic-mixture'."
    )
