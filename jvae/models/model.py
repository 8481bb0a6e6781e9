r"""A latent-variable model assembled from parts, with the log-weights as its one interface.

A model is a directed graph over the data ``x`` and named latents ``z_l``:

- inference: each latent has an amortised posterior :math:`q(z_l \mid \mathrm{pa}_q(z_l))`
  over parents among ``x`` and the latents drawn before it (``inference_order``);
- generation: the top latent has the prior :math:`p(z_L)`, every other latent a conditional
  :math:`p(z_l \mid \mathrm{pa}_p(z_l))`, and the data a likelihood
  :math:`p(x \mid \mathrm{pa}_p(x))`.

For K draws per example the model returns the three log-weight terms, each ``[K, B]``:

.. math:: \log w_k = \log p(x \mid z^{(k)}) + \log p(z^{(k)}) - \log q(z^{(k)} \mid x),

summed over layers. The IWAE paper's chain is ``q(z1|x) q(z2|z1)`` with ``p(z2) p(z1|z2)
p(x|z1)``; the VampPrior paper's ladder is ``q(z2|x) q(z1|x,z2)`` with ``p(z2) p(z1|z2)
p(x|z1,z2)``. Bounds, estimators, evaluation and training only ever see the log-weights.

Params are ``{'encoder': {posterior_key: ...}, 'decoder': {key: ...}, 'prior': ...}``. A prior
that reads the encoder (the VampPrior) evaluates the top posterior with
``params.get(PRIOR_ENCODER, params['encoder'])``: an estimator that must give the prior's use
of the encoder a different gradient from the posterior's (DReG, PIWAE) passes a separate copy
under :data:`PRIOR_ENCODER` (:func:`jvae.estimators.make_objective`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jvae.bounds import LogWeights
from jvae.components.conditionals import GaussianConditional
from jvae.components.likelihoods import Likelihood
from jvae.components.posteriors import Posterior
from jvae.components.priors import Encode, Prior
from jvae.distributions import DiagGaussian
from jvae.models.checks import DATA, check_graph, check_part_shapes, data_shapes
from jvae.nn.mlp import as_shape

Params = Any
PRIOR_ENCODER = "prior_encoder"


class Latent(NamedTuple):
    """One stochastic layer of a model.

    Attributes:
      name: the variable's name (``'z1'``).
      posterior: its amortised posterior (:mod:`jvae.components.posteriors`).
      posterior_parents: names the posterior reads (``'x'`` and/or latents).
      posterior_key: its entry in ``params['encoder']``.
      conditional: the generative conditional :math:`p(z_l \\mid \\cdot)`; ``None`` for the top
        latent, which has the prior.
      conditional_parents: names the conditional reads (latents).
      conditional_key: its entry in ``params['decoder']``.
    """

    name: str
    posterior: Posterior
    posterior_parents: tuple[str, ...]
    posterior_key: str
    conditional: GaussianConditional | None = None
    conditional_parents: tuple[str, ...] = ()
    conditional_key: str = ""


class ModelParts(NamedTuple):
    """What a :class:`Model` is assembled from (for diagnostics that need a part)."""

    latents: tuple[Latent, ...]
    inference_order: tuple[str, ...]
    prior: Prior
    likelihood: Likelihood
    likelihood_parents: tuple[str, ...]
    likelihood_key: str


class Model(NamedTuple):
    """A latent-variable model with its amortised posterior, as pure functions.

    Attributes:
      init: ``rng_key -> params`` (``{'encoder', 'decoder', 'prior'}``).
      log_weights: ``(params, rng_key, x[B, *event_shape], num_samples, stop_q=False) ->
        LogWeights``
        with ``[K, B]`` terms; ``stop_q`` evaluates ``log q`` with the encoder's params under
        ``stop_gradient`` while keeping the reparameterised path through ``z`` (STL, DReG).
      importance_samples: like ``log_weights`` but returns ``(LogWeights, {name: z[K, B,
        D_l]})``, the draws themselves (importance resampling, q_EW).
      posterior_means: ``(params, rng_key, x, num_samples) -> tuple of [B, D_l]``,
        :math:`E_q[z_l \\mid x]` per latent, bottom first (a layer whose posterior reads other
        latents is averaged over ``num_samples`` draws of them).
      sample: ``(params, rng_key, n) -> [n, *event_shape]`` fresh samples (the likelihood's
        mean where it is cheap).
      reconstruct: ``(params, rng_key, x) -> [B, *event_shape]`` at one posterior draw.
      log_prior: ``(params, z[..., D_L]) -> [...]``, :math:`\\log p(z_L)` of the top latent.
      posterior_distribution: ``(params, x) -> DiagGaussian`` of the first latent drawn when it
        reads x alone and is Gaussian (ELBO surgery); raises ``ValueError`` otherwise.
      latent_sizes: latent dimension of each stochastic layer, bottom first.
      latent_names: their names, bottom first.
      event_shape: the shape of one example x: ``(H, W, C)`` for images, ``(D,)`` for vectors
        (:attr:`data_dim` is its size, :attr:`image_shape` its ``(H, W)``).
      parts: the parts (``None`` for hand-written models such as the linear-Gaussian one).
      log_joint: ``(params, x[B, *event_shape], latents) -> (log p(x | z), log p(z))``, each
        ``[..., B]``, at given latents ``{name: z[..., B, D_l]}`` (annealed importance sampling);
        ``None`` where a hand-written model does not provide it.
      log_posterior: ``(params, x[B, *event_shape], latents) -> [..., B]``,
        :math:`\\log q(z \\mid x)` at given latents; raises ``ValueError`` for a posterior
        with no density at a given point (an IAF scores only its own draws); ``None`` where
        not provided.
      simulate: ``(params, rng_key, n) -> (x[n, *event_shape], {name: z[n, D_l]})``, ancestral draws
        of the latents and the data (bidirectional Monte Carlo); ``None`` where not provided.
    """

    init: Callable[[jax.Array], Params]
    log_weights: Callable[..., LogWeights]
    importance_samples: Callable[..., tuple[LogWeights, dict[str, jax.Array]]]
    posterior_means: Callable[..., tuple[jax.Array, ...]]
    sample: Callable[[Params, jax.Array, int], jax.Array]
    reconstruct: Callable[[Params, jax.Array, jax.Array], jax.Array]
    log_prior: Callable[[Params, jax.Array], jax.Array]
    posterior_distribution: Callable[[Params, jax.Array], DiagGaussian]
    latent_sizes: tuple[int, ...]
    latent_names: tuple[str, ...]
    event_shape: tuple[int, ...]
    parts: ModelParts | None = None
    log_joint: Callable[..., tuple[jax.Array, jax.Array]] | None = None
    log_posterior: Callable[..., jax.Array] | None = None
    simulate: Callable[..., tuple[jax.Array, dict[str, jax.Array]]] | None = None

    @property
    def data_dim(self) -> int:
        """The number of values in one example, ``prod(event_shape)``."""
        return math.prod(self.event_shape)

    @property
    def data_kind(self) -> str:
        """What data the likelihood models (:mod:`jvae.components.likelihoods`): ``'binary'``
        (binarised while training), ``'8bit'`` or ``'real'``; ``'real'`` for a hand-written
        model without parts."""
        if self.parts is None:
            return "real"
        return getattr(self.parts.likelihood, "data_kind", "real")

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)`` of an image event ``(H, W[, C])``; ``(1, D)`` for a vector."""
        shape = self.event_shape
        return (1, shape[0]) if len(shape) == 1 else (shape[0], shape[1])


