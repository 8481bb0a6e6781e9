"""Estimators with priors that read the encoder (VampPrior): STL and DReG change only the
posterior's use of the encoder params, the prior's use gets the plain gradient; every prior with
every bound and estimator trains and compiles once."""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jvae import bounds
from jvae.estimators import make_objective
from jvae.models.build import make_prior
from jvae.models.iwae_nets import chain_vae
from jvae.training.train import init_state, make_train_step

sg = jax.lax.stop_gradient
K, B, D, LATENT, C = 5, 4, 6, 2, 3


def _model(prior: str = "vamp", images=None):
    return chain_vae(D, [((8,), LATENT)], make_prior(prior, LATENT, C, D, images))


MODEL = _model()
PARAMS = MODEL.init(jax.random.PRNGKey(0))
X = (jax.random.uniform(jax.random.PRNGKey(1), (B, D)) > 0.5).astype(jnp.float32)


def _reference_log_weights(phi_path, phi_q, phi_prior, decoder, prior_params, key):
    """log w_k written out from the parts, with the encoder params of the sample path, of log q
    and of the prior as three separate arguments (independent of the model's routing)."""
    posterior = MODEL.parts.latents[0].posterior
    eps_key = jax.random.split(key, 1)[0]  # the model's key for its first (only) latent
    z = posterior.distribution(phi_path, (X,)).sample(eps_key, K)
    log_q = posterior.distribution(phi_q, (X,)).log_prob(z)

    def encode(u):
        return posterior.distribution(phi_prior, (u,))

    log_p = MODEL.parts.prior.log_prob(prior_params, z, encode)
    log_x = MODEL.parts.likelihood.log_prob(decoder, X, (z,))
    return log_x + log_p - log_q


def _surrogate(estimator: str, key: jax.Array):
    """The loss whose plain gradient is the estimator (Roeder et al.; Tucker et al.)."""

    def loss(params):
        phi, theta, psi = params["encoder"]["q0"], params["decoder"]["p0"], params["prior"]
        full = _reference_log_weights(phi, phi, phi, theta, psi, key)
        w = sg(jax.nn.softmax(full, axis=0))  # normalised weights (IWAE)
        if estimator == "reparam":
            return -jnp.mean(jax.nn.logsumexp(full, axis=0))
        # generative part (decoder, prior and the prior's use of phi): plain gradient, w_k
        generative = _reference_log_weights(sg(phi), sg(phi), phi, theta, psi, key)
        # posterior part: phi only through z (log q stopped); STL weight w_k, DReG w_k^2
        path = _reference_log_weights(phi, sg(phi), sg(phi), sg(theta), sg(psi), key)
        weight = w if estimator == "stl" else jnp.square(w)
        return -jnp.mean(jnp.sum(w * generative + weight * path, axis=0))

    return loss


@pytest.mark.parametrize("estimator", ["reparam", "stl", "dreg"])
def test_vampprior_gradients_equal_the_surrogate_losses(estimator):
    key = jax.random.PRNGKey(2)
    objective = make_objective(
        functools.partial(MODEL.log_weights, num_samples=K), bounds.iwae, estimator
    )
    info, grads = jax.jit(objective)(PARAMS, key, X)
    phi, theta, psi = PARAMS["encoder"]["q0"], PARAMS["decoder"]["p0"], PARAMS["prior"]
    log_w = _reference_log_weights(phi, phi, phi, theta, psi, key)
    ref_loss = -jnp.mean(jax.nn.logsumexp(log_w, axis=0))
    np.testing.assert_allclose(info.loss, ref_loss + np.log(K), rtol=1e-6)
    want = jax.jit(jax.grad(_surrogate(estimator, key)))(PARAMS)
    assert jax.tree.structure(grads) == jax.tree.structure(want)
    for got, ref in zip(jax.tree.leaves(grads), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(got, ref, rtol=2e-4, atol=2e-6)
    # the prior's use of the encoder is not negligible here: routing it wrongly would show
    prior_path = jax.grad(
        lambda phi: jnp.sum(
            _reference_log_weights(
                sg(PARAMS["encoder"]["q0"]),
                sg(PARAMS["encoder"]["q0"]),
                phi,
                PARAMS["decoder"]["p0"],
                PARAMS["prior"],
                key,
            )
        )  # fmt: skip
    )(PARAMS["encoder"]["q0"])
    assert max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(prior_path)) > 1e-2


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _encoder_grad_draws(bound_name: str, estimator: str, num_draws: int) -> jax.Array:
    bound = {"iwae": bounds.iwae, "elbo": bounds.elbo}[bound_name]
    objective = make_objective(
        functools.partial(MODEL.log_weights, num_samples=K), bound, estimator
    )
    keys = jax.random.split(jax.random.PRNGKey(7), num_draws)
    grads = jax.vmap(lambda key: objective(PARAMS, key, X)[1]["encoder"])(keys)
    return jnp.concatenate([jnp.reshape(g, (num_draws, -1)) for g in jax.tree.leaves(grads)], 1)


