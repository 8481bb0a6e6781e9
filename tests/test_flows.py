"""MADE, the gated autoregressive flow, the IAF posterior and the AF prior.

Log-determinants against ``slogdet(jax.jacfwd(f))``, triangular Jacobians, MADE's masks by
autodiff, the AF sampler as the inverse of its density map, the stop-gradient log q of the IAF
against an explicit sequential inverse (float64), the lecture's AF = IAF theorem, estimators
unbiased by Monte Carlo, and short jitted trainings that compile once.
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jvae import bounds, estimators
from jvae.components.af_prior import AFPrior
from jvae.components.conditionals import GaussianConditional
from jvae.components.flows import AutoregressiveFlow
from jvae.components.iaf import IAFPosterior
from jvae.components.likelihoods import Bernoulli
from jvae.components.posteriors import GaussianPosterior
from jvae.components.priors import VampPrior
from jvae.distributions import DiagGaussian, standard_normal_log_prob
from jvae.models.model import DATA, Latent, ModelParts, assemble
from jvae.nn.gated import GatedGaussianContext
from jvae.nn.made import MADE
from jvae.nn.mlp import BernoulliMLP, GaussianContextMLP, GaussianMLP
from jvae.training.train import TrainState, make_train_step

KEY = jax.random.PRNGKey(0)
D, C, X_DIM = 4, 3, 5


def _iaf(steps: int = 2, context: int = C) -> IAFPosterior:
    module = GaussianContextMLP((6,), D, context) if context else GaussianMLP((6,), D)
    return IAFPosterior(module, (X_DIM,), AutoregressiveFlow(D, steps, (9, 7), context))


@functools.cache
def _params(steps: int = 2, context: int = C) -> dict:
    """``_iaf(steps, context)``'s params, initialised once (jitted: eager init is slow on CPU)."""
    return jax.jit(_iaf(steps, context).init)(KEY)


@functools.cache
def _tiny_model():
    """An IAF posterior (gated encoder with context) and an AF prior: 6 pixels, 3 latents; the
    model and its initial params."""
    data_dim, latent = 6, 3
    posterior = IAFPosterior(
        GatedGaussianContext(((8,),), (), latent, 4),
        (data_dim,),
        AutoregressiveFlow(latent, 2, (8,), 4),
    )
    parts = ModelParts(
        latents=(Latent("z1", posterior, (DATA,), "q0"),),
        inference_order=("z1",),
        prior=AFPrior(AutoregressiveFlow(latent, 2, (8,))),
        likelihood=Bernoulli(BernoulliMLP((8,), data_dim), (latent,), data_dim),
        likelihood_parents=("z1",),
        likelihood_key="p0",
    )
    model = assemble(parts, data_dim)
    return model, jax.jit(model.init)(KEY)


def _positions(order) -> np.ndarray:
    position = np.empty(len(order), np.int64)
    position[np.asarray(order)] = np.arange(len(order))
    return position


@pytest.mark.parametrize("hidden", [(9, 7), ()])
def test_made_output_reads_exactly_the_inputs_before_it_in_its_ordering(hidden):
    order = (2, 0, 4, 1, 3)
    made = MADE(order, hidden, num_heads=2)
    x, context = jax.random.normal(KEY, (5,)), jax.random.normal(jax.random.PRNGKey(1), (3,))
    params = jax.jit(made.init)(KEY, x[None], context[None])["params"]

    def heads(x, context):
        return jnp.stack(made.apply({"params": params}, x, context))  # [2, D]

    jac_x, jac_c = map(np.asarray, jax.jit(jax.jacfwd(heads, argnums=(0, 1)))(x, context))
    pos = _positions(order)
    allowed = pos[None, :] < pos[:, None]  # [output, input]
    for head in range(2):
        assert np.all(jac_x[head][~allowed] == 0.0)  # at or after i: exactly zero
        assert np.all(jac_x[head][allowed] != 0.0)  # every earlier input is read
        # The context enters the first hidden layer, so it reaches every output but the
        # first in the ordering, which has no hidden unit before it (without hidden layers
        # it feeds the outputs directly).
        reached = np.abs(jac_c[head]).sum(-1) > 0.0
        np.testing.assert_array_equal(reached, (pos > 0) | (not hidden))


