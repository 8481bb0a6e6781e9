"""KL reweightings of the ELBO: schedules against their definitions, the analytic KL against
quadrature and Monte Carlo, every objective's reduction to the ELBO (value and gradient), free
bits' zero gradient below lambda, capacity's |KL - C|, the train step's refusals, and a run
from the command line that logs the KL per dimension and draws its figures."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from jvae import bounds, cli
from jvae.components.priors import GaussianMixture
from jvae.distributions import DiagGaussian
from jvae.estimators import make_objective, tempered_log_weights
from jvae.models import iwae_mlp, tomczak_welling_hvae
from jvae.objectives import (
    KLReweighting,
    KLTerms,
    analytic_kl,
    beta_vae,
    controlled_capacity,
    cyclical_kl_annealing,
    free_bits,
    gaussian_kl_per_dim,
    kl_annealing,
    kl_terms,
    linear_capacity,
    linear_kl_warmup,
    make_kl_objective,
)
from jvae.reports.kl_curves import read_records, save_kl_per_dim
from jvae.reports.traversals import latent_traversal, save_traversals
from jvae.run.spec import RunSpec
from jvae.training.train import init_state, make_optimizer, make_train_step


@pytest.fixture(scope="module")
def small():
    """A 1-layer model with a 6-dimensional latent, its params and a binary batch."""
    model = iwae_mlp(1, event_shape=784, latent_size=6)
    params = model.init(jax.random.PRNGKey(0))
    x = (jax.random.uniform(jax.random.PRNGKey(1), (8, 784)) > 0.7).astype(jnp.float32)
    return model, params, x


def _fu_et_al(t: int, steps: int, cycles: int, ratio: float) -> float:
    """Fu et al. 2019's schedule as written in their paper (t counted from 0)."""
    if t >= steps:
        return 1.0
    period = steps / cycles
    tau = (t % period) / period
    return tau / ratio if tau <= ratio else 1.0


def test_schedules_follow_their_definitions():
    for steps, cycles, ratio in ((40, 4, 0.5), (30, 3, 0.25), (7, 2, 1.0)):
        schedule = jax.jit(cyclical_kl_annealing(steps, cycles, ratio))
        got = [float(schedule(t)) for t in range(steps + 5)]
        want = [_fu_et_al(t, steps, cycles, ratio) for t in range(steps + 5)]
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    linear = kl_annealing(10, 0)
    assert [float(linear(t)) for t in (0, 5, 10, 20)] == [0.0, 0.5, 1.0, 1.0]
    one_ramp = cyclical_kl_annealing(10, 1, ratio=1.0)
    for t in range(15):
        assert float(one_ramp(t)) == pytest.approx(float(linear_kl_warmup(10)(t)))
    capacity = jax.jit(linear_capacity(jnp.float32(25.0), 100))
    assert [float(capacity(t)) for t in (0, 40, 100, 1000)] == pytest.approx([0, 10, 25, 25])
    for bad in (lambda: cyclical_kl_annealing(10, 0), lambda: cyclical_kl_annealing(3, 4)):
        with pytest.raises(ValueError, match="cycles"):
            bad()


def test_gaussian_kl_matches_quadrature():
    means, log_scales = np.array([0.0, 1.5, -0.7]), np.array([0.0, -1.2, 0.8])
    got = gaussian_kl_per_dim(DiagGaussian(jnp.asarray(means), jnp.asarray(log_scales)))
    for d, (mu, ls) in enumerate(zip(means, log_scales)):
        q = scipy.stats.norm(mu, np.exp(ls))

        def integrand(z, q=q):
            return q.pdf(z) * (q.logpdf(z) - scipy.stats.norm.logpdf(z))

        want, _ = scipy.integrate.quad(integrand, mu - 12 * np.exp(ls), mu + 12 * np.exp(ls))
        np.testing.assert_allclose(float(got[d]), want, rtol=1e-5, atol=1e-6)
    q = DiagGaussian(jnp.asarray(means), jnp.asarray(log_scales))
    np.testing.assert_allclose(jnp.sum(got), q.kl_standard_normal(), rtol=1e-6)


def test_analytic_kl_only_where_it_factorises(small):
    model, params, x = small
    kl = analytic_kl(model)
    assert kl is not None and kl(params, x).shape == (8, 6)
    assert analytic_kl(iwae_mlp(1, 784, 6, GaussianMixture(6, 3))) is None  # learned prior
    assert analytic_kl(iwae_mlp(2)) is None  # a hierarchy
    assert analytic_kl(tomczak_welling_hvae()) is None


