r"""A linear-Gaussian latent-variable model with exact marginal likelihood and posterior.

.. math::
    p(z) = \mathcal N(0, I_d), \quad p(x \mid z) = \mathcal N(Wz + b, s^2 I_D), \quad
    q(z \mid x) = \mathcal N(A x + c, \mathrm{diag}(\sigma^2))

With :math:`W^\top W` diagonal (orthogonal columns) the exact posterior is diagonal:
:math:`\Sigma = (I + W^\top W / s^2)^{-1}`, :math:`\mu = \Sigma W^\top (x - b) / s^2`, and
:math:`x \sim \mathcal N(b, W W^\top + s^2 I)`. The test oracle of the lecture's theorems:
with q the exact posterior every log-weight equals :math:`\log p(x)`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.stats import multivariate_normal

from jvae.bounds import LogWeights
from jvae.distributions import DiagGaussian, standard_normal_log_prob
from jvae.models.model import Model, check_data


def _log_normal_iso(x: jax.Array, mean: jax.Array, log_s: jax.Array) -> jax.Array:
    d = x.shape[-1]
    return DiagGaussian(mean, jnp.broadcast_to(log_s, (d,))).log_prob(x)


def init_params(rng_key: jax.Array, data_dim: int = 5, latent: int = 2, noise: float = 0.5):
    """Random generative params with orthogonal columns of W, and the exact posterior as q."""
    k1, k2, k3 = jax.random.split(rng_key, 3)
    basis, _ = jnp.linalg.qr(jax.random.normal(k1, (data_dim, latent)))
    w = basis * jax.random.uniform(k2, (latent,), minval=0.5, maxval=2.0)
    decoder = {
        "W": w,
        "b": jax.random.normal(k3, (data_dim,)),
        "log_s": jnp.log(jnp.float32(noise)),
    }
    return {"encoder": exact_posterior(decoder), "decoder": decoder, "prior": {}}


def exact_posterior(decoder: dict) -> dict:
    r"""Encoder params of :math:`p(z \mid x)`: ``A = \Sigma W^\top / s^2``,
    ``c = -A b``, ``log_scale = \tfrac12 \log \mathrm{diag}\,\Sigma``."""
    w, b, s2 = decoder["W"], decoder["b"], jnp.exp(2.0 * decoder["log_s"])
    cov = jnp.linalg.inv(jnp.eye(w.shape[1]) + w.T @ w / s2)
    a = cov @ w.T / s2
    return {"A": a, "c": -a @ b, "log_scale": 0.5 * jnp.log(jnp.diag(cov))}


def exact_log_marginal(params: dict, x: jax.Array) -> jax.Array:
    r""":math:`\log \mathcal N(x; b, W W^\top + s^2 I)`, ``[B]``."""
    dec = params["decoder"]
    cov = dec["W"] @ dec["W"].T + jnp.exp(2.0 * dec["log_s"]) * jnp.eye(dec["W"].shape[0])
    return multivariate_normal.logpdf(x, dec["b"], cov)


def sample_data(rng_key: jax.Array, params: dict, n: int) -> jax.Array:
    """Draws ``n`` examples from the model's marginal, ``[n, D]``."""
    dec = params["decoder"]
    k1, k2 = jax.random.split(rng_key)
    z = jax.random.normal(k1, (n, dec["W"].shape[1]))
    noise = jnp.exp(dec["log_s"]) * jax.random.normal(k2, (n, dec["W"].shape[0]))
    return z @ dec["W"].T + dec["b"] + noise


def model(data_dim: int = 5, latent: int = 2, noise: float = 0.5) -> Model:
    """The linear-Gaussian model as a :class:`~jvae.models.Model`."""

    def encode(enc: dict, x: jax.Array) -> DiagGaussian:
        mean = x @ enc["A"].T + enc["c"]
        return DiagGaussian(mean, jnp.broadcast_to(enc["log_scale"], mean.shape))

    def importance_samples(
        params: Any, rng_key: jax.Array, x: jax.Array, num_samples: int, stop_q: bool = False
    ) -> tuple[LogWeights, dict[str, jax.Array]]:
        check_data(x, (data_dim,))
        q = encode(params["encoder"], x)
        z = q.sample(rng_key, num_samples)
        q_eval = jax.lax.stop_gradient(q) if stop_q else q
        dec = params["decoder"]
        log_px = _log_normal_iso(x, z @ dec["W"].T + dec["b"], dec["log_s"])
        return LogWeights(log_px, standard_normal_log_prob(z), q_eval.log_prob(z)), {"z": z}

    def log_weights(params, rng_key, x, num_samples, stop_q=False):
        return importance_samples(params, rng_key, x, num_samples, stop_q)[0]

    def posterior_means(params, rng_key, x, num_samples):
        return (encode(params["encoder"], x).mean,)

    def sample(params, rng_key, n):
        return sample_data(rng_key, params, n)

    def reconstruct(params, rng_key, x):
        q = encode(params["encoder"], x)
        z = q.sample(rng_key, 1)[0]
        return z @ params["decoder"]["W"].T + params["decoder"]["b"]

    return Model(
        init=lambda rng_key: init_params(rng_key, data_dim, latent, noise),
        log_weights=log_weights,
        importance_samples=importance_samples,
        posterior_means=posterior_means,
        sample=sample,
        reconstruct=reconstruct,
        log_prior=lambda params, z: standard_normal_log_prob(z),
        posterior_distribution=lambda params, x: encode(params["encoder"], x),
        latent_sizes=(latent,),
        latent_names=("z",),
        event_shape=(data_dim,),
    )
