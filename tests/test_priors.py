"""Priors: mixture densities against float64 references, the VampPrior as an aggregate
posterior, sample moments, and the matrix-product form of the mixture (no [N, C, D] array)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from jvae.components.priors import GaussianMixture, StandardNormal, VampPrior
from jvae.distributions import diag_gaussian_mixture_log_prob
from jvae.models.build import choose_pseudo_inputs, make_prior
from jvae.models.iwae_nets import chain_vae

KEY = jax.random.PRNGKey(0)


def _mixture_reference(z, means, log_scales, log_mix) -> np.ndarray:
    """log sum_c pi_c N(z; mu_c, sigma_c^2) in float64 with scipy, one component at a time."""
    z, means, scales = (np.asarray(a, np.float64) for a in (z, means, np.exp(log_scales)))
    per_component = np.stack(
        [stats.norm.logpdf(z, means[c], scales[c]).sum(-1) for c in range(len(means))], -1
    )
    return logsumexp(per_component + np.asarray(log_mix, np.float64), axis=-1)


def _tiny_model(prior_name: str, images: np.ndarray | None = None, components: int = 3):
    prior = make_prior(prior_name, 2, components, 6, images)
    return chain_vae(6, [((8,), 2)], prior)


def _random_mog_params(key: jax.Array, c: int, d: int) -> dict:
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "means": 2.0 * jax.random.normal(k1, (c, d)),
        "log_scales": 0.5 * jax.random.normal(k2, (c, d)),
        "logits": jax.random.normal(k3, (c,)),
    }


def test_mixture_log_prob_matches_float64_reference_far_and_near():
    k1, k2 = jax.random.split(KEY)
    params = _random_mog_params(k1, 7, 5)
    near = params["means"][jnp.array([0, 3, 6])] + 1e-3  # cancellation in the expansion
    far = 4.0 * jax.random.normal(k2, (4, 11, 5))  # leading axes [K, B]
    prior = GaussianMixture(5, 7)
    for z in (near, far):
        got = jax.jit(prior.log_prob)(params, z)
        log_mix = jax.nn.log_softmax(params["logits"])
        want = _mixture_reference(z, params["means"], params["log_scales"], log_mix)
        assert got.shape == z.shape[:-1]
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-4)


def test_mixture_of_sharp_components_far_from_the_origin_stays_accurate():
    """Expanded squared distances cancel in float32: centring keeps the error small where
    sigma is 0.05 and the components sit 30 units from the origin (1.1 nats without it)."""
    k1, k2 = jax.random.split(KEY)
    means = 30.0 + jax.random.normal(k1, (50, 40))
    log_scales = jnp.full((50, 40), jnp.log(0.05))
    z = means[:20] + 0.05 * jax.random.normal(k2, (20, 40))
    log_mix = jnp.full(50, -jnp.log(50.0))
    want = _mixture_reference(z, means, log_scales, log_mix)
    got = diag_gaussian_mixture_log_prob(z, means, log_scales, log_mix)
    np.testing.assert_allclose(got, want, atol=1e-2)


def test_vampprior_log_prob_is_the_mixture_of_encoded_pseudo_inputs():
    model = _tiny_model("vamp", components=4)
    params = model.init(KEY)
    u = np.clip(np.asarray(params["prior"]["pseudo_inputs"]), 0.0, 1.0)
    q = model.posterior_distribution(params, jnp.asarray(u))
    z = jax.random.normal(jax.random.PRNGKey(1), (5, 3, 2))
    want = _mixture_reference(z, q.mean, q.log_scale, np.full(4, -np.log(4)))
    np.testing.assert_allclose(jax.jit(model.log_prior)(params, z), want, rtol=2e-5, atol=2e-4)


def test_vampprior_of_a_whole_dataset_is_the_aggregate_posterior(grey_rows):
    """pseudo-inputs = all N data points: p(z) = (1/N) sum_i q(z | x_i), the aggregate posterior
    that ELBO surgery compares the prior with."""
    data = grey_rows[:9, :6]
    model = _tiny_model("vamp-data", images=data, components=len(data))
    params = model.init(KEY)
    np.testing.assert_array_equal(np.sort(params["prior"]["pseudo_inputs"], 0), np.sort(data, 0))
    q = model.posterior_distribution(params, jnp.asarray(data))
    z = 1.5 * jax.random.normal(jax.random.PRNGKey(2), (40, 2))
    logpdf = [stats.norm.logpdf(np.asarray(z), q.mean[i], np.exp(q.log_scale[i])).sum(-1)
              for i in range(len(data))]  # fmt: skip
    aggregate = logsumexp(np.stack(logpdf), axis=0) - np.log(len(data))
    np.testing.assert_allclose(model.log_prior(params, z), aggregate, rtol=2e-5, atol=2e-4)


def _mixture_moments(means, scales, weights) -> tuple[np.ndarray, np.ndarray]:
    mean = weights @ means
    second = np.einsum("c,cd,ce->de", weights, means, means) + np.diag(weights @ scales**2)
    return mean, second - np.outer(mean, mean)


@pytest.mark.parametrize("name", ["sg", "mog", "vamp"])
def test_prior_samples_match_the_prior_moments(name):
    model = _tiny_model(name, components=3)
    params = model.init(KEY)
    if name == "mog":
        params["prior"] = _random_mog_params(jax.random.PRNGKey(3), 3, 2)
    prior, n = model.parts.prior, 200_000
    encode = None
    if name == "vamp":
        enc = params["encoder"]["q0"]
        posterior = model.parts.latents[0].posterior

        def encode(u):
            return posterior.distribution(enc, (u,))

    z = np.asarray(jax.jit(prior.sample, static_argnums=(2, 3))(params["prior"], KEY, n, encode))
    assert z.shape == (n, 2)
    if name == "sg":
        mean, cov = np.zeros(2), np.eye(2)
    elif name == "mog":
        p = params["prior"]
        weights = np.asarray(jax.nn.softmax(p["logits"]), np.float64)
        mean, cov = _mixture_moments(np.asarray(p["means"]), np.exp(p["log_scales"]), weights)
    else:
        q = encode(prior.pseudo_inputs(params["prior"]))
        mean, cov = _mixture_moments(np.asarray(q.mean), np.exp(q.log_scale), np.full(3, 1 / 3))
    se = np.sqrt(np.diag(cov) / n)
    np.testing.assert_array_less(np.abs(z.mean(0) - mean), 5 * se)
    np.testing.assert_allclose(np.cov(z.T), cov, atol=0.02 * np.max(np.abs(cov)) + 1e-3)


def test_mixture_never_materialises_samples_by_components_by_dims():
    """The squared distances are matrix products: no intermediate has N*C*D elements."""
    n, c, d = 600, 500, 40
    z = jnp.zeros((n, d))
    p = {"means": jnp.zeros((c, d)), "log_scales": jnp.zeros((c, d)), "logits": jnp.zeros(c)}
    jaxpr = jax.make_jaxpr(GaussianMixture(d, c).log_prob)(p, z)
    sizes = [int(np.prod(v.aval.shape)) for eqn in jaxpr.eqns for v in eqn.outvars if v.aval.shape]
    assert max(sizes) == n * c  # the [N, C] table of component log-densities
    assert n * c * d not in sizes


def test_prior_parameters_and_initialisation():
    assert StandardNormal(3).init(KEY) == {}
    mog = GaussianMixture(4, 10).init(KEY)
    assert {k: v.shape for k, v in mog.items()} == {
        "means": (10, 4),
        "log_scales": (10, 4),
        "logits": (10,),
    }
    # The authors' initialisation: W ~ N(0.05, 0.01^2), used through hardtanh_[0,1].
    vamp = VampPrior(4, 500, 784)
    w = np.asarray(vamp.init(KEY)["pseudo_inputs"])
    assert w.shape == (500, 784)
    assert abs(w.mean() - 0.05) < 1e-3 and abs(w.std() - 0.01) < 1e-3
    u = vamp.pseudo_inputs({"pseudo_inputs": jnp.array([[-0.5, 0.5, 1.5]])})
    np.testing.assert_array_equal(u, [[0.0, 0.5, 1.0]])


def test_data_pseudo_inputs_are_fixed_training_images(grey_data):
    chosen = choose_pseudo_inputs(grey_data, 20, seed=3)
    assert chosen.shape == (20, 784)
    rows = {row.tobytes() for row in grey_data}
    assert all(row.tobytes() in rows for row in chosen)
    assert len({row.tobytes() for row in chosen}) == 20  # distinct images
    np.testing.assert_array_equal(chosen, choose_pseudo_inputs(grey_data, 20, seed=3))
    prior = VampPrior(2, 20, 784, fixed_inputs=chosen)
    params = prior.init(KEY)
    grad = jax.grad(lambda p: jnp.sum(prior.pseudo_inputs(p)))(params)
    assert not np.any(grad["pseudo_inputs"])  # never updated
    with pytest.raises(ValueError, match=r"components <= the 512 training images"):
        choose_pseudo_inputs(grey_data, 600, seed=0)


def test_bad_prior_arguments_are_one_line_errors():
    for bad in (lambda: GaussianMixture(2, 0), lambda: VampPrior(2, 0, 6)):
        with pytest.raises(ValueError, match=r"num_components >= 1") as err:
            bad()
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="unknown prior 'gmm'"):
        make_prior("gmm", 2, 3, 6)
    with pytest.raises(ValueError, match=r"shape \[3, 6\]"):
        VampPrior(2, 3, 6, fixed_inputs=np.zeros((4, 6)))


def test_mixture_function_accepts_any_leading_shape():
    means, log_scales = jnp.zeros((2, 3)), jnp.zeros((2, 3))
    z = jnp.ones((2, 5, 7, 3))
    out = diag_gaussian_mixture_log_prob(z, means, log_scales, jnp.log(jnp.array([0.5, 0.5])))
    assert out.shape == (2, 5, 7)
    np.testing.assert_allclose(out, stats.norm.logpdf(1.0) * 3, rtol=1e-6)