def test_made_rejects_a_bad_ordering_and_head_biases():
    x = jnp.zeros((1, 3))
    with pytest.raises(ValueError, match="permutation"):
        MADE((0, 0, 2), (4,)).init(KEY, x)
    with pytest.raises(ValueError, match="one value per head"):
        MADE((0, 1, 2), (4,), num_heads=2, head_bias=(1.0,)).init(KEY, x)


def test_flow_log_det_is_slogdet_of_jacobian_and_each_step_is_triangular():
    flow, params = _iaf().flow, _params()["flow"]
    k1, k2 = jax.random.split(jax.random.PRNGKey(3))
    x, context = jax.random.normal(k1, (D,)), jax.random.normal(k2, (C,))

    @jax.jit
    def jacobians(params):
        path, log_det = flow.trajectory(params, x, context)
        steps = [
            jax.jacfwd(lambda v, t=t: flow.step(params, t, v, context)[0])(path[t])
            for t in range(flow.num_steps)
        ]
        gates = [
            jax.nn.sigmoid(flow.made(t).apply({"params": params[f"step_{t}"]}, path[t], context)[1])
            for t in range(flow.num_steps)
        ]
        full = jax.jacfwd(lambda v: flow.forward(params, v, context)[0])(x)
        return log_det, full, steps, gates

    log_det, full, steps, gates = jacobians(params)
    sign, log_abs = np.linalg.slogdet(np.asarray(full, np.float64))
    assert sign == 1.0
    np.testing.assert_allclose(log_det, log_abs, rtol=1e-5, atol=1e-5)
    for t, (jac, gate) in enumerate(zip(steps, gates)):
        perm = np.asarray(flow.order(t))
        permuted = np.asarray(jac)[perm][:, perm]
        assert np.all(np.triu(permuted, 1) == 0.0)  # triangular in the step's ordering
        assert np.all(permuted[np.tril_indices(D, -1)] != 0.0)
        np.testing.assert_allclose(np.diag(jac), gate, rtol=1e-6)  # diagonal sigmoid(s_t)
    # Reversed orderings: the composition is triangular in neither order.
    full = np.asarray(full)
    assert np.any(np.triu(full, 1) != 0.0) and np.any(np.tril(full, -1) != 0.0)


def test_forget_gate_starts_near_one():
    flow, params = _iaf().flow, _params()["flow"]
    k1, k2 = jax.random.split(jax.random.PRNGKey(19))
    x, context = jax.random.normal(k1, (256, D)), jax.random.normal(k2, (256, C))
    for t in range(flow.num_steps):
        np.testing.assert_array_equal(params[f"step_{t}"]["out"]["bias"], [0.0] * D + [2.0] * D)
        _, s = jax.jit(flow.made(t).apply)({"params": params[f"step_{t}"]}, x, context)
        gate = np.asarray(jax.nn.sigmoid(s))
        np.testing.assert_allclose(gate, jax.nn.sigmoid(2.0), atol=0.05)  # every gate, every x


