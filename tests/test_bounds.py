"""Bounds: limits, identities, safety, and the lecture's theorems on the linear-Gaussian model."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from jvae import bounds
from jvae.models import linear_gaussian
from jvae.numerics import log_mean_exp

KEY = jax.random.PRNGKey(0)
LW = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (12, 5)) * 2.0)


def jit(fn, **kwargs):
    return jax.jit(functools.partial(fn, **kwargs))


def test_k1_iwae_equals_elbo_exactly():
    lw = LW[:1]
    np.testing.assert_array_equal(jit(bounds.iwae)(lw), jit(bounds.elbo)(lw))
    np.testing.assert_array_equal(log_mean_exp(jnp.asarray(lw)), lw[0])


def test_renyi_limits_and_monotone():
    iw, el = jit(bounds.iwae)(LW), jit(bounds.elbo)(LW)
    np.testing.assert_allclose(jit(bounds.renyi, alpha=0.0)(LW), iw, rtol=1e-6)
    np.testing.assert_array_equal(jit(bounds.renyi, alpha=1.0)(LW), el)
    for eps in (1e-3, 1e-5, 1e-7):
        # |L_alpha - ELBO| ~ |1 - alpha| Var(log w) / 2, and Var(log w) ~ 4 here.
        np.testing.assert_allclose(jit(bounds.renyi, alpha=1 - eps)(LW), el, atol=5 * eps + 2e-6)
        np.testing.assert_allclose(jit(bounds.renyi, alpha=1 + eps)(LW), el, atol=5 * eps + 2e-6)
    # Against the float64 formula near alpha = 1 (the cancellation-prone regime).
    for alpha in (0.9, 1 - 1e-4, 1 + 1e-4, 2.0):
        d = 1 - alpha
        ref = (logsumexp(d * LW.astype(np.float64), axis=0) - np.log(12)) / d
        np.testing.assert_allclose(jit(bounds.renyi, alpha=alpha)(LW), ref, rtol=2e-6, atol=2e-6)
    alphas = [-2.0, -0.5, 0.0, 0.3, 0.7, 0.99, 1.0, 1.01, 1.5, 3.0]
    values = np.stack([jit(bounds.renyi, alpha=a)(LW) for a in alphas])
    assert np.all(np.diff(values, axis=0) <= 1e-5)


def test_miwae_and_ciwae_endpoints():
    iw, el = jit(bounds.iwae)(LW), jit(bounds.elbo)(LW)
    np.testing.assert_allclose(jit(bounds.miwae, num_groups=1)(LW), iw, rtol=1e-6)
    np.testing.assert_allclose(jit(bounds.miwae, num_groups=12)(LW), el, rtol=1e-6)
    groups = [bounds.iwae(LW[4 * i : 4 * i + 4]) for i in range(3)]
    np.testing.assert_allclose(jit(bounds.miwae, num_groups=3)(LW), np.mean(groups, 0), rtol=1e-6)
    np.testing.assert_allclose(jit(bounds.ciwae, beta=0.0)(LW), iw, rtol=1e-6)
    np.testing.assert_allclose(jit(bounds.ciwae, beta=1.0)(LW), el, rtol=1e-6)
    np.testing.assert_allclose(jit(bounds.ciwae, beta=0.25)(LW), 0.25 * el + 0.75 * iw, rtol=1e-6)
    with pytest.raises(ValueError, match="K=12, M=5"):
        bounds.miwae(LW, 5)
    dec, enc = bounds.piwae(4)
    assert dec is bounds.iwae
    np.testing.assert_allclose(enc(LW), bounds.miwae(LW, 4))


ALL = {
    "elbo": bounds.elbo,
    "iwae": bounds.iwae,
    "miwae": functools.partial(bounds.miwae, num_groups=3),
    "ciwae": functools.partial(bounds.ciwae, beta=0.5),
    "renyi": functools.partial(bounds.renyi, alpha=0.5),
    "renyi2": functools.partial(bounds.renyi, alpha=2.0),
    "jackknife1": functools.partial(bounds.jackknife, order=1),
    "jackknife2": functools.partial(bounds.jackknife, order=2),
    "ess": bounds.effective_sample_size,
}


@pytest.mark.parametrize("name", list(ALL))
def test_permutation_invariance_and_shape_errors(name):
    fn = jax.jit(ALL[name])
    perm = np.random.default_rng(0).permutation(12)
    if name == "miwae":  # groups of consecutive samples: permute within and across groups
        inner = np.random.default_rng(1).permutation(4)
        perm = np.concatenate([4 * g + inner for g in (2, 0, 1)])
    np.testing.assert_allclose(fn(LW[perm]), fn(LW), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"shape \[K, B\]"):
        ALL[name](LW[:, 0])
    with pytest.raises(ValueError, match=r"shape \[K, B\]"):
        ALL[name](LW[:, :, None])


@pytest.mark.parametrize("name", [n for n in ALL if n != "ess"])
def test_all_neg_inf_column(name):
    lw = LW.copy()
    lw[:, 1] = -np.inf
    lw[3, 2] = -np.inf  # one zero weight elsewhere
    fn = ALL[name]
    value = np.asarray(jax.jit(fn)(lw))
    assert value[1] == -np.inf and not np.any(np.isnan(value))
    finite = [0, 3, 4] if name in ("elbo", "ciwae", "renyi2") else [0, 2, 3, 4]
    assert np.all(np.isfinite(value[finite]))
    grad = np.asarray(jax.jit(jax.grad(lambda x: jnp.sum(fn(x)[np.array(finite)])))(lw))
    assert np.all(np.isfinite(grad)) and np.all(grad[:, 1] == 0)


def test_ess():
    ess = jit(bounds.effective_sample_size)(LW)
    assert np.all(ess >= 1) and np.all(ess <= 12)
    np.testing.assert_allclose(jit(bounds.effective_sample_size)(np.zeros((7, 3))), 7.0)
    np.testing.assert_allclose(jit(bounds.normalized_weights)(LW).sum(0), 1.0, rtol=1e-6)


def _jackknife_ref(lw: np.ndarray, order: int) -> np.ndarray:
    """Float64 brute force over leave-one-out and leave-two-out subsets."""
    k = lw.shape[0]

    def lk(idx):
        return logsumexp(lw[idx], axis=0) - np.log(len(idx))

    l1 = np.mean([lk(np.delete(np.arange(k), i)) for i in range(k)], axis=0)
    if order == 1:
        return k * lk(np.arange(k)) - (k - 1) * l1
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    l2 = np.mean([lk(np.delete(np.arange(k), [i, j])) for i, j in pairs], axis=0)
    return k**2 / 2 * lk(np.arange(k)) - (k - 1) ** 2 * l1 + (k - 2) ** 2 / 2 * l2


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("k", [3, 24])
def test_jackknife_matches_float64_brute_force(order, k):
    rng = np.random.default_rng(k)
    lw = (rng.normal(size=(k, 4)) * np.array([1.0, 5.0, 30.0, 1.0])).astype(np.float32)
    lw[0, 3] = 60.0  # one dominant weight: log(sum - w_max) by subtraction would cancel
    ref = _jackknife_ref(lw.astype(np.float64), order)
    np.testing.assert_allclose(jit(bounds.jackknife, order=order)(lw), ref, rtol=3e-6, atol=3e-5)


def test_jackknife_large_k_order1():
    lw = np.asarray(jax.random.normal(KEY, (2000, 2)) * 3.0)
    lw64 = lw.astype(np.float64)
    l1 = logsumexp(lw64, 0) - np.log(2000)
    w = np.exp(lw64 - logsumexp(lw64, 0))
    ref = l1 - 1999 * np.mean(np.log1p(-w) - np.log1p(-1 / 2000), axis=0)
    np.testing.assert_allclose(jit(bounds.jackknife, order=1)(lw), ref, atol=1e-4)
    with pytest.raises(ValueError, match="K > 2"):
        bounds.jackknife(lw[:2], order=2)


# --- the lecture's theorems on the linear-Gaussian model ------------------------------------

MODEL = linear_gaussian.model(data_dim=5, latent=2, noise=0.5)
PARAMS = MODEL.init(KEY)
WORSE = {
    **PARAMS,
    "encoder": {
        "A": 0.7 * PARAMS["encoder"]["A"],
        "c": PARAMS["encoder"]["c"] + 0.3,
        "log_scale": PARAMS["encoder"]["log_scale"] + 0.7,
    },
}
X = linear_gaussian.sample_data(jax.random.PRNGKey(2), PARAMS, 1000)


@jax.jit
def _sweep(params, x):
    """Bounds at several K on one batch (one compilation)."""
    key = jax.random.PRNGKey(3)
    lw = {k: MODEL.log_weights(params, key, x, k).total for k in (1, 5, 8, 10, 50)}
    out = {f"iwae{k}": bounds.iwae(lw[k]) for k in lw}
    return {**out, "elbo10": bounds.elbo(lw[10]), "jk8": bounds.jackknife(lw[8])}


def test_exact_posterior_makes_every_bound_tight():
    log_px = linear_gaussian.exact_log_marginal(PARAMS, X)
    values = _sweep(PARAMS, X)
    for name in ("iwae1", "elbo10", "iwae10", "iwae50"):
        np.testing.assert_allclose(values[name], log_px, atol=1e-4, err_msg=name)


def test_iwae_monotone_in_k_and_converges():
    log_px = float(jnp.mean(linear_gaussian.exact_log_marginal(WORSE, X)))
    values = _sweep(WORSE, X)
    l1, l5, l50 = (float(jnp.mean(values[f"iwae{k}"])) for k in (1, 5, 50))
    assert l1 < l5 < l50 < log_px, (l1, l5, l50, log_px)
    assert l5 - l1 > 0.05  # the q is bad enough for the test to mean something
    lw = MODEL.log_weights(WORSE, jax.random.PRNGKey(4), X[:40], 5000).total
    l5000 = jax.jit(bounds.iwae)(lw)
    gap = float(jnp.mean(linear_gaussian.exact_log_marginal(WORSE, X[:40]) - l5000))
    assert abs(gap) < 0.02, gap  # one draw of L_5000 may exceed log p(x) by Monte Carlo noise
    assert log_px - l50 > 5 * abs(gap)


def test_jackknife_reduces_bias():
    log_px = linear_gaussian.exact_log_marginal(WORSE, X)
    values = _sweep(WORSE, X)
    bias_iwae = float(jnp.mean(values["iwae8"] - log_px))
    bias_jk = float(jnp.mean(values["jk8"] - log_px))
    assert abs(bias_jk) < 0.5 * abs(bias_iwae), (bias_jk, bias_iwae)