def check_data(x: jax.Array, event_shape: tuple[int, ...]) -> None:
    """Raises ``ValueError`` unless ``x`` is a batch ``[B, *event_shape]``."""
    if tuple(jnp.shape(x)[1:]) != tuple(event_shape) or jnp.ndim(x) != len(event_shape) + 1:
        raise ValueError(
            f"x must be a batch of shape [B, {', '.join(map(str, event_shape))}]; got shape "
            f"{tuple(jnp.shape(x))}."
        )


def assemble(parts: ModelParts, event_shape: int | Sequence[int]) -> Model:
    """The :class:`Model` of ``parts`` for examples of ``event_shape`` (``(H, W, C)``, or ``D``
    for vectors); one-line ``ValueError`` for an inconsistent graph, a part whose shapes do not
    fit the data or the latents (:func:`check_part_shapes`), or an unsupported combination of
    parts (e.g. a prior that reads the encoder over a top latent whose posterior does not read x
    alone)."""
    event_shape = as_shape(event_shape)
    check_graph(parts)
    x_shapes = data_shapes(parts, event_shape)
    check_part_shapes(parts, event_shape, x_shapes)
    rank = len(event_shape)
    latents, order = parts.latents, parts.inference_order
    prior, likelihood = parts.prior, parts.likelihood
    by_name = {lat.name: lat for lat in latents}
    top = latents[-1]
    data_only = {lat.name: set(lat.posterior_parents) == {DATA} for lat in latents}
    prior_reads_encoder = bool(getattr(prior, "reads_encoder", False))
    if prior_reads_encoder and not (data_only[top.name] and hasattr(top.posterior, "distribution")):
        raise ValueError(
            f"{type(prior).__name__} mixes posteriors q({top.name} | u) of pseudo-inputs, so the "
            f"top latent's posterior must be a Gaussian of x alone; here it is "
            f"q({top.name} | {', '.join(top.posterior_parents)}) "
            "(use one stochastic layer or the hvae architecture)."
        )
    if prior.latent_size != top.posterior.latent_size:
        raise ValueError(
            f"the prior is over {prior.latent_size} dimensions; {top.name} has "
            f"{top.posterior.latent_size}."
        )

    def x_view(x: jax.Array, name: str) -> jax.Array:
        """``x [*lead, *event_shape]`` in the shape latent ``name``'s posterior reads it."""
        return jnp.reshape(x, (*x.shape[: x.ndim - rank], *x_shapes[name]))

    def init(rng_key: jax.Array) -> Params:
        conditionals = [lat for lat in latents if lat.conditional is not None]
        keys = jax.random.split(rng_key, len(latents) + 1 + len(conditionals) + 1)
        encoder = {lat.posterior_key: lat.posterior.init(k) for lat, k in zip(latents, keys)}
        decoder = {parts.likelihood_key: likelihood.init(keys[len(latents)])}
        for j, lat in enumerate(conditionals):
            decoder[lat.conditional_key] = lat.conditional.init(keys[len(latents) + 1 + j])
        return {"encoder": encoder, "decoder": decoder, "prior": prior.init(keys[-1])}

    def encode_for_prior(params: Params) -> Encode | None:
        if not prior_reads_encoder:
            return None
        encoder = params.get(PRIOR_ENCODER, params["encoder"])[top.posterior_key]
        shape = x_shapes[top.name]
        return lambda u: top.posterior.distribution(
            encoder, (jnp.reshape(u, (*u.shape[:-1], *shape)),)
        )

    def log_prior(params: Params, z_top: jax.Array) -> jax.Array:
        return prior.log_prob(params["prior"], z_top, encode_for_prior(params))

    def inputs_of(values: dict[str, jax.Array], names: Sequence[str]) -> tuple[jax.Array, ...]:
        return tuple(values[n] for n in names)

    def posterior_inputs(values: dict[str, jax.Array], lat: Latent) -> tuple[jax.Array, ...]:
        return tuple(
            x_view(values[n], lat.name) if n == DATA else values[n] for n in lat.posterior_parents
        )

    def importance_samples(
        params: Params, rng_key: jax.Array, x: jax.Array, num_samples: int, stop_q: bool = False
    ) -> tuple[LogWeights, dict[str, jax.Array]]:
        check_data(x, event_shape)
        keys = jax.random.split(rng_key, len(order))
        values = {DATA: x}
        log_q = 0.0
        for key, name in zip(keys, order):
            lat = by_name[name]
            z, lq = lat.posterior.sample(
                params["encoder"][lat.posterior_key],
                key,
                posterior_inputs(values, lat),
                num_samples if data_only[name] else None,
                stop_q,
            )
            log_q = log_q + lq
            values[name] = z
        log_p = log_prior(params, values[top.name])
        for lat in reversed(latents[:-1]):
            p = lat.conditional.distribution(
                params["decoder"][lat.conditional_key], inputs_of(values, lat.conditional_parents)
            )
            log_p = log_p + p.log_prob(values[lat.name])
        log_lik = likelihood.log_prob(
            params["decoder"][parts.likelihood_key], x, inputs_of(values, parts.likelihood_parents)
        )
        terms = LogWeights(log_lik, log_p, log_q)
        return terms, {lat.name: values[lat.name] for lat in latents}

    def log_weights(
        params: Params, rng_key: jax.Array, x: jax.Array, num_samples: int, stop_q: bool = False
    ) -> LogWeights:
        return importance_samples(params, rng_key, x, num_samples, stop_q)[0]

    def posterior_means(
        params: Params, rng_key: jax.Array, x: jax.Array, num_samples: int
    ) -> tuple[jax.Array, ...]:
        keys = jax.random.split(rng_key, len(order))
        values, means = {DATA: x}, {}
        for key, name in zip(keys, order):
            lat = by_name[name]
            enc = params["encoder"][lat.posterior_key]
            inputs = posterior_inputs(values, lat)
            mean = lat.posterior.mean(enc, jax.random.fold_in(key, 1), inputs)
            if data_only[name]:
                means[name] = mean
                values[name], _ = lat.posterior.sample(enc, key, inputs, num_samples)
            else:
                means[name] = jnp.mean(mean, axis=0)
                values[name], _ = lat.posterior.sample(enc, key, inputs)
        return tuple(means[lat.name] for lat in latents)

    def decode(params: Params, rng_key: jax.Array, values: dict[str, jax.Array]) -> jax.Array:
        inputs = inputs_of(values, parts.likelihood_parents)
        return likelihood.mean(params["decoder"][parts.likelihood_key], rng_key, inputs)

    def ancestral_latents(
        params: Params, k_prior: jax.Array, k_layers: jax.Array, n: int
    ) -> dict[str, jax.Array]:
        """``n`` draws of every latent: the top one from the prior, then down the
        conditionals."""
        values = {top.name: prior.sample(params["prior"], k_prior, n, encode_for_prior(params))}
        keys = jax.random.split(k_layers, len(latents))
        for i in range(len(latents) - 2, -1, -1):
            lat = latents[i]
            p = lat.conditional.distribution(
                params["decoder"][lat.conditional_key], inputs_of(values, lat.conditional_parents)
            )
            values[lat.name] = p.draw(keys[i])
        return values

    def sample(params: Params, rng_key: jax.Array, n: int) -> jax.Array:
        k_prior, k_layers, k_x = jax.random.split(rng_key, 3)
        return decode(params, k_x, ancestral_latents(params, k_prior, k_layers, n))

    def reconstruct(params: Params, rng_key: jax.Array, x: jax.Array) -> jax.Array:
        k_z, k_x = jax.random.split(rng_key)
        _, values = importance_samples(params, k_z, x, 1)
        return decode(params, k_x, {name: z[0] for name, z in values.items()})

    first = by_name[order[0]]

    def posterior_distribution(params: Params, x: jax.Array) -> DiagGaussian:
        if not (data_only[first.name] and hasattr(first.posterior, "distribution")):
            raise ValueError(
                f"q({first.name} | {', '.join(first.posterior_parents)}) is not a Gaussian of x "
                "alone: this diagnostic needs one."
            )
        check_data(x, event_shape)
        encoder = params["encoder"][first.posterior_key]
        return first.posterior.distribution(encoder, (x_view(x, first.name),))

    def log_joint(
        params: Params, x: jax.Array, values: dict[str, jax.Array]
    ) -> tuple[jax.Array, jax.Array]:
        r""":math:`(\log p(x \mid z), \log p(z))` at given latents ``{name: [..., B, D_l]}``,
        each ``[..., B]``; :math:`\log p(z) = \log p(z_L) + \sum_{l<L} \log p(z_l \mid
        \mathrm{pa}(z_l))`."""
        check_data(x, event_shape)
        log_p = log_prior(params, values[top.name])
        for lat in latents[:-1]:
            p = lat.conditional.distribution(
                params["decoder"][lat.conditional_key], inputs_of(values, lat.conditional_parents)
            )
            log_p = log_p + p.log_prob(values[lat.name])
        log_lik = likelihood.log_prob(
            params["decoder"][parts.likelihood_key], x, inputs_of(values, parts.likelihood_parents)
        )
        return log_lik, log_p

    def log_posterior(params: Params, x: jax.Array, values: dict[str, jax.Array]) -> jax.Array:
        r""":math:`\sum_l \log q(z_l \mid \mathrm{pa}_q(z_l))` at given latents, ``[..., B]``."""
        check_data(x, event_shape)
        values = {**values, DATA: x}
        log_q = 0.0
        for name in order:
            lat = by_name[name]
            if not hasattr(lat.posterior, "distribution"):
                raise ValueError(
                    f"q({name} | {', '.join(lat.posterior_parents)}) is a "
                    f"{type(lat.posterior).__name__} with no density at a given z (it scores "
                    "only its own draws): anneal from the prior instead."
                )
            q = lat.posterior.distribution(
                params["encoder"][lat.posterior_key], posterior_inputs(values, lat)
            )
            log_q = log_q + q.log_prob(values[name])
        return log_q

    def simulate(
        params: Params, rng_key: jax.Array, n: int
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Ancestral draws: latents from the prior and conditionals, then ``x ~ p(x | z)``."""
        k_prior, k_layers, k_x = jax.random.split(rng_key, 3)
        values = ancestral_latents(params, k_prior, k_layers, n)
        inputs = inputs_of(values, parts.likelihood_parents)
        x = likelihood.sample(params["decoder"][parts.likelihood_key], k_x, inputs)
        return x, values

    return Model(
        init=init,
        log_weights=log_weights,
        importance_samples=importance_samples,
        posterior_means=posterior_means,
        sample=sample,
        reconstruct=reconstruct,
        log_prior=log_prior,
        posterior_distribution=posterior_distribution,
        latent_sizes=tuple(lat.posterior.latent_size for lat in latents),
        latent_names=tuple(lat.name for lat in latents),
        event_shape=event_shape,
        parts=parts,
        log_joint=log_joint,
        log_posterior=log_posterior,
        simulate=simulate,
    )