def test_af_sampling_inverts_density_evaluation_and_density_is_change_of_variables():
    prior, params = AFPrior(_iaf(context=0).flow), _params(context=0)["flow"]
    eps = jax.random.normal(jax.random.PRNGKey(4), (64, D))

    @jax.jit
    def check(params):
        z = prior.sample(params, jax.random.PRNGKey(4), 64)
        back, log_det = prior.flow.forward(params, z)
        jac = jax.vmap(jax.jacfwd(lambda e: prior.flow.inverse(params, e)))(eps)
        return z, back, log_det, prior.flow.inverse(params, back), jac, prior.log_prob(params, z)

    z, back, log_det, again, jac, log_p = check(params)
    np.testing.assert_allclose(back, eps, atol=1e-5)  # density map of a sample = its noise
    np.testing.assert_allclose(again, z, atol=1e-5)
    # log p(z) = log N(eps) - log|det dz/deps| with the Jacobian of the sequential sampler.
    sign, log_abs = np.linalg.slogdet(np.asarray(jac, np.float64))
    assert np.all(sign == 1.0)
    expected = np.asarray(standard_normal_log_prob(eps)) - log_abs
    np.testing.assert_allclose(log_p, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(log_det, -log_abs, rtol=1e-5, atol=1e-4)


def test_af_prior_contracts_volume_whatever_its_parameters():
    """The density map's Jacobian (by autodiff) has a negative log|det| for any parameters and
    any z, here scrambled parameters (log|det| from -10 to -0.8 over these z, -1.03 at the
    start): an AF prior can widen N(0, I) but never concentrate it in volume."""
    flow = _iaf(context=0).flow
    leaves, tree = jax.tree.flatten(flow.init(KEY))
    keys = jax.random.split(jax.random.PRNGKey(7), len(leaves))
    wild = tree.unflatten([x + 0.5 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])
    z = 4.0 * jax.random.normal(jax.random.PRNGKey(8), (32, D))
    jac = jax.vmap(jax.jacfwd(lambda v: flow.forward(wild, v)[0]))(z)
    sign, log_det = np.linalg.slogdet(np.asarray(jac, np.float64))
    assert np.all(sign == 1.0) and np.all(log_det < 0.0) and np.ptp(log_det) > 5.0


def test_inverse_stays_finite_and_exact_with_a_gate_near_zero():
    """A gate of sigmoid(-32) ~ e^-32 at one position: the inverse solves each position from the
    ones already solved, so positions not yet solved never overflow (they used to reach inf,
    and the masked matmul's 0 * inf made every output NaN). float64, since x_j = (y_j - (1 -
    sigma) m_j) / sigma loses about eps * |m_j| / sigma ~ 1e-3 of x_j to rounding."""
    flow = AutoregressiveFlow(D, 2, (8,))
    with jax.enable_x64(True):
        params = _to64(flow.init(jax.random.PRNGKey(0)))
        out = params["step_0"]["out"]
        out["bias"] = out["bias"].at[D + 1].set(-32.0)  # the gate s of position 1, step 0
        x = jax.random.normal(jax.random.PRNGKey(1), (5, D), jnp.float64)

        @jax.jit
        def round_trip(params, x):
            y, log_det = flow.forward(params, x)
            grad = jax.grad(lambda y: jnp.sum(flow.inverse(params, y)))(y)
            return flow.inverse(params, y), log_det, grad

        back, log_det, grad = round_trip(params, x)
    assert np.all(np.asarray(log_det) < -30.0)  # the gate is near zero at the true x
    assert np.all(np.isfinite(back)) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(back, x, atol=1e-2)


def test_iaf_log_q_is_change_of_variables_of_its_sampler():
    posterior, params = _iaf(), _params()
    x = jax.random.uniform(jax.random.PRNGKey(5), (3, X_DIM))
    eps = jax.random.normal(jax.random.PRNGKey(6), (2, 3, D))  # the draw's noise

    @jax.jit
    def check(params):
        z, log_q = posterior.sample(params, jax.random.PRNGKey(6), (x,), 2)
        mean, log_scale, context = posterior.module.apply({"params": params["net"]}, x)

        def sampler(e, b):  # one example's eps -> z
            z0 = mean[b] + jnp.exp(log_scale[b]) * e
            return posterior.flow.forward(params["flow"], z0, context[b])[0]

        rows = jnp.broadcast_to(jnp.arange(3), (2, 3))
        per_draw = jax.vmap(jax.vmap(lambda e, b: (sampler(e, b), jax.jacfwd(sampler)(e, b))))
        return z, log_q, *per_draw(eps, rows)

    z, log_q, z_again, jac = check(params)
    np.testing.assert_allclose(z, z_again, rtol=1e-6, atol=1e-6)
    _, log_abs = np.linalg.slogdet(np.asarray(jac, np.float64))
    expected = np.asarray(standard_normal_log_prob(eps)) - log_abs
    np.testing.assert_allclose(log_q, expected, rtol=1e-5, atol=1e-5)


def _to64(tree):
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)