def test_analytic_kl_is_the_mean_of_the_monte_carlo_kl(small):
    model, params, x = small
    terms = model.log_weights(params, jax.random.PRNGKey(2), x, 4000)
    monte_carlo = kl_terms(terms)
    analytic = kl_terms(terms, analytic_kl(model)(params, x))
    stderr = np.std(np.asarray(terms.log_posterior - terms.log_prior), axis=0) / np.sqrt(4000)
    assert np.all(np.abs(np.asarray(monte_carlo.kl - analytic.kl)) < 4 * stderr + 1e-4)
    np.testing.assert_array_equal(monte_carlo.reconstruction, analytic.reconstruction)
    np.testing.assert_allclose(analytic.kl, jnp.sum(analytic.kl_per_dim, axis=-1), rtol=1e-6)


def test_objectives_reduce_to_the_elbo(small):
    model, params, x = small
    terms = model.log_weights(params, jax.random.PRNGKey(3), x, 5)
    mc = kl_terms(terms)
    elbo = bounds.elbo(terms.total)
    np.testing.assert_allclose(beta_vae(mc, 1.0), elbo, rtol=1e-6)
    np.testing.assert_allclose(mc.elbo, elbo, rtol=1e-6)
    exact = kl_terms(terms, analytic_kl(model)(params, x))
    assert float(jnp.mean(exact.kl)) > 0  # so |KL - 0| = KL
    for t in (mc, exact):
        want = float(jnp.mean(t.elbo))
        assert float(jnp.mean(free_bits(t, 0.0, 1))) == pytest.approx(want, rel=1e-6)
        assert float(jnp.mean(controlled_capacity(t, 1.0, 0.0))) == pytest.approx(want, rel=1e-6)
    per_dim = free_bits(exact, 0.0, 6)  # every dimension's KL is positive
    np.testing.assert_allclose(per_dim, exact.elbo, rtol=1e-6)
    # beta-VAE with the Monte Carlo KL is the ELBO of the tempered log-weights
    np.testing.assert_allclose(
        beta_vae(mc, 4.0), bounds.elbo(tempered_log_weights(terms, 4.0)), rtol=1e-6
    )


