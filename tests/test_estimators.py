"""Estimators on the linear-Gaussian model with a deliberately worse q (non-zero gradients)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae import bounds, estimators
from jvae.models import linear_gaussian

KEY = jax.random.PRNGKey(0)
MODEL = linear_gaussian.model(data_dim=5, latent=2, noise=0.5)
PARAMS = MODEL.init(KEY)
PARAMS = {
    **PARAMS,
    "encoder": {
        "A": 0.7 * PARAMS["encoder"]["A"],
        "c": PARAMS["encoder"]["c"] + 0.3,
        "log_scale": PARAMS["encoder"]["log_scale"] + 0.5,
    },
}
X = linear_gaussian.sample_data(jax.random.PRNGKey(2), PARAMS, 4)


def _objective(k: int, estimator: str, bound=bounds.iwae, **kwargs):
    log_weights_fn = functools.partial(MODEL.log_weights, num_samples=k)
    return estimators.make_objective(log_weights_fn, bound, estimator, **kwargs)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _grad_draws(k: int, bound, num_draws: int) -> dict:
    """Flattened encoder and decoder gradients per estimator for ``num_draws`` keys, ``[N, P]``."""
    keys = jax.random.split(jax.random.PRNGKey(7), num_draws)

    def flat(tree):
        return jnp.concatenate([jnp.reshape(g, (num_draws, -1)) for g in jax.tree.leaves(tree)], 1)

    out = {}
    for estimator in estimators.ESTIMATORS:
        vg = _objective(k, estimator, bound)
        grads = jax.vmap(lambda key, vg=vg: vg(PARAMS, key, X)[1])(keys)
        out[estimator] = (flat(grads["encoder"]), flat(grads["decoder"]))
    return out


def _agree_in_expectation(a: np.ndarray, b: np.ndarray, z: float = 4.5) -> None:
    """Paired Monte Carlo test: |mean(a - b)| < z standard errors, for every parameter."""
    diff = a - b
    se = diff.std(0, ddof=1) / np.sqrt(len(diff))
    np.testing.assert_array_less(np.abs(diff.mean(0)), z * se + 1e-7)


def test_dreg_unbiased_for_iwae_with_lower_variance():
    draws = _grad_draws(10, bounds.iwae, 3000)
    enc_r, dec_r = map(np.asarray, draws["reparam"])
    enc_d, dec_d = map(np.asarray, draws["dreg"])
    np.testing.assert_allclose(draws["stl"][1], dec_r, rtol=1e-5, atol=1e-6)
    # The expected gradient is clearly non-zero for some parameters (q is worse).
    se = enc_r.std(0, ddof=1) / np.sqrt(len(enc_r))
    assert np.max(np.abs(enc_r.mean(0)) / se) > 10
    _agree_in_expectation(enc_d, enc_r)
    assert enc_d.var(0).sum() < 0.5 * enc_r.var(0).sum()
    np.testing.assert_allclose(dec_d, dec_r, rtol=1e-5, atol=1e-6)  # same keys, same decoder


@pytest.mark.parametrize("bound", [bounds.elbo, functools.partial(bounds.miwae, num_groups=5)])
def test_stl_and_dreg_unbiased_where_theory_says(bound):
    # STL is unbiased for the ELBO (for IWAE with K > 1 it is not; DReG is).
    draws = _grad_draws(10, bound, 2000)
    enc_r, dec_r = map(np.asarray, draws["reparam"])
    enc_d, dec_d = map(np.asarray, draws["dreg"])
    _agree_in_expectation(enc_d, enc_r)
    np.testing.assert_allclose(dec_d, dec_r, rtol=1e-5, atol=1e-6)
    if bound is bounds.elbo:
        enc_s, dec_s = map(np.asarray, draws["stl"])
        _agree_in_expectation(enc_s, enc_r)
        np.testing.assert_allclose(dec_s, dec_r, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(enc_s, enc_d, rtol=1e-5, atol=1e-6)  # ELBO: DReG == STL
        assert enc_s.var(0).sum() < enc_r.var(0).sum()


CLOSED_FORMS = (
    bounds.iwae,
    bounds.elbo,
    functools.partial(bounds.miwae, num_groups=4),
    functools.partial(bounds.ciwae, beta=0.3),
    functools.partial(bounds.renyi, alpha=0.5),
    functools.partial(bounds.renyi, alpha=-1.0),
    functools.partial(bounds.renyi, alpha=1.5),
)


@jax.jit
def _closed_and_generic(lw):
    return [
        (estimators.dreg_weights(b, lw), estimators.dreg_weights_autodiff(b, lw))
        for b in CLOSED_FORMS
    ]


def test_dreg_weights_closed_forms():
    lw = MODEL.log_weights(PARAMS, KEY, X, 16).total
    lw = lw.at[3, 1].set(-jnp.inf)  # a zero weight changes nothing
    results = _closed_and_generic(lw)
    np.testing.assert_allclose(results[0][0], jnp.square(bounds.normalized_weights(lw)), rtol=1e-6)
    for bound, (closed, generic) in zip(CLOSED_FORMS, results, strict=True):
        np.testing.assert_allclose(closed, generic, rtol=1e-5, atol=1e-7, err_msg=str(bound))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _encoder_snr(k: int, estimator: str) -> jax.Array:
    snr = estimators.gradient_snr(_objective(k, estimator), PARAMS, KEY, X[:1], 1000)
    return estimators.summarize_snr(snr)["encoder"]


def test_snr_falls_with_k_for_reparam_not_for_dreg():
    # Rainforth et al. (2018): the encoder SNR of the IWAE gradient is O(sqrt(1/K)).
    snr = {(e, k): float(_encoder_snr(k, e)) for e in ("reparam", "dreg") for k in (1, 10, 100)}
    print(snr)
    assert snr["reparam", 1] > snr["reparam", 10] > snr["reparam", 100]
    assert snr["reparam", 1] > 2 * snr["reparam", 100]
    assert snr["dreg", 100] > 0.7 * snr["dreg", 1]
    assert snr["dreg", 100] > 2 * snr["reparam", 100]


def test_gradient_snr_summary_and_errors():
    snr = jax.jit(estimators.gradient_snr, static_argnums=(0, 4))(
        _objective(5, "reparam"), PARAMS, KEY, X, 8
    )
    assert jax.tree.structure(snr) == jax.tree.structure(PARAMS)
    summary = estimators.summarize_snr(snr)
    assert set(summary) == {"encoder", "decoder"}  # the empty prior is left out
    with pytest.raises(ValueError, match="num_draws"):
        estimators.gradient_snr(_objective(5, "reparam"), PARAMS, KEY, X, 1)
    with pytest.raises(ValueError, match=r"'reparam', 'stl', 'dreg'"):
        _objective(5, "score")