def test_stop_q_log_q_has_the_path_gradient_of_the_exact_inverse():
    """d/dphi log q_sg(phi)(z(phi)) = grad_z log q(z) . dz/dphi, with grad_z log q by autodiff
    through the explicit sequential inverse; inputs keep their plain gradient (float64)."""
    posterior = _iaf()
    key = jax.random.PRNGKey(8)

    def draw(p, u, stop_q):
        return posterior.sample(p, key, (u,), 3, stop_q)

    def explicit_log_q(p, u, z):
        mean, log_scale, context = posterior.module.apply({"params": p["net"]}, u)
        z0 = posterior.flow.inverse(p["flow"], z, context)  # D fixed-point passes per step
        _, log_det = posterior.flow.forward(p["flow"], z0, context)
        return DiagGaussian(mean, log_scale).log_prob(z0) - log_det

    def everything(p, u):
        (z, plain), (z_stop, stopped) = draw(p, u, False), draw(p, u, True)
        grad_z = jax.grad(lambda z: jnp.sum(explicit_log_q(p, u, z)))(z)
        _, pullback = jax.vjp(lambda p: draw(p, u, False)[0], p)
        total, stop = (
            jax.grad(lambda p, v, s=s: jnp.sum(draw(p, v, s)[1]), argnums=(0, 1))(p, u)
            for s in (False, True)
        )
        return {
            "z": (z, z_stop),
            "log_q": (plain, stopped, explicit_log_q(p, u, z)),
            "path": (stop[0], pullback(grad_z)[0]),
            "total": total[0],
            "inputs": (stop[1], total[1]),
        }

    with jax.enable_x64(True):
        params = _to64(_params())
        u = jax.random.uniform(jax.random.PRNGKey(7), (2, X_DIM), jnp.float64)
        out = jax.jit(everything)(params, u)
    np.testing.assert_array_equal(*out["z"])
    plain, stopped, explicit = out["log_q"]
    np.testing.assert_allclose(stopped, plain, rtol=1e-13)
    np.testing.assert_allclose(explicit, plain, rtol=1e-10)
    chex.assert_trees_all_close(*out["path"], rtol=1e-9, atol=1e-11)
    flat = lambda t: np.concatenate([np.ravel(a) for a in jax.tree.leaves(t)])  # noqa: E731
    assert np.max(np.abs(flat(out["total"]) - flat(out["path"][0]))) > 1e-2  # the score term
    # Stopping the params leaves log q as a function of the inputs unchanged.
    np.testing.assert_allclose(*out["inputs"], rtol=1e-9, atol=1e-11)


def test_iaf_without_steps_is_the_gaussian_posterior():
    iaf, params = _iaf(steps=0, context=0), _params(steps=0, context=0)
    gaussian = GaussianPosterior(GaussianConditional(GaussianMLP((6,), D), (X_DIM,), D))
    x = jax.random.uniform(jax.random.PRNGKey(9), (3, X_DIM))
    key = jax.random.PRNGKey(10)

    @jax.jit
    def both(params):
        out = []
        for post, p in ((iaf, params), (gaussian, params["net"])):
            draws = [post.sample(p, key, (x,), n, s) for n in (4, None) for s in (False, True)]
            grads = [
                jax.grad(lambda p, s=s, post=post: jnp.sum(post.sample(p, key, (x,), 4, s)[1]))(p)
                for s in (False, True)
            ]
            out.append((draws, grads, post.mean(p, key, (x,))))
        return out

    (draws_i, grads_i, mean_i), (draws_g, grads_g, mean_g) = both(params)
    chex.assert_trees_all_equal(draws_i, draws_g)
    chex.assert_trees_all_close([g["net"] for g in grads_i], grads_g, rtol=1e-6)
    np.testing.assert_array_equal(mean_i, mean_g)


def test_iaf_mean_is_the_average_of_its_draws():
    posterior, params = _iaf(), _params()
    x = jax.random.uniform(jax.random.PRNGKey(11), (3, X_DIM))

    @jax.jit
    def mean_and_draws(params):
        mean = posterior.mean(params, jax.random.PRNGKey(12), (x,))
        return mean, posterior.sample(params, jax.random.PRNGKey(13), (x,), 4000)[0]

    mean, z = mean_and_draws(params)
    chex.assert_shape(mean, (3, D))
    se = np.sqrt(np.var(z, 0) / posterior.mean_samples + np.var(z, 0) / len(z))
    np.testing.assert_array_less(np.abs(mean - z.mean(0)), 5.0 * se)
    assert np.all(np.abs(mean - z.mean(0)) > 0.0)  # independent draws: an estimate, not a copy


def test_af_prior_is_an_iaf_posterior_along_the_encoder_path():
    """log p_AF(z) - log q(z|x) = log N(g(z)) - log q_IAF(g(z)|x) for the same steps g."""
    iaf, params = _iaf(context=0), _params(context=0)
    prior = AFPrior(iaf.flow)
    x = jax.random.uniform(jax.random.PRNGKey(14), (3, X_DIM))
    key = jax.random.PRNGKey(15)

    @jax.jit
    def both_sides(params):
        gaussian = DiagGaussian(*iaf.module.apply({"params": params["net"]}, x))
        z = gaussian.sample(key, 4)
        y, log_q_iaf = iaf.sample(params, key, (x,), 4)
        lhs = prior.log_prob(params["flow"], z) - gaussian.log_prob(z)
        rhs = standard_normal_log_prob(y) - log_q_iaf
        return y, iaf.flow.forward(params["flow"], z)[0], lhs, rhs

    y, g_of_z, lhs, rhs = both_sides(params)
    np.testing.assert_allclose(y, g_of_z, rtol=1e-6)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5, atol=1e-5)


