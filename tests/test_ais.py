"""AIS and BDMC against the linear-Gaussian oracle (exact log p(x)): convergence as T grows,
the exact posterior giving log p(x) at every T, T = 1 as importance sampling, the BDMC
sandwich and its shrinking gap; the HMC move leaving a correlated Gaussian invariant; the
densities at given latents of assembled models; one-line errors; one compilation for every T;
sharded over 4 fake devices equal to unsharded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae import bounds
from jvae.components import Bernoulli, GaussianConditional, GaussianPosterior, StandardNormal
from jvae.components.flows import AutoregressiveFlow
from jvae.components.iaf import IAFPosterior
from jvae.diagnostics import ais, bdmc, hmc_chain, tightness
from jvae.models import Latent, ModelParts, assemble, linear_gaussian
from jvae.nn import BernoulliMLP, GaussianMLP
from jvae.nn.mlp import GaussianContextMLP

OPTIONS = ais.AISOptions(num_chains=16)
STEPS = (1, 10, 100, 1000)


@pytest.fixture(scope="module")
def lg():
    """The linear-Gaussian model with an imperfect q (16-D data, 8 latents), 100 examples with
    their exact log p(x), and AIS at every T of STEPS (one compilation)."""
    model, params = tightness.imperfect_linear_gaussian(jax.random.PRNGKey(3))
    x, exact = tightness.linear_gaussian_data(jax.random.PRNGKey(4), params, 100)
    runs = {t: ais.dataset_ais(model, params, jax.random.PRNGKey(5), x, t, OPTIONS) for t in STEPS}
    return dict(model=model, params=params, x=x, exact=exact, runs=runs)


def _se(v: np.ndarray) -> float:
    return float(np.std(v, ddof=1) / np.sqrt(v.size))


def test_schedules_run_from_0_to_1_and_increase():
    for schedule in ais.SCHEDULES.values():
        b = np.asarray(schedule(jnp.arange(101), 100))
        assert b[0] == 0.0 and b[-1] == pytest.approx(1.0, abs=1e-6)
        assert np.all(np.diff(b) > 0)
    sig = np.asarray(hmc_chain.sigmoid_schedule(jnp.arange(101), 100))
    assert sig[1] - sig[0] < 0.2 * (sig[51] - sig[50])  # dense near the ends


def test_ais_converges_to_the_exact_log_px(lg):
    """The gap log p(x) - E log p-hat shrinks with T; at T = 1000 it is within 0.03 nats (the
    mean over 100 examples; its Monte Carlo s.e. is about 0.006). HMC mixes fast on this
    8-D Gaussian posterior, so most of the gap closes by T = 10."""
    gaps = {t: lg["exact"] - r["log_px"] for t, r in lg["runs"].items()}
    means = {t: float(np.mean(g)) for t, g in gaps.items()}
    assert means[1] > 0.3  # q is poor: importance sampling with K = 16 is loose
    assert means[1] > means[10] + 3 * _se(gaps[1] - gaps[10])
    for t, u in zip(STEPS[1:], STEPS[2:]):  # no worse with more levels (up to noise)
        assert means[u] < means[t] + 3 * _se(gaps[t] - gaps[u]) + 1e-3, means
    assert abs(means[1000]) < 0.03, means
    assert abs(means[1000]) < 4 * _se(gaps[1000]) + 0.01
    acc = lg["runs"][1000]["acceptance"]
    assert 0.5 < np.mean(acc) < 0.85  # adapted towards 0.65


def test_t1_from_the_posterior_is_importance_sampling_with_k_chains(lg):
    model, params, x = lg["model"], lg["params"], jnp.asarray(lg["x"][:20])
    key = jax.random.PRNGKey(7)
    result = jax.jit(lambda p, k, xb: ais.ais(model, p, k, xb, 1, OPTIONS))(params, key, x)
    k_init = jax.random.split(key, 3)[0]
    log_w = model.log_weights(params, k_init, x, OPTIONS.num_chains).total
    np.testing.assert_allclose(result.log_weights, log_w, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(result.log_px, bounds.iwae(log_w), rtol=1e-5, atol=1e-4)
    assert np.all(np.isnan(result.acceptance))


def test_exact_posterior_gives_exact_log_px_at_every_t(lg):
    """With q = p(z|x) every f_t is the posterior and every weight equals log p(x)."""
    params = {**lg["params"], "encoder": linear_gaussian.exact_posterior(lg["params"]["decoder"])}
    evaluate = ais.cached_evaluator(ais.make_ais, lg["model"], OPTIONS)
    for t in (1, 7):
        result = evaluate(params, jax.random.PRNGKey(t), jnp.asarray(lg["x"]), t)
        np.testing.assert_allclose(
            result.log_weights, np.broadcast_to(lg["exact"], (16, 100)), atol=2e-4
        )


def test_every_t_shares_one_compilation(lg):
    evaluate = ais.cached_evaluator(ais.make_ais, lg["model"], OPTIONS)
    assert evaluate._cache_size() == 1  # STEPS, the exact-posterior T and keys: one trace


def test_bdmc_sandwiches_the_exact_log_px_and_the_gap_shrinks(lg):
    model, params = lg["model"], lg["params"]
    rows = {}
    for t in (3, 200):
        r = bdmc.simulated_bdmc(model, params, jax.random.PRNGKey(8), 100, t, OPTIONS)
        exact = np.asarray(linear_gaussian.exact_log_marginal(params, jnp.asarray(r["x"])))
        rows[t] = dict(r, exact=exact)
    for t, r in rows.items():
        above, below = r["upper"] - r["exact"], r["exact"] - r["lower"]
        assert np.mean(above) > -3 * _se(above) - 1e-3, (t, np.mean(above))
        assert np.mean(below) > -3 * _se(below) - 1e-3, (t, np.mean(below))
    gap = {t: r["upper"] - r["lower"] for t, r in rows.items()}
    assert np.mean(gap[3]) > 5 * _se(gap[3])  # a real gap at T = 3 ...
    assert np.mean(gap[200]) < 0.3 * np.mean(gap[3])  # ... that closes with T
    assert abs(np.mean(gap[200])) < 0.1
    np.testing.assert_array_equal(rows[3]["x"], rows[200]["x"])  # same simulated data
    make = ais.cached_evaluator(bdmc.make_bdmc, model, OPTIONS)
    assert make._cache_size() == 1


def test_hmc_move_leaves_a_correlated_gaussian_invariant():
    """4,000 chains started at exact draws of N(m, S) (correlation 0.9, unequal scales) keep
    its mean and covariance after 30 moves."""
    mean = jnp.array([1.0, -2.0])
    cov = jnp.array([[1.0, 0.9 * 0.5], [0.9 * 0.5, 0.25]])
    prec = jnp.linalg.inv(cov)

    def log_target(z):
        d = z - mean
        return -0.5 * d @ prec @ d

    def pieces(z):
        return log_target(z), log_target(z)

    @jax.jit
    def run(key):
        z0 = jax.random.multivariate_normal(key, mean, cov, (4000,))

        def body(z, k):
            keys = jax.random.split(k, z.shape[0])
            z, _, acc = jax.vmap(
                lambda kk, zz: hmc_chain.annealed_transition(kk, zz, pieces, 0.5, 0.25, 10)
            )(keys, z)
            return z, jnp.mean(acc)

        return jax.lax.scan(body, z0, jax.random.split(jax.random.fold_in(key, 1), 30))

    z, acc = run(jax.random.PRNGKey(0))
    np.testing.assert_allclose(np.mean(z, axis=0), mean, atol=0.05)
    np.testing.assert_allclose(np.cov(np.asarray(z).T), cov, atol=0.05)
    assert 0.3 < float(np.mean(acc)) < 1.0  # moves happen


def test_adapt_step_size_moves_towards_the_target():
    log_eps = jnp.zeros(3)
    acc = jnp.array([[1.0, 0.65, 0.0], [0.8, 0.65, 0.2]])
    new = hmc_chain.adapt_step_size(log_eps, acc, target=0.65, rate=0.5)
    assert new[0] > 0 and new[1] == 0 and new[2] < 0
    with pytest.raises(AssertionError):
        hmc_chain.adapt_step_size(jnp.zeros(2), acc)


def _tiny_chain() -> tuple:
    def gauss(inputs, latent):
        return GaussianConditional(GaussianMLP((4,), latent), inputs, latent)

    parts = ModelParts(
        latents=(
            Latent(
                "z1", GaussianPosterior(gauss((6,), 3)), ("x",), "q0", gauss((2,), 3), ("z2",), "p1"
            ),
            Latent("z2", GaussianPosterior(gauss((3,), 2)), ("z1",), "q1"),
        ),  # fmt: skip
        inference_order=("z1", "z2"),
        prior=StandardNormal(2),
        likelihood=Bernoulli(BernoulliMLP((4,), 6), (3,), 6),
        likelihood_parents=("z1",),
        likelihood_key="p0",
    )
    model = assemble(parts, 6)
    return model, jax.jit(model.init)(jax.random.PRNGKey(0))


def test_densities_at_given_latents_are_the_log_weight_terms():
    model, params = _tiny_chain()
    x = (jax.random.uniform(jax.random.PRNGKey(1), (5, 6)) > 0.5).astype(jnp.float32)
    terms, z = jax.jit(model.importance_samples, static_argnums=3)(
        params, jax.random.PRNGKey(2), x, 7
    )
    log_lik, log_prior = jax.jit(model.log_joint)(params, x, z)
    np.testing.assert_allclose(log_lik, terms.log_likelihood, rtol=1e-5)
    np.testing.assert_allclose(log_prior, terms.log_prior, rtol=1e-5)
    log_q = jax.jit(model.log_posterior)(params, x, z)
    np.testing.assert_allclose(log_q, terms.log_posterior, rtol=1e-5)
    xs, latents = jax.jit(model.simulate, static_argnums=2)(params, jax.random.PRNGKey(3), 9)
    assert xs.shape == (9, 6) and set(np.unique(np.asarray(xs))) <= {0.0, 1.0}
    assert {k: v.shape for k, v in latents.items()} == {"z1": (9, 3), "z2": (9, 2)}


def test_ais_runs_over_all_latents_of_a_hierarchy_from_either_start():
    model, params = _tiny_chain()
    x = (jax.random.uniform(jax.random.PRNGKey(1), (4, 6)) > 0.5).astype(jnp.float32)
    exact = None
    for init in ("posterior", "prior"):
        options = ais.AISOptions(num_chains=8, init=init, warmup_steps=5)
        result = ais.make_ais(model, options)(params, jax.random.PRNGKey(2), x, 100)
        assert result.log_weights.shape == (8, 4) and np.all(np.isfinite(result.log_px))
        if exact is None:
            exact = result.log_px
        else:  # both starts reach the same log p(x) (5-D latent, 6 pixels), up to MC error
            np.testing.assert_allclose(result.log_px, exact, atol=0.3)
            assert abs(float(np.mean(result.log_px - exact))) < 0.1


def test_models_that_cannot_be_annealed_fail_in_one_line():
    plain = linear_gaussian.model()  # hand-written, without densities at given latents
    with pytest.raises(ValueError, match="log_joint") as err:
        ais.make_ais(plain)
    assert "\n" not in str(err.value)
    posterior = IAFPosterior(
        GaussianContextMLP((6,), 3, 2), (6,), AutoregressiveFlow(3, 2, (8,), 2)
    )
    parts = ModelParts(
        latents=(Latent("z1", posterior, ("x",), "q0"),),
        inference_order=("z1",),
        prior=StandardNormal(3),
        likelihood=Bernoulli(BernoulliMLP((4,), 6), (3,), 6),
        likelihood_parents=("z1",),
        likelihood_key="p0",
    )
    model = assemble(parts, 6)
    with pytest.raises(ValueError, match="anneal from the prior") as err:
        ais.make_ais(model)
    assert "\n" not in str(err.value)
    ais.make_ais(model, ais.AISOptions(init="prior"))  # the IAF model anneals from the prior
    with pytest.raises(ValueError, match="schedule"):
        ais.make_ais(model, ais.AISOptions(schedule="cosine"))
    with pytest.raises(ValueError, match="positive integer"):
        ais.check_steps(0)


SHARDED = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    from jvae.diagnostics import ais, tightness
    from jvae.training import parallel
    model, params = tightness.imperfect_linear_gaussian(jax.random.PRNGKey(3), 6, 2)
    x, _ = tightness.linear_gaussian_data(jax.random.PRNGKey(4), params, 8)
    options = ais.AISOptions(num_chains=4, warmup_steps=4)
    mesh = parallel.data_mesh()
    key = jax.random.PRNGKey(5)
    sharded = ais.make_ais(model, options, mesh)(
        parallel.put(params, parallel.replicated(mesh)),
        parallel.put(key, parallel.replicated(mesh)),
        parallel.put(x, parallel.batch_sharded(mesh)),
        5,
    )
    plain = ais.make_ais(model, options)
    def rows(d):
        key_d = jax.random.fold_in(key, d)
        return np.asarray(plain(params, key_d, jnp.asarray(x[2 * d : 2 * d + 2]), 5).log_px)

    want = np.concatenate([rows(d) for d in range(4)])
    json.dump({
        "devices": len(jax.devices()),
        "sharded": np.asarray(sharded.log_px).tolist(),
        "want": want.tolist(),
        "spec": str(sharded.log_px.sharding.spec),
    }, open(sys.argv[1], "w"))
    """
)


def test_sharded_over_four_devices_equals_unsharded_per_device(tmp_path):
    out = tmp_path / "sharded.json"
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        "--xla_force_host_platform_device_count=4 --xla_backend_optimization_level=0 "
        "--xla_llvm_disable_expensive_passes=true"
    )
    proc = subprocess.run(
        [sys.executable, "-c", SHARDED, str(out)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["devices"] == 4 and "data" in result["spec"]
    np.testing.assert_allclose(result["sharded"], result["want"], rtol=1e-5, atol=1e-4)
