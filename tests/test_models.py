"""The IWAE paper's models: shapes, parameter split, STL/DReG plumbing, oracle properties."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import logsumexp

from jvae import bounds
from jvae.diagnostics import nll
from jvae.distributions import standard_normal_log_prob
from jvae.estimators import make_objective
from jvae.models import chain_vae, iwae_mlp, linear_gaussian

KEY = jax.random.PRNGKey(0)


@pytest.mark.parametrize("layers,latents", [(1, (50,)), (2, (100, 50))])
def test_log_weight_shapes_and_param_split(rng_key, layers, latents):
    model = iwae_mlp(layers)
    params = model.init(rng_key)
    assert set(params) == {"encoder", "decoder", "prior"}
    assert model.latent_sizes == latents
    x = (jax.random.uniform(rng_key, (3, 784)) > 0.5).astype(jnp.float32)
    terms = jax.jit(model.log_weights, static_argnums=3)(params, rng_key, x, 7)
    for t in terms:
        assert t.shape == (7, 3)
        assert np.isfinite(np.asarray(t)).all()
    means = model.posterior_means(params, rng_key, x, 4)
    assert [m.shape for m in means] == [(3, d) for d in latents]
    samples = model.sample(params, rng_key, 5)
    recon = model.reconstruct(params, rng_key, x)
    for img in (samples, recon):
        assert img.shape[1] == 784 and float(img.min()) >= 0.0 and float(img.max()) <= 1.0


def test_iwae_paper_layer_sizes(rng_key):
    params = iwae_mlp(1).init(rng_key)
    enc = params["encoder"]["q0"]
    assert enc["dense_0"]["kernel"].shape == (784, 200)
    assert enc["dense_1"]["kernel"].shape == (200, 200)
    assert enc["mean"]["kernel"].shape == (200, 50)
    # 2 layers: 784-200-200-100 and 100-100-100-50 (the paper's section 5 and its code).
    p2 = iwae_mlp(2).init(rng_key)
    assert p2["encoder"]["q0"]["dense_0"]["kernel"].shape == (784, 200)
    assert p2["encoder"]["q0"]["mean"]["kernel"].shape == (200, 100)
    assert p2["encoder"]["q1"]["dense_0"]["kernel"].shape == (100, 100)
    assert p2["encoder"]["q1"]["mean"]["kernel"].shape == (100, 50)
    assert p2["decoder"]["p1"]["dense_0"]["kernel"].shape == (50, 100)
    assert p2["decoder"]["p1"]["mean"]["kernel"].shape == (100, 100)
    assert p2["decoder"]["p0"]["mlp"]["dense_0"]["kernel"].shape == (100, 200)
    assert p2["decoder"]["p0"]["mlp"]["dense_2"]["kernel"].shape == (200, 784)
    with pytest.raises(ValueError, match="1 or 2"):
        iwae_mlp(3)


@pytest.mark.parametrize("layers", [1, 2])
def test_stop_q_changes_gradients_not_values(rng_key, layers):
    model = iwae_mlp(layers)
    params = model.init(rng_key)
    x = (jax.random.uniform(rng_key, (4, 784)) > 0.5).astype(jnp.float32)
    a = model.log_weights(params, rng_key, x, 3, stop_q=False)
    b = model.log_weights(params, rng_key, x, 3, stop_q=True)
    np.testing.assert_allclose(a.total, b.total, rtol=1e-6)
    g = [
        jax.grad(lambda p, s=s: jnp.sum(model.log_weights(p, rng_key, x, 3, stop_q=s).total))(
            params
        )
        for s in (False, True)
    ]
    # the decoder's gradient does not depend on the stop; the encoder's does.
    for u, v in zip(jax.tree.leaves(g[0]["decoder"]), jax.tree.leaves(g[1]["decoder"])):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-5)
    diff = [
        float(jnp.max(jnp.abs(u - v)))
        for u, v in zip(jax.tree.leaves(g[0]["encoder"]), jax.tree.leaves(g[1]["encoder"]))
    ]
    assert max(diff) > 1e-3


def test_exact_posterior_gives_exact_bounds_and_zero_stl_gradient(rng_key):
    """q = p(z|x): every log-weight is log p(x), so ELBO = IWAE_K = log p(x), and the STL and
    DReG encoder gradients vanish exactly (the path derivative of a constant)."""
    model = linear_gaussian.model(data_dim=6, latent=3)
    params = model.init(rng_key)
    x = linear_gaussian.sample_data(jax.random.PRNGKey(1), params, 16)
    exact = linear_gaussian.exact_log_marginal(params, x)
    log_w = model.log_weights(params, jax.random.PRNGKey(2), x, 10).total
    for bound in (bounds.elbo, bounds.iwae):
        np.testing.assert_allclose(bound(log_w), exact, atol=2e-4)
    for estimator in ("stl", "dreg"):
        value_and_grad = jax.jit(
            make_objective(
                functools.partial(model.log_weights, num_samples=10), bounds.iwae, estimator
            )
        )
        _, grads = value_and_grad(params, jax.random.PRNGKey(3), x)
        for leaf in jax.tree.leaves(grads["encoder"]):
            np.testing.assert_allclose(leaf, 0.0, atol=2e-4)
    _, grads = make_objective(
        functools.partial(model.log_weights, num_samples=10), bounds.iwae, "reparam"
    )(params, jax.random.PRNGKey(3), x)
    assert max(float(jnp.max(jnp.abs(v))) for v in jax.tree.leaves(grads["encoder"])) > 1e-2


def test_wrong_data_shape_is_named(rng_key):
    model = iwae_mlp(1)
    params = model.init(rng_key)
    with pytest.raises(ValueError, match=r"\[B, 784\].*\(3, 28, 28\)"):
        model.log_weights(params, rng_key, jnp.zeros((3, 28, 28)), 2)
    with pytest.raises(ValueError, match=r"\[B, 784\].*\(3, 100\)"):
        model.log_weights(params, rng_key, jnp.zeros((3, 100)), 2)


def test_two_layer_chain_bound_converges_to_its_exact_marginal():
    """The 2-layer chain's log-weights, wired through p(z1 | z2) and q(z2 | z1), give an L_K
    that approaches log p(x) from below; log p(x) by quadrature over (z1, z2) on a grid, from
    the parts called with explicit parents (so a mis-wired parent cannot cancel out)."""
    model = chain_vae((2, 2, 1), [((5,), 1), ((5,), 1)])
    # Scaled weights: p(z1 | z2) and p(x | z1) depend strongly on their parents.
    params = jax.tree.map(lambda a: 2.0 * a, model.init(jax.random.PRNGKey(3)))
    x = jnp.asarray([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0]]).reshape(2, 2, 2, 1)
    grid = jnp.linspace(-12.0, 12.0, 2001)
    z1, z2 = (g.reshape(-1, 1) for g in jnp.meshgrid(grid, grid, indexing="ij"))
    log_p_z = standard_normal_log_prob(z2) + model.parts.latents[0].conditional.distribution(
        params["decoder"]["p1"], (z2,)
    ).log_prob(z1)
    likelihood = model.parts.likelihood
    exact = np.asarray(
        [
            logsumexp(likelihood.log_prob(params["decoder"]["p0"], row[None], (z1,)) + log_p_z)
            + 2 * jnp.log(grid[1] - grid[0])
            for row in x
        ]
    )
    bound = np.asarray(nll.make_bound_evaluator(model, 100_000, 10_000)(params, KEY, x))
    assert np.all(bound < exact + 0.01)  # a lower bound, up to Monte Carlo error
    np.testing.assert_allclose(bound, exact, atol=0.05)
    # ... and a strictly looser one with few samples.
    few = np.asarray(nll.make_bound_evaluator(model, 1, 1)(params, KEY, x))
    assert np.all(few < bound)