def test_dreg_with_iaf_is_unbiased():
    """Paired z-test over 2000 draws of IWAE (K=5) encoder gradients, every parameter (the IAF
    steps and their encoder included): DReG against the reparameterisation gradient. The IAF
    steps' output weights are scaled up from their near-identity start, so that the Jacobians
    the path gradient inverts are far from diagonal."""
    model, params = _tiny_model()
    flow = params["encoder"]["q0"]["flow"]
    flow = {
        t: {**step, "out": {**step["out"], "kernel": 10.0 * step["out"]["kernel"]}}
        for t, step in flow.items()
    }
    params = {**params, "encoder": {"q0": {**params["encoder"]["q0"], "flow": flow}}}
    x = jax.random.bernoulli(jax.random.PRNGKey(17), 0.4, (3, 6)).astype(jnp.float32)
    keys = jax.random.split(jax.random.PRNGKey(16), 2000)

    @jax.jit
    def encoder_gradient_draws(params):
        out = []
        for name in ("reparam", "dreg"):
            vg = estimators.make_objective(
                functools.partial(model.log_weights, num_samples=5), bounds.iwae, name
            )
            grads = jax.vmap(lambda k, vg=vg: vg(params, k, x)[1]["encoder"])(keys)
            out.append(
                jnp.concatenate(
                    [jnp.reshape(g, (len(keys), -1)) for g in jax.tree.leaves(grads)], 1
                )
            )
        return out

    reparam, path = (np.asarray(g, np.float64) for g in encoder_gradient_draws(params))
    diff = path - reparam
    se = diff.std(0, ddof=1) / np.sqrt(len(diff))
    np.testing.assert_array_less(np.abs(diff.mean(0)), 4.5 * se + 1e-7)


def test_iwae_dreg_training_is_finite_and_compiles_once():
    model, params = _tiny_model()
    optimizer = optax.adam(1e-3)
    step = make_train_step(model, optimizer, num_samples=5, bound=bounds.iwae, estimator="dreg")
    step = jax.jit(chex.assert_max_traces(step, n=1))
    state = TrainState(
        jnp.zeros((), jnp.int32), params, optimizer.init(params), jnp.zeros((), jnp.int32)
    )
    data = jax.random.uniform(jax.random.PRNGKey(18), (4, 8, 6))
    start = state.params
    for i, batch in enumerate(data):
        state, metrics = step(jax.random.PRNGKey(i), state, batch)
        assert bool(metrics["finite"]) and np.isfinite(float(metrics["loss"]))
    assert int(state.skipped) == 0
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), state.params, start)
    assert min(jax.tree.leaves(moved)) > 0.0  # every parameter trains, the IAF's and prior's too


def test_unsupported_combinations_are_one_line_errors():
    parts = ModelParts(
        latents=(Latent("z1", _iaf(), (DATA,), "q0"),),
        inference_order=("z1",),
        prior=VampPrior(D, 3, X_DIM),
        likelihood=Bernoulli(BernoulliMLP((8,), X_DIM), (D,), X_DIM),
        likelihood_parents=("z1",),
        likelihood_key="p0",
    )
    with pytest.raises(ValueError, match="Gaussian of x alone"):
        assemble(parts, X_DIM)
    with pytest.raises(ValueError, match="context_size=3"):
        AFPrior(AutoregressiveFlow(D, 2, (8,), C))
    with pytest.raises(ValueError, match="context of size 2"):
        IAFPosterior(
            GaussianContextMLP((6,), D, 5), (X_DIM,), AutoregressiveFlow(D, 1, (8,), 2)
        ).init(KEY)
    with pytest.raises(ValueError, match="num_steps >= 0"):
        AutoregressiveFlow(D, -1, (8,))
    with pytest.raises(ValueError, match="last axis must be 4"):
        AFPrior(AutoregressiveFlow(D, 1, (8,))).log_prob({}, jnp.zeros((2, 3)))
