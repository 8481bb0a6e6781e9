"""q_EW, the posterior implied by importance resampling (Cremer et al. 2017): resampling picks
by weight; with K = 1 q_EW is q; it approaches the exact linear-Gaussian posterior as K grows;
its density (averaged over the other K - 1 draws) is q for K = 1, normalised, agrees with the
sampler, and approaches a known toy posterior; the model's grid images and the figure."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae.diagnostics import importance_resampling as ir
from jvae.models import chain_vae, linear_gaussian
from jvae.reports.posterior_figure import save_posterior_figure


def test_resampling_picks_by_weight_and_keeps_latents_together():
    probs = np.array([0.2, 0.5, 0.3])
    b = 20_000
    log_w = jnp.log(jnp.broadcast_to(jnp.asarray(probs)[:, None], (3, b))) + 7.0  # scale-free
    z = jnp.broadcast_to(jnp.arange(3.0)[:, None, None], (3, b, 1))
    draws = jax.jit(ir.importance_resample)(
        jax.random.PRNGKey(0), log_w, {"a": z, "b": jnp.concatenate([z, -z], -1)}
    )
    freq = np.bincount(np.asarray(draws["a"][:, 0], int), minlength=3) / b
    np.testing.assert_allclose(freq, probs, atol=4 * np.sqrt(0.25 / b))
    np.testing.assert_array_equal(draws["b"][:, 0], draws["a"][:, 0])  # the same index
    np.testing.assert_array_equal(draws["b"][:, 1], -draws["a"][:, 0])
    only = jnp.array([[-jnp.inf], [-jnp.inf], [3.0]]).repeat(5, axis=1)
    picked = ir.importance_resample(jax.random.PRNGKey(1), only, z[:, :5])
    np.testing.assert_array_equal(picked[:, 0], 2.0)


@pytest.fixture(scope="module")
def linear_gaussian_qew():
    """Draws of q_EW for K = 1, 10, 200 with a shifted, narrowed q; the exact posterior."""
    model = linear_gaussian.model(data_dim=5, latent=2)
    params = jax.jit(model.init)(jax.random.PRNGKey(0))
    enc = params["encoder"]
    worse = {**params, "encoder": {**enc, "c": enc["c"] + 0.3, "log_scale": enc["log_scale"] - 0.2}}
    x = linear_gaussian.sample_data(jax.random.PRNGKey(1), params, 3)
    draws = {
        k: np.asarray(
            ir.make_qew_sampler(model, k, 4000, 500)(worse, jax.random.PRNGKey(2), x)["z"]
        )
        for k in (1, 10, 200)
    }
    exact, q = model.posterior_distribution(params, x), model.posterior_distribution(worse, x)
    return draws, exact, q


def _moment_errors(draws: np.ndarray, target) -> tuple[float, float]:
    """Largest error of the sample mean and covariance against a diagonal Gaussian ``[B, D]``."""
    mean = np.asarray(target.mean)
    cov = np.stack([np.diag(v) for v in np.exp(2 * np.asarray(target.log_scale))])
    sample_cov = np.stack([np.cov(draws[:, b].T) for b in range(draws.shape[1])])
    return float(np.max(np.abs(draws.mean(0) - mean))), float(np.max(np.abs(sample_cov - cov)))


def test_qew_is_q_for_one_sample_and_approaches_the_exact_posterior(linear_gaussian_qew):
    draws, exact, q = linear_gaussian_qew
    assert draws[1].shape == (4000, 3, 2)
    mean_err, cov_err = _moment_errors(draws[1], q)
    assert mean_err < 4 * 0.6 / math.sqrt(4000) and cov_err < 0.03  # K = 1: q itself
    errors = [_moment_errors(draws[k], exact) for k in (1, 10, 200)]
    assert errors[0][0] > 0.25 and errors[0][1] > 0.1  # q is visibly wrong
    assert errors[0][0] > errors[1][0] > errors[2][0] and errors[0][1] > errors[1][1]
    assert errors[2][0] < 0.06 and errors[2][1] < 0.05  # K = 200: close to p(z|x)


def test_sampler_compiles_once_and_checks_its_sizes(linear_gaussian_qew):
    model = linear_gaussian.model(data_dim=5, latent=2)
    params = jax.jit(model.init)(jax.random.PRNGKey(0))
    sample = ir.make_qew_sampler(model, 3, 10, draws_per_chunk=4)  # 3 chunks, last cut
    for j in range(3):
        out = sample(params, jax.random.PRNGKey(j), jnp.ones((2, 5)) * j)
    assert out["z"].shape == (10, 2, 2) and sample._cache_size() == 1
    with pytest.raises(ValueError, match="K >= 1"):
        ir.make_qew_sampler(model, 0, 10)


def test_toy_density_is_q_for_one_sample_normalises_and_matches_the_sampler():
    log_p, q, extent = ir.toy_posterior()
    points = ir.grid_points(extent, 90)
    cell = (extent[1] - extent[0]) * (extent[3] - extent[2]) / 90**2

    @jax.jit
    def densities(key: jax.Array):
        log_w, log_q = log_p(points) - q.log_prob(points), q.log_prob(points)
        none = ir.other_log_weights(key, log_p, q, 1, 50)
        others = ir.other_log_weights(key, log_p, q, 5, 2000)
        # The same distribution by sampling: resample one of 5 draws of q, 20,000 times.
        z = q.sample(jax.random.fold_in(key, 1), 5 * 20_000).reshape(5, 20_000, 2)
        draws = ir.importance_resample(key, log_p(z) - q.log_prob(z), z)
        return (
            ir.qew_log_density(log_w, log_q, none),
            log_q,
            ir.qew_log_density(log_w, log_q, others),
            log_p(points),
            draws,
        )

    k1, log_q, k5, log_true, draws = map(np.asarray, densities(jax.random.PRNGKey(1)))
    np.testing.assert_allclose(k1, log_q, atol=1e-5)
    density = np.exp(k5.astype(np.float64))
    assert np.sum(density) * cell == pytest.approx(1.0, abs=0.02)
    grid_mean = density @ np.asarray(points, np.float64) * cell
    se = draws.std(0) / math.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(0) - grid_mean) < 4 * se + 0.01)
    true_mean = np.exp(log_true.astype(np.float64)) @ np.asarray(points) * cell
    assert np.max(np.abs(grid_mean - true_mean)) > 10 * np.max(se)  # K = 5 is not there yet


def test_toy_panels_approach_the_known_posterior():
    panels = ir.toy_posterior_panels(jax.random.PRNGKey(0), (1, 5, 50), 60, 400)
    x0, x1, y0, y1 = panels.extent
    cell = (x1 - x0) * (y1 - y0) / 60**2
    log_p, _, _ = ir.toy_posterior()
    true = np.exp(np.asarray(log_p(ir.grid_points(panels.extent, 60)), np.float64)).reshape(60, 60)
    np.testing.assert_allclose(np.exp(panels.log_true), true, atol=2e-3)  # grid-normalised
    np.testing.assert_allclose(panels.log_qew[0], panels.log_q, atol=1e-5)
    tv = [0.5 * np.sum(np.abs(np.exp(d) - true)) * cell for d in panels.log_qew]
    assert tv[0] > 0.35 and tv[0] > tv[1] > tv[2] and tv[2] < 0.2


def test_model_panels_and_figure(tmp_path):
    model = chain_vae((4, 4, 1), [((8,), 2)])
    params = jax.jit(model.init)(jax.random.PRNGKey(4))
    x = (np.random.default_rng(0).uniform(size=(2, 4, 4, 1)) < 0.4).astype(np.float32)

    @jax.jit
    def joint_and_terms(key: jax.Array):
        terms, z = model.importance_samples(params, key, x, 3)
        joint = jax.vmap(lambda xb, zb: ir.model_log_joint(model, params, xb)(zb), (0, 1), 1)
        return joint(x, z["z1"]), terms.log_likelihood + terms.log_prior

    # log p(x, z) at given z agrees with the log-weights' terms.
    np.testing.assert_allclose(*joint_and_terms(jax.random.PRNGKey(5)), rtol=1e-5)
    panels = ir.model_posterior_panels(model, params, jax.random.PRNGKey(6), x, (1, 3), 16, 50)
    assert len(panels) == 2 and panels[0].log_qew.shape == (2, 16, 16)
    for p in panels:
        x0, x1, y0, y1 = p.extent
        cell = (x1 - x0) * (y1 - y0) / 16**2
        assert np.sum(np.exp(p.log_true)) * cell == pytest.approx(1.0)
        np.testing.assert_allclose(p.log_qew[0], p.log_q, atol=1e-4)  # K = 1 is q
    path = save_posterior_figure(panels, tmp_path / "qew.png", "test", x, (4, 4))
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="2-D latent"):
        ir.model_posterior_panels(chain_vae(16, [((8,), 3)]), None, jax.random.PRNGKey(0), x)