def test_kl_objective_at_beta_one_has_the_elbo_gradient():
    """With a prior whose KL is not analytic (a mixture), beta = 1 is the ELBO trained by
    jvae.estimators: the same loss and the same gradient."""
    model = iwae_mlp(1, 784, 4, GaussianMixture(4, 3))
    params = model.init(jax.random.PRNGKey(0))
    x = (jax.random.uniform(jax.random.PRNGKey(1), (6, 784)) > 0.7).astype(jnp.float32)
    key = jax.random.PRNGKey(2)
    info, grads, metrics = jax.jit(make_kl_objective(model, 3, KLReweighting("kl")))(
        params, key, x, jnp.int32(0)
    )
    elbo_vg = make_objective(functools.partial(model.log_weights, num_samples=3), bounds.elbo)
    want_info, want = jax.jit(elbo_vg)(params, key, x)
    np.testing.assert_allclose(info.loss, want_info.loss, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
    assert "kl_per_dim" not in metrics and float(metrics["kl_weight"]) == 1.0


def _numpy_free_bits(rec, kl, lam):
    return rec.mean() - np.maximum(lam, kl.mean(axis=0)).sum()


def test_free_bits_clamps_each_group_and_stops_its_gradient():
    rng = np.random.default_rng(0)
    rec = rng.normal(-100, 5, size=4)
    kl_dims = rng.uniform(0, 1, size=(4, 6)) * np.array([0.1, 0.1, 2.0, 2.0, 0.3, 3.0])

    def objective(kl_dims, groups, lam):
        t = KLTerms(jnp.asarray(rec), jnp.sum(kl_dims, -1), kl_dims)
        return jnp.mean(free_bits(t, lam, groups))

    for groups, some_above in ((6, True), (3, True), (2, True), (1, False), (1, True)):
        group_kl = kl_dims.reshape(4, groups, -1).sum(-1)
        means = np.sort(group_kl.mean(axis=0))
        # lambda between two groups' mean KL (both kinds occur), or above the single group's
        lam = float(means[:2].mean()) if groups > 1 else float(means[0]) + (-1 if some_above else 1)
        value = objective(jnp.asarray(kl_dims), groups, lam)
        np.testing.assert_allclose(value, _numpy_free_bits(rec, group_kl, lam), rtol=1e-6)
        grad = np.asarray(jax.grad(objective)(jnp.asarray(kl_dims), groups, lam))
        above = np.repeat(group_kl.mean(axis=0) > lam, 6 // groups)
        assert above.any() == some_above and (groups == 1 or not above.all())
        np.testing.assert_array_equal(grad[:, ~above], 0.0)
        np.testing.assert_allclose(grad[:, above], -0.25, rtol=1e-6)  # -1/B
    with pytest.raises(ValueError, match="divide the 6 latent dimensions"):
        objective(jnp.asarray(kl_dims), 4, 1.0)


def test_free_bits_above_every_kl_trains_the_reconstruction_only(small):
    """With lambda above every group's KL the encoder gets the reconstruction's gradient."""
    model, params, x = small
    key = jax.random.PRNGKey(4)
    info, grads, metrics = make_kl_objective(
        model, 2, KLReweighting("free-bits", free_bits=1e3, groups=3)
    )(params, key, x, jnp.int32(0))

    def reconstruction(p):
        return -jnp.mean(kl_terms(model.log_weights(p, key, x, 2)).reconstruction)

    want = jax.grad(reconstruction)(params)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)
    assert float(info.loss) == pytest.approx(-float(metrics["reconstruction"]) + 3e3, rel=1e-6)
    assert metrics["kl_per_dim"].shape == (6,)


@pytest.mark.parametrize("capacity", [0.5, 50.0])
def test_capacity_is_gamma_times_the_distance_of_the_batch_kl_from_c(capacity):
    rec, kl = jnp.array([-10.0, -20.0, -30.0]), jnp.array([1.0, 2.0, 6.0])

    def objective(kl):
        return jnp.mean(controlled_capacity(KLTerms(rec, kl), 10.0, capacity))

    assert float(objective(kl)) == pytest.approx(-20.0 - 10.0 * abs(3.0 - capacity))
    sign = np.sign(3.0 - capacity)
    np.testing.assert_allclose(jax.grad(objective)(kl), -10.0 * sign / 3, rtol=1e-6)


def test_reweighting_schedules_and_dispatch():
    beta = KLReweighting("kl", kl_weight=4.0, warmup=10)
    assert [float(beta.kl_weight_at(t)) for t in (0, 5, 10)] == [0.0, 2.0, 4.0]
    cap = KLReweighting("capacity", capacity=25.0, capacity_steps=100, capacity_gamma=1000.0)
    assert float(cap.capacity_at(50)) == 12.5 and float(cap.kl_weight_at(50)) == 1.0
    t = KLTerms(jnp.array([-5.0]), jnp.array([20.0]))
    assert float(cap(t, jnp.int32(100))[0]) == pytest.approx(-5.0 - 1000.0 * 5.0)
    for kwargs, match in (
        (dict(penalty="tc"), "unknown KL penalty"),
        (dict(penalty="capacity", warmup=5), "set warmup=0"),
        (dict(groups=-1), "groups must be >= 0"),
    ):
        with pytest.raises(ValueError, match=match) as err:
            KLReweighting(**kwargs)
        assert "\n" not in str(err.value)
    mixture = iwae_mlp(1, 784, 4, GaussianMixture(4, 3))
    with pytest.raises(ValueError, match="does not factorise"):
        make_kl_objective(mixture, 1, KLReweighting("free-bits", free_bits=1.0, groups=2))


def test_kl_train_step_compiles_once_and_refuses_other_estimators(small, grey_rows):
    model = small[0]
    optimizer = make_optimizer(10)
    reweighting = KLReweighting("capacity", capacity=5.0, capacity_steps=4, capacity_gamma=2.0)
    traces = []

    def counted(*args):
        traces.append(1)
        return make_train_step(model, optimizer, 2, bounds.elbo, reweighting=reweighting)(*args)

    step = jax.jit(counted)
    state = init_state(jax.random.PRNGKey(0), model, optimizer)
    for i in range(3):
        state, metrics = step(jax.random.PRNGKey(i), state, jnp.asarray(grey_rows[:16]))
    assert len(traces) == 1 and bool(metrics["finite"]) and int(state.step) == 3
    assert float(metrics["capacity"]) == 2.5  # C at step 2 of 4
    refused = (
        (dict(estimator="dreg"), "estimator='reparam'"),
        (dict(bound=bounds.iwae), "model='vae'"),
        (dict(kl_schedule=linear_kl_warmup(3)), "its own KL schedule"),
    )
    for kwargs, match in refused:
        with pytest.raises(ValueError, match=match):
            make_train_step(model, optimizer, 1, reweighting=reweighting, **kwargs)


@pytest.mark.parametrize(
    "options,match",
    [
        (dict(model="vae", free_bits=1.0, capacity=5.0), "choose one"),
        (dict(model="vae", capacity=5.0, kl_warmup=10), "warm-up"),
        (dict(model="vae", capacity=5.0, kl_weight=2.0), "drop kl_weight"),
        (dict(model="iwae", free_bits=1.0), "use model='vae'"),
        (dict(model="vae", kl_weight=4.0, estimator="dreg"), "estimator='reparam'"),
        (dict(kl_cycles=4, kl_warmup=2), "got 4 cycles in 2 steps"),
        (dict(kl_weight=-1.0), "kl_weight must be >= 0"),
        (dict(capacity_gamma=0.0), "capacity_gamma must be > 0"),
    ],
)
def test_config_refuses_kl_options_without_meaning(options, match):
    with pytest.raises(ValueError, match=match) as err:
        RunSpec.from_preset("smoke", **options)
    assert "\n" not in str(err.value)


def test_config_chooses_the_kl_path():
    assert RunSpec.from_preset("smoke", model="vae", kl_weight=1.0).objective.reweights_kl
    assert RunSpec.from_preset("smoke", model="vae", free_bits=0.5).objective.reweights_kl
    tempered = (dict(model="vae", kl_warmup=10), dict(model="iwae", kl_weight=4.0))
    for options in tempered:  # a bound of tempered log-weights, not a reweighted ELBO
        assert not RunSpec.from_preset("smoke", **options).objective.reweights_kl


def test_train_with_controlled_capacity_from_the_command_line(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {
        "train": (rng.uniform(size=(64, 28, 28, 1)) < 0.1).astype(np.float32),
        "test": (rng.uniform(size=(8, 28, 28, 1)) < 0.1).astype(np.float32),
    }
    monkeypatch.setattr("jvae.data.spec.load_dataset", lambda name, data_dir=None: arrays)
    flags = ["--model", "vae", "--latent-size", "10"]
    flags += ["--capacity", "25", "--capacity-steps", "8", "--batch-size", "16", "--epochs", "2"]
    flags += ["--skip-eval", "--no-progress", "--workdir", str(tmp_path)]
    assert cli.main(["train", *flags]) == 0
    records = read_records(tmp_path / "metrics.jsonl")
    assert [r["capacity"] for r in records] == [25 * 3 / 8, 25 * 7 / 8]
    assert all(len(r["kl_per_dim"]) == 10 for r in records)
    for r in records:
        assert sum(r["kl_per_dim"]) == pytest.approx(r["kl"], rel=1e-3)
    assert save_kl_per_dim(records, tmp_path / "kl.png", "KL") and (tmp_path / "kl.png").exists()
    assert not save_kl_per_dim([{"step": 1, "loss": 1.0}], tmp_path / "none.png", "no KL")


def test_a_traversal_sweeps_one_dimension_at_a_time(small):
    """A dimension the decoder ignores gives a constant row; the others change the image."""
    model, params, x = small
    kernel = params["decoder"]["p0"]["mlp"]["dense_0"]["kernel"]
    params = jax.tree.map(lambda a: a, params)
    params["decoder"]["p0"]["mlp"]["dense_0"]["kernel"] = kernel.at[2].set(0.0)
    traversal = latent_traversal(model, params, x[0], x, steps=5)
    assert traversal.images.shape == (6, 5, 784) and sorted(traversal.order) == list(range(6))
    np.testing.assert_allclose(traversal.offsets, [-3, -1.5, 0, 1.5, 3])
    assert np.all(np.diff(traversal.kl) <= 0)  # most informative first
    spread = np.ptp(traversal.images, axis=1).max(axis=-1)  # per row, over the swept values
    ignored = int(np.flatnonzero(traversal.order == 2)[0])
    assert spread[ignored] == 0.0 and np.all(np.delete(spread, ignored) > 1e-4)
    save_traversals(traversal, "/dev/null", "traversals", (28, 28))
