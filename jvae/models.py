"""VAEs as pure functions: a :class:`Model` returns the log-weight terms for a batch and K.

A model is a NamedTuple of pure functions over a params pytree
``{'encoder': ..., 'decoder': ..., 'prior': ...}`` so that estimators can treat the parts
differently (STL stops gradients on the encoder inside ``log q``; DReG reweights the encoder's
gradient). Components plug in through :class:`Prior` and the per-layer network modules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jvae.bounds import LogWeights
from jvae.distributions import DiagGaussian, bernoulli_log_prob, standard_normal_log_prob
from jvae.networks import BernoulliMLP, GaussianMLP

Params = Any


class Prior(NamedTuple):
    r"""A prior :math:`p_\psi(z)` over the top stochastic layer.

    Attributes:
      init: ``rng_key -> params``.
      log_prob: ``(params, z[..., D]) -> [...]``.
      sample: ``(params, rng_key, n) -> [n, D]``.
    """

    init: Callable[[jax.Array], Params]
    log_prob: Callable[[Params, jax.Array], jax.Array]
    sample: Callable[[Params, jax.Array, int], jax.Array]


def standard_normal_prior(latent: int) -> Prior:
    r""":math:`p(z) = \mathcal N(0, I_D)`; no parameters."""
    return Prior(
        init=lambda rng_key: {},
        log_prob=lambda params, z: standard_normal_log_prob(z),
        sample=lambda params, rng_key, n: jax.random.normal(rng_key, (n, latent)),
    )


class Model(NamedTuple):
    """A latent-variable model with its amortised posterior, as pure functions.

    Attributes:
      init: ``rng_key -> params`` (``{'encoder', 'decoder', 'prior'}``).
      log_weights: ``(params, rng_key, x[B, D], num_samples, stop_q=False) -> LogWeights``
        with ``[K, B]`` terms; ``stop_q`` evaluates ``log q`` with the encoder's parameters
        under ``stop_gradient`` while keeping the reparameterised path through ``z`` (STL).
      posterior_means: ``(params, rng_key, x, num_samples) -> tuple of [B, D_l]``,
        :math:`E_q[z_l \\mid x]` per stochastic layer (upper layers averaged over samples).
      sample: ``(params, rng_key, n) -> [n, D]`` Bernoulli means of fresh samples.
      reconstruct: ``(params, rng_key, x) -> [B, D]`` Bernoulli means at one posterior draw.
      latent_sizes: latent dimension of each stochastic layer, bottom first.
      data_dim: dimension of x.
    """

    init: Callable[[jax.Array], Params]
    log_weights: Callable[..., LogWeights]
    posterior_means: Callable[..., tuple[jax.Array, ...]]
    sample: Callable[[Params, jax.Array, int], jax.Array]
    reconstruct: Callable[[Params, jax.Array, jax.Array], jax.Array]
    latent_sizes: tuple[int, ...]
    data_dim: int


def layered_vae(
    data_dim: int,
    layers: Sequence[tuple[Sequence[int], int]],
    prior: Prior | None = None,
) -> Model:
    r"""A VAE with ``L`` stochastic layers of diagonal Gaussians and a Bernoulli likelihood.

    .. math::
        q(z_{1:L} \mid x) = q(z_1 \mid x) \prod_{l>1} q(z_l \mid z_{l-1}), \qquad
        p(x, z_{1:L}) = p(x \mid z_1) \prod_{l<L} p(z_l \mid z_{l+1})\, p(z_L)

    Each ``(hidden, latent)`` in ``layers`` gives the deterministic widths and the latent size
    of one stochastic layer (bottom first); the generative networks mirror them. The K samples
    are one leading array axis: the decoder sees one ``[K, B, d]`` batch.
    """
    if not layers:
        raise ValueError("layered_vae needs at least one stochastic layer.")
    latents = tuple(int(latent) for _, latent in layers)
    prior = prior or standard_normal_prior(latents[-1])
    inputs = (data_dim, *latents[:-1])
    encoders = [GaussianMLP(tuple(h), lat) for h, lat in layers]
    # decoders[0]: z_1 -> x; decoders[l]: z_{l+1} -> z_l (Gaussian).
    decoders: list[Any] = [BernoulliMLP(tuple(reversed(layers[0][0])), data_dim)]
    for l in range(1, len(layers)):
        decoders.append(GaussianMLP(tuple(reversed(layers[l][0])), latents[l - 1]))

    def init(rng_key: jax.Array) -> Params:
        keys = jax.random.split(rng_key, 2 * len(layers) + 1)
        enc = {
            f"q{l}": encoders[l].init(keys[l], jnp.zeros((1, inputs[l])))["params"]
            for l in range(len(layers))
        }
        dec = {
            f"p{l}": decoders[l].init(keys[len(layers) + l], jnp.zeros((1, latents[l])))["params"]
            for l in range(len(layers))
        }
        return {"encoder": enc, "decoder": dec, "prior": prior.init(keys[-1])}

    def encode(params: Params, l: int, h: jax.Array) -> DiagGaussian:
        return DiagGaussian(*_apply_rows(encoders[l], params["encoder"][f"q{l}"], h))

    def log_weights(
        params: Params,
        rng_key: jax.Array,
        x: jax.Array,
        num_samples: int,
        stop_q: bool = False,
    ) -> LogWeights:
        check_data(x, data_dim)
        keys = jax.random.split(rng_key, len(layers))
        stopped = jax.lax.stop_gradient(params) if stop_q else None
        zs = []
        log_q = 0.0
        h = x
        for l in range(len(layers)):
            q = encode(params, l, h)
            z = q.sample(keys[0], num_samples) if l == 0 else _draw(keys[l], q)
            if stop_q:
                # Layer 0's q depends on x only; higher layers keep the path through z_{l-1}.
                q = jax.lax.stop_gradient(q) if l == 0 else encode(stopped, l, h)
            log_q = log_q + q.log_prob(z)
            zs.append(z)
            h = z
        log_p = prior.log_prob(params["prior"], zs[-1])
        for l in range(len(layers) - 1, 0, -1):
            p = DiagGaussian(*_apply_rows(decoders[l], params["decoder"][f"p{l}"], zs[l]))
            log_p = log_p + p.log_prob(zs[l - 1])
        logits = _apply_rows(decoders[0], params["decoder"]["p0"], zs[0])
        return LogWeights(bernoulli_log_prob(logits, x), log_p, log_q)

    def posterior_means(
        params: Params, rng_key: jax.Array, x: jax.Array, num_samples: int
    ) -> tuple[jax.Array, ...]:
        keys = jax.random.split(rng_key, len(layers))
        q = encode(params, 0, x)
        means = [q.mean]
        h = q.sample(keys[0], num_samples)
        for l in range(1, len(layers)):
            q = encode(params, l, h)
            means.append(jnp.mean(q.mean, axis=0))
            h = _draw(keys[l], q)
        return tuple(means)

    def decode(params: Params, rng_key: jax.Array, z_top: jax.Array) -> jax.Array:
        keys = jax.random.split(rng_key, len(layers))
        z = z_top
        for l in range(len(layers) - 1, 0, -1):
            p = DiagGaussian(*_apply_rows(decoders[l], params["decoder"][f"p{l}"], z))
            z = _draw(keys[l], p)
        return jax.nn.sigmoid(_apply_rows(decoders[0], params["decoder"]["p0"], z))

    def sample(params: Params, rng_key: jax.Array, n: int) -> jax.Array:
        k1, k2 = jax.random.split(rng_key)
        return decode(params, k2, prior.sample(params["prior"], k1, n))

    def reconstruct(params: Params, rng_key: jax.Array, x: jax.Array) -> jax.Array:
        z1 = _draw(rng_key, encode(params, 0, x))
        return jax.nn.sigmoid(_apply_rows(decoders[0], params["decoder"]["p0"], z1))

    return Model(
        init=init,
        log_weights=log_weights,
        posterior_means=posterior_means,
        sample=sample,
        reconstruct=reconstruct,
        latent_sizes=latents,
        data_dim=data_dim,
    )


def _apply_rows(module: Any, params: Params, h: jax.Array) -> Any:
    """``module`` applied to ``h[..., d]`` as one ``[rows, d]`` matrix (the K samples and the
    batch stacked into the matmul's row dimension), outputs reshaped back to ``[..., d_out]``.

    Same values as applying it to ``h`` directly; flattening first lets XLA's CPU backend use
    plain ``[rows, d]`` matmuls forward and backward (the weight gradient then contracts one
    axis instead of two, which avoided a transposed copy of every ``[K, B, d]`` cotangent).
    """
    lead = h.shape[:-1]
    out = module.apply({"params": params}, jnp.reshape(h, (-1, h.shape[-1])))
    return jax.tree.map(lambda o: jnp.reshape(o, (*lead, o.shape[-1])), out)


def check_data(x: jax.Array, data_dim: int) -> None:
    """Raises ``ValueError`` unless ``x`` is a ``[B, data_dim]`` batch."""
    if jnp.ndim(x) != 2 or jnp.shape(x)[1] != data_dim:
        raise ValueError(
            f"x must be a batch of shape [B, {data_dim}] (flattened examples); got shape "
            f"{tuple(jnp.shape(x))}."
        )


def _draw(rng_key: jax.Array, q: DiagGaussian) -> jax.Array:
    """One reparameterised draw with the same shape as ``q.mean``."""
    return q.mean + jnp.exp(q.log_scale) * jax.random.normal(rng_key, q.mean.shape, q.mean.dtype)


def iwae_mlp(layers: int = 1, data_dim: int = 784) -> Model:
    """The IWAE paper's networks (Burda et al. 2015, section 5).

    1 stochastic layer: 784-200-200-50 (tanh), mirrored decoder.
    2 stochastic layers: 784-100-100-100 then 100-50-50-50, mirrored decoders.
    """
    if layers == 1:
        spec = [((200, 200), 50)]
    elif layers == 2:
        spec = [((100, 100), 100), ((50, 50), 50)]
    else:
        raise ValueError(f"the IWAE paper's networks have 1 or 2 stochastic layers; got {layers}.")
    return layered_vae(data_dim, spec)
