r"""``vae(encoder, decoder, ...)``: a one-latent model from your own networks.

The short path from a user's networks to a :class:`~jvae.models.model.Model`:

.. math:: q(z \mid x) = \mathcal N(\mu(x), \mathrm{diag}\,\sigma^2(x)), \quad p(z), \quad
          p(x \mid z) \text{ from the decoder's outputs}.

The encoder reads ``x [N, *event_shape]`` in its natural shape (``flatten_x=True`` gives it
``[N, D]``, for an MLP) and returns ``(mean, log_scale)``, each ``[N, latent]``; the decoder
reads ``z [N, latent]`` and returns the likelihood's raw outputs, ``[N, *event_shape, P]`` or
``[N, D * P]`` (``P`` per value: :data:`LIKELIHOODS`). Either may be a Flax linen module
or an ``(init_fn, apply_fn)`` pair (:class:`jvae.nn.network.Network`: Flax NNX, Equinox, ...).
Every part is checked against ``event_shape`` when the model is built, with one-line errors.
The general graph (several latents, other posteriors) is one step further:
:func:`jvae.models.model.assemble`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jvae.components.conditionals import GaussianConditional
from jvae.components.gaussian_likelihood import Gaussian
from jvae.components.likelihoods import Bernoulli, DiscretizedLogistic, Likelihood
from jvae.components.logistic_mixture import DiscretizedLogisticMixture
from jvae.components.posteriors import GaussianPosterior
from jvae.components.priors import Prior, StandardNormal
from jvae.models.model import DATA, Latent, Model, ModelParts, assemble
from jvae.nn.mlp import as_shape
from jvae.nn.network import as_network


def _bernoulli(decoder: Any, latent: int, event_shape: tuple[int, ...]) -> Likelihood:
    return Bernoulli(decoder, (latent,), event_shape)


def _gaussian(decoder: Any, latent: int, event_shape: tuple[int, ...]) -> Likelihood:
    return Gaussian(decoder, (latent,), event_shape, variance="predicted")


def _logistic(decoder: Any, latent: int, event_shape: tuple[int, ...]) -> Likelihood:
    return DiscretizedLogistic(decoder, (latent,), event_shape)


def _logistic_mixture(decoder: Any, latent: int, event_shape: tuple[int, ...]) -> Likelihood:
    return DiscretizedLogisticMixture(decoder, (latent,), event_shape, num_components=5)


# The likelihood a name gives the decoder's outputs: a Bernoulli per value (1 output per
# value: the logit), a Gaussian with predicted scale (2: mean and raw scale), a discretised
# logistic per value (2: location and log-scale), a mixture of 5 discretised logistics per
# pixel with coupled channels (P = 5 (1 + 2C + C(C-1)/2) per pixel). For other settings pass a
# likelihood object (jvae.components).
LIKELIHOODS = {
    "bernoulli": _bernoulli,
    "gaussian": _gaussian,
    "logistic": _logistic,
    "logistic-mixture": _logistic_mixture,
}


def encoder_latent_size(encoder: Any, shape: tuple[int, ...]) -> int:
    """The latent size an encoder gives for one example of ``shape`` (abstractly: nothing runs);
    one-line ``ValueError`` unless it returns ``(mean, log_scale)`` of equal shapes ``[1, d]``."""

    def forward() -> Any:  # key and x made inside the trace: nothing compiles
        key, x = jax.random.PRNGKey(0), jnp.zeros((1, *shape), jnp.float32)
        return encoder.apply(encoder.init(key, x), x)

    try:
        out = jax.eval_shape(forward)
    except Exception as error:  # re-raised in one line naming the part
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError(f"the encoder fails on x of shape {(1, *shape)}: {first}") from error
    shapes = [tuple(o.shape) for o in out] if isinstance(out, (tuple, list)) else None
    if not shapes or len(shapes) != 2 or shapes[0] != shapes[1] or len(shapes[0]) != 2:
        got = shapes or tuple(getattr(out, "shape", ()))
        raise ValueError(
            f"the encoder must return (mean, log_scale), each [N, latent]; on x of shape "
            f"{(1, *shape)} it gives {got}"
            + ("" if len(shape) == 1 else " (an MLP reads vectors: pass flatten_x=True)")
            + "."
        )
    return shapes[0][1]


def vae(
    encoder: Any,
    decoder: Any,
    event_shape: int | Sequence[int],
    likelihood: str | Likelihood = "bernoulli",
    prior: Prior | None = None,
    flatten_x: bool = False,
) -> Model:
    """A one-latent VAE from an encoder and a decoder network (module docstring).

    Args:
      encoder: ``x -> (mean, log_scale)``; a Flax linen module or ``(init_fn, apply_fn)``.
      decoder: ``z -> raw outputs`` for ``likelihood`` (ignored when ``likelihood`` is a
        :class:`~jvae.components.likelihoods.Likelihood` object, which holds its own network).
      event_shape: one example's shape, ``(H, W, C)`` or ``D``.
      likelihood: a name in :data:`LIKELIHOODS` or a likelihood object over ``event_shape``.
      prior: over z (default :math:`\\mathcal N(0, I)`).
      flatten_x: the encoder reads ``x`` as ``[N, prod(event_shape)]``.

    >>> import flax.linen as nn
    >>> from jvae.nn import Conv  # flax.linen.Conv's numbers, its gradients fast in a CPU scan
    >>> class Encoder(nn.Module):
    ...     @nn.compact
    ...     def __call__(self, x):
    ...         h = nn.relu(Conv(8, (3, 3), 2)(x)).reshape(x.shape[0], -1)
    ...         return nn.Dense(2)(h), nn.Dense(2)(h)
    >>> model = vae(Encoder(), nn.Dense(8 * 8), event_shape=(8, 8, 1))
    >>> model.latent_sizes, model.event_shape
    ((2,), (8, 8, 1))
    """
    event_shape = as_shape(event_shape)
    encoder = as_network(encoder)
    x_shape = (math.prod(event_shape),) if flatten_x else event_shape
    latent = encoder_latent_size(encoder, x_shape)
    if isinstance(likelihood, str):
        if likelihood not in LIKELIHOODS:
            raise ValueError(
                f"unknown likelihood {likelihood!r}; choose one of {sorted(LIKELIHOODS)} or pass "
                "a likelihood object."
            )
        likelihood = LIKELIHOODS[likelihood](as_network(decoder), latent, event_shape)
    posterior = GaussianPosterior(GaussianConditional(encoder, (x_shape,), latent))
    parts = ModelParts(
        latents=(Latent("z", posterior, (DATA,), "q"),),
        inference_order=("z",),
        prior=prior or StandardNormal(latent),
        likelihood=likelihood,
        likelihood_parents=("z",),
        likelihood_key="p",
    )
    return assemble(parts, event_shape)
