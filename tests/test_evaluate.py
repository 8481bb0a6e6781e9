"""Streamed evaluation equals the unstreamed bound; active units are counted right."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae.diagnostics.active_units import active_units
from jvae.diagnostics.nll import dataset_bound, streamed_iwae
from jvae.models import linear_gaussian
from jvae.numerics import log_mean_exp


@pytest.mark.parametrize("num_samples,chunk", [(10, 3), (12, 4), (7, 7), (5, 100)])
def test_streamed_iwae_equals_logmeanexp_of_all_draws(rng_key, num_samples, chunk):
    def log_w_fn(key, n):
        return 50.0 * jax.random.normal(key, (n, 4))  # wide spread: the max shift matters

    got = jax.jit(lambda k: streamed_iwae(log_w_fn, k, num_samples, chunk))(rng_key)
    chunk = min(chunk, num_samples)
    full, rest = divmod(num_samples, chunk)
    draws = [log_w_fn(jax.random.fold_in(rng_key, i), chunk) for i in range(full)]
    if rest:
        draws.append(log_w_fn(jax.random.fold_in(rng_key, full), rest))
    want = log_mean_exp(jnp.concatenate(draws), axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)


def test_streamed_iwae_handles_minus_inf(rng_key):
    def log_w_fn(key, n):
        return jnp.full((n, 2), -jnp.inf).at[:, 1].set(0.0)

    got = streamed_iwae(log_w_fn, rng_key, 9, 4)
    assert got[0] == -jnp.inf and float(got[1]) == pytest.approx(0.0, abs=1e-6)


def test_dataset_bound_is_exact_for_the_exact_posterior(rng_key):
    model = linear_gaussian.model(data_dim=4, latent=2)
    params = model.init(rng_key)
    x = np.asarray(linear_gaussian.sample_data(jax.random.PRNGKey(1), params, 23))
    got = dataset_bound(model, params, rng_key, x, num_samples=50, batch_size=10, chunk_size=16)
    np.testing.assert_allclose(got, linear_gaussian.exact_log_marginal(params, x), atol=3e-4)


def test_active_units_counts_the_dimensions_that_vary(rng_key):
    model = linear_gaussian.model(data_dim=6, latent=4)
    params = model.init(rng_key)
    # means vary with x in dimensions 0 and 2 only; dimension 3 varies below the threshold.
    a = jnp.zeros((4, 6)).at[0, 0].set(1.0).at[2, 1].set(0.5).at[3, 2].set(0.01)
    params = {**params, "encoder": {**params["encoder"], "A": a}}
    x = np.random.default_rng(0).normal(size=(2000, 6)).astype(np.float32)
    (layer,) = active_units(model, params, rng_key, x, threshold=0.01)
    assert layer["active"] == 2
    np.testing.assert_allclose(layer["variances"], [1.0, 0.0, 0.25, 1e-4], rtol=0.1, atol=1e-6)