def _agree_in_expectation(a: np.ndarray, b: np.ndarray, z: float = 4.5) -> None:
    diff = a - b
    se = diff.std(0, ddof=1) / np.sqrt(len(diff))
    np.testing.assert_array_less(np.abs(diff.mean(0)), z * se + 1e-7)


@pytest.mark.parametrize("bound_name,estimator", [("iwae", "dreg"), ("elbo", "stl")])
def test_vampprior_estimators_unbiased_against_reparam(bound_name, estimator):
    """Same keys (paired): the difference of the encoder gradients has mean zero."""
    reparam = np.asarray(_encoder_grad_draws(bound_name, "reparam", 3000))
    other = np.asarray(_encoder_grad_draws(bound_name, estimator, 3000))
    se = reparam.std(0, ddof=1) / np.sqrt(len(reparam))
    assert np.max(np.abs(reparam.mean(0)) / se) > 10  # a clearly non-zero expected gradient
    _agree_in_expectation(other, reparam)
    assert other.var(0).sum() < reparam.var(0).sum()


PRIORS = ("sg", "mog", "vamp", "vamp-data")


@pytest.mark.parametrize("prior", PRIORS)
def test_every_prior_trains_with_every_bound_and_estimator_compiling_once(prior, grey_rows):
    images = grey_rows[:20, :D]
    model = _model(prior, images)
    data = jnp.asarray(grey_rows[:8, :D])
    for bound in (bounds.elbo, bounds.iwae):
        for estimator in ("reparam", "stl", "dreg"):
            optimizer = optax.adam(1e-2)
            chex.clear_trace_counter()  # every `step` closure shares one code object
            step = chex.assert_max_traces(
                make_train_step(model, optimizer, 5, bound, estimator), n=1
            )
            step = jax.jit(step)
            state = init_state(jax.random.PRNGKey(0), model, optimizer)
            losses = []
            for i in range(4):
                state, metrics = step(jax.random.PRNGKey(i), state, data)
                losses.append(float(metrics["loss"]))
            assert np.all(np.isfinite(losses)), (prior, bound, estimator, losses)
            assert int(state.skipped) == 0
            moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.params, model.init(
                jax.random.PRNGKey(0)))  # fmt: skip
            assert all(jax.tree.leaves(moved["encoder"])) and all(jax.tree.leaves(moved["decoder"]))
            if prior == "vamp-data":  # pseudo-inputs are fixed images
                assert not any(jax.tree.leaves(moved["prior"]))
            elif prior != "sg":
                assert all(jax.tree.leaves(moved["prior"]))


def test_kl_weight_tempers_the_log_weights_and_dreg_stays_unbiased():
    """With beta, log w = log p(x|z) + beta (log p(z) - log q); DReG's cotangent is
    (1 - beta) g + beta c, unbiased against reparam of the same tempered bound."""
    beta = 0.3
    objective = make_objective(functools.partial(MODEL.log_weights, num_samples=K), bounds.iwae)
    info, _ = objective(PARAMS, jax.random.PRNGKey(3), X, beta)
    t = info.log_weights
    tempered = t.log_likelihood + beta * (t.log_prior - t.log_posterior)
    np.testing.assert_allclose(info.bound, bounds.iwae(tempered), rtol=1e-6)

    @functools.partial(jax.jit, static_argnums=0)
    def draws(estimator):
        vg = make_objective(
            functools.partial(MODEL.log_weights, num_samples=K), bounds.iwae, estimator
        )
        keys = jax.random.split(jax.random.PRNGKey(8), 3000)
        g = jax.vmap(lambda k: vg(PARAMS, k, X, beta)[1]["encoder"])(keys)
        return jnp.concatenate([jnp.reshape(v, (3000, -1)) for v in jax.tree.leaves(g)], 1)

    _agree_in_expectation(np.asarray(draws("dreg")), np.asarray(draws("reparam")))
