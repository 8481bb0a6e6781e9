"""Densities against scipy; reparameterised sampling moments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jvae.distributions import (
    DiagGaussian,
    bernoulli_log_prob,
    standard_normal_log_prob,
)


def test_diag_gaussian_log_prob_matches_scipy(rng_key):
    k1, k2, k3 = jax.random.split(rng_key, 3)
    mean = jax.random.normal(k1, (4, 3))
    log_scale = 0.3 * jax.random.normal(k2, (4, 3))
    z = jax.random.normal(k3, (6, 4, 3))
    got = jax.jit(DiagGaussian(mean, log_scale).log_prob)(z)
    want = stats.norm.logpdf(np.asarray(z), np.asarray(mean), np.exp(np.asarray(log_scale)))
    np.testing.assert_allclose(got, want.sum(-1), rtol=1e-5, atol=1e-5)
    assert got.shape == (6, 4)


def test_standard_normal_matches_scipy(rng_key):
    z = jax.random.normal(rng_key, (5, 7))
    want = stats.multivariate_normal(np.zeros(7), np.eye(7)).logpdf(np.asarray(z))
    np.testing.assert_allclose(standard_normal_log_prob(z), want, rtol=1e-5)


@pytest.mark.parametrize("x_value", [0.0, 1.0, 0.3])
def test_bernoulli_log_prob_matches_scipy_and_is_stable(x_value):
    logits = jnp.array([[-50.0, -3.0, 0.0, 2.5, 80.0]])
    x = jnp.full_like(logits, x_value)
    got = bernoulli_log_prob(logits, x)
    l64 = np.asarray(logits, np.float64)
    want = np.sum(x_value * l64 - np.logaddexp(0.0, l64))
    np.testing.assert_allclose(got[0], want, rtol=1e-5)
    if x_value in (0.0, 1.0):  # scipy on the moderate logits, where p is representable
        p = 1.0 / (1.0 + np.exp(-l64[0, 1:4]))
        np.testing.assert_allclose(
            bernoulli_log_prob(logits[:, 1:4], x[:, 1:4])[0],
            stats.bernoulli.logpmf(int(x_value), p).sum(),
            rtol=1e-5,
        )
    assert np.isfinite(np.asarray(jax.grad(lambda l: bernoulli_log_prob(l, x).sum())(logits))).all()


def test_bernoulli_broadcasts_data_over_samples(rng_key):
    logits = jax.random.normal(rng_key, (3, 2, 10))
    x = (jax.random.uniform(rng_key, (2, 10)) > 0.5).astype(jnp.float32)
    got = bernoulli_log_prob(logits, x)
    want = jnp.stack([bernoulli_log_prob(logits[k], x) for k in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_reparameterised_samples_have_the_right_moments(rng_key):
    q = DiagGaussian(jnp.array([1.0, -2.0]), jnp.log(jnp.array([0.5, 2.0])))
    z = q.sample(rng_key, 20000)
    assert z.shape == (20000, 2)
    np.testing.assert_allclose(z.mean(0), q.mean, atol=0.05)
    np.testing.assert_allclose(z.std(0), jnp.exp(q.log_scale), rtol=0.03)


def test_analytic_kl_matches_monte_carlo(rng_key):
    q = DiagGaussian(jnp.array([0.5, -1.0, 0.0]), jnp.array([-0.5, 0.2, 0.0]))
    z = q.sample(rng_key, 200000)
    mc = jnp.mean(q.log_prob(z) - standard_normal_log_prob(z))
    np.testing.assert_allclose(q.kl_standard_normal(), mc, atol=0.02)
