"""Discretised logistic over 8-bit pixels: float64 scipy reference with the edge bins, total
probability one, exact sampling, the mean, finite gradients in the tails, bits per dimension."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jvae.components.likelihoods import DiscretizedLogistic
from jvae.components.pixels import (
    bits_per_dim,
    discretized_logistic_log_prob,
    discretized_logistic_mean,
    discretized_logistic_sample,
    levels,
)
from jvae.nn.conv import ConvLogistic

LEVELS = np.arange(256)
PARAMS = [(0.5, -2.0), (0.0, -5.0), (1.0, -7.0), (0.3, 1.0), (-0.2, -3.0), (0.999, -6.5)]


def reference_log_prob(v: np.ndarray, loc: float, log_scale: float) -> np.ndarray:
    """float64 CDF differences over the bins [v/256, (v+1)/256), tails in the edge bins; above
    the location as differences of survival functions, so that no digits cancel."""
    dist = stats.logistic(loc=loc, scale=math.exp(log_scale))
    upper, lower = (v + 1) / 256, v / 256
    by_cdf = np.where(v == 255, 1.0, dist.cdf(upper)) - np.where(v == 0, 0.0, dist.cdf(lower))
    by_sf = np.where(v == 0, 1.0, dist.sf(lower)) - np.where(v == 255, 0.0, dist.sf(upper))
    with np.errstate(divide="ignore"):  # bins beyond float64's range get -inf
        return np.log(np.where(lower > loc, by_sf, by_cdf))


@pytest.mark.parametrize("loc,log_scale", PARAMS)
def test_log_prob_matches_scipy_float64(loc, log_scale):
    expected = reference_log_prob(LEVELS, loc, log_scale)
    keep = expected > -600  # bins whose probability float64 still represents
    with jax.enable_x64(True):
        got64 = discretized_logistic_log_prob(jnp.asarray(LEVELS / 256), loc, log_scale)
    np.testing.assert_allclose(np.asarray(got64)[keep], expected[keep], rtol=1e-9, atol=1e-12)
    got32 = discretized_logistic_log_prob(jnp.asarray(LEVELS / 256, jnp.float32), loc, log_scale)
    np.testing.assert_allclose(np.asarray(got32)[keep], expected[keep], rtol=2e-4, atol=2e-4)
    assert np.isfinite(np.asarray(got32)).all()  # no -inf even where the bin is far in a tail


@pytest.mark.parametrize("loc,log_scale", [*PARAMS, (3.0, -7.0), (-3.0, -7.0), (0.5, 6.0)])
def test_probabilities_over_the_256_levels_sum_to_one(loc, log_scale):
    with jax.enable_x64(True):
        p64 = jnp.exp(discretized_logistic_log_prob(jnp.asarray(LEVELS / 256), loc, log_scale))
        np.testing.assert_allclose(float(jnp.sum(p64)), 1.0, rtol=1e-12)
    p32 = jnp.exp(
        discretized_logistic_log_prob(jnp.asarray(LEVELS / 256, jnp.float32), loc, log_scale)
    )
    np.testing.assert_allclose(float(jnp.sum(p32)), 1.0, rtol=1e-5)


def test_levels_of_both_8_bit_encodings():
    np.testing.assert_array_equal(levels(jnp.asarray(LEVELS / 256, jnp.float32)), LEVELS)
    np.testing.assert_array_equal(levels(jnp.asarray(LEVELS / 255, jnp.float32)), LEVELS)


def test_samples_follow_the_bin_probabilities():
    loc, log_scale, n = 0.02, -4.0, 200_000  # puts mass on the edge bin 0 and on interior bins
    draws = discretized_logistic_sample(jax.random.PRNGKey(0), jnp.full((n,), loc), log_scale)
    counts = np.bincount(np.asarray(levels(draws)).astype(int), minlength=256)
    p = np.exp(reference_log_prob(LEVELS, loc, log_scale))
    expected = n * p
    seen = expected > 20
    chi2 = np.sum((counts[seen] - expected[seen]) ** 2 / expected[seen])
    assert stats.chi2.sf(chi2, seen.sum() - 1) > 1e-3
    np.testing.assert_array_equal(draws * 256, np.round(draws * 256))


@pytest.mark.parametrize("loc,log_scale", PARAMS)
def test_mean_is_the_expectation_over_levels(loc, log_scale):
    p = np.exp(reference_log_prob(LEVELS, loc, log_scale))
    with jax.enable_x64(True):
        got = discretized_logistic_mean(jnp.asarray(loc), jnp.asarray(log_scale))
    np.testing.assert_allclose(float(got), np.sum(LEVELS / 256 * p), rtol=1e-10)


def test_gradients_are_finite_at_the_edges_and_in_the_tails():
    x = jnp.asarray([0.0, 1 / 256, 0.5, 254 / 256, 255 / 256])
    for loc in (-5.0, 0.0, 0.5, 1.0, 6.0):
        for log_scale in (-7.0, 0.0, 5.0):
            grads = jax.grad(
                lambda m, s: jnp.sum(discretized_logistic_log_prob(x, m, s)), argnums=(0, 1)
            )(loc, log_scale)
            assert np.isfinite(grads).all(), (loc, log_scale)


def test_bits_per_dim():
    # 256 equally likely levels carry 8 bits; log p in nats over D pixels -> bits per pixel
    np.testing.assert_allclose(bits_per_dim(jnp.asarray(-784 * math.log(256.0)), 784), 8.0)
    log_p = jnp.asarray([-100.0, -250.0])
    np.testing.assert_allclose(bits_per_dim(log_p, 784), -np.asarray(log_p) / 784 / math.log(2))


def test_factorised_likelihood_sums_pixels_and_broadcasts_over_samples():
    shape, d = (8, 8, 1), 64
    lik = DiscretizedLogistic(ConvLogistic(shape, ((d,),), (), ((4, 3, 1),)), (3,), shape)
    params = lik.init(jax.random.key(0, impl="rbg"))
    rng = np.random.default_rng(0)
    z = jnp.asarray(rng.normal(size=(5, 2, 3)), jnp.float32)
    x = jnp.asarray(rng.integers(0, 256, size=(2, *shape)) / 256, jnp.float32)
    log_p = jax.jit(lik.log_prob)(params, x, (z,))
    assert log_p.shape == (5, 2)
    loc, log_scale = jax.jit(lik.module.apply)({"params": params}, z[3, 1])
    per_pixel = discretized_logistic_log_prob(x[1], loc, jnp.maximum(log_scale, -7.0))
    np.testing.assert_allclose(log_p[3, 1], jnp.sum(per_pixel), rtol=1e-5)
    mean = jax.jit(lik.mean)(params, jax.random.PRNGKey(0), (z,))
    assert mean.shape == (5, 2, *shape) and bool(jnp.all((mean >= 0) & (mean < 1)))
