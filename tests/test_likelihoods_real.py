"""Likelihoods for real and colour data over event shapes: the Gaussian (fixed, learned and
predicted scale, the floor) against scipy in float64 with its gradient in closed form; bits per
dimension of a density on dequantised 8-bit data; the discretised logistic mixture against a
float64 scipy reference, normalised, exact in sampling, equal to a logistic per channel with one
uncoupled component; ``[K, B]`` shapes from an MLP and a conv-shaped head; one compilation."""

from __future__ import annotations

import math

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from jvae.components.gaussian_likelihood import Gaussian, dequantize, dequantized_bits_per_dim
from jvae.components.logistic_mixture import DiscretizedLogisticMixture, LogisticMixturePixels
from jvae.components.pixels import discretized_logistic_log_prob
from jvae.nn.mlp import MLP

MIN_LOG_SCALE = -7.0  # LogisticPixels' floor, the mixture's default
# RBG keys: their samplers compile in a tenth of threefry's time on CPU (tests/test_conv.py)
# the pixel distribution is a frozen dataclass: a static argument, one compilation per shape
mixture_log_prob = jax.jit(LogisticMixturePixels.log_prob, static_argnums=0)
mixture_sample = jax.jit(LogisticMixturePixels.sample, static_argnums=0)
mixture_mean = jax.jit(LogisticMixturePixels.mean, static_argnums=0)


class Shift(nn.Module):
    """``u -> u + b`` with ``b = 0`` at init: the parents are the raw outputs."""

    @nn.compact
    def __call__(self, u: jax.Array) -> jax.Array:
        return u + self.param("shift", nn.initializers.zeros, (u.shape[-1],))


class Head(nn.Module):
    """A small MLP whose output is returned as ``[N, *shape]``: flat (an MLP decoder's layout)
    or ``(H, W, P)`` (a conv decoder's)."""

    shape: tuple[int, ...]

    @nn.compact
    def __call__(self, u: jax.Array) -> jax.Array:
        out = MLP((8, math.prod(self.shape)), name="mlp")(u)
        return jnp.reshape(out, (u.shape[0], *self.shape))


def as_float64(params):
    return jax.tree.map(lambda p: jnp.asarray(p, jnp.float64), params)


def softplus(a: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, a)


# ---------------------------------------------------------------- Gaussian


def gaussian_sigma(lik: Gaussian, raw: np.ndarray) -> np.ndarray:
    """The documented scale: ``min_scale + softplus(raw + r0)``, ``r0`` giving ``scale`` at 0."""
    r0 = math.log(math.expm1(lik.scale - lik.min_scale))
    return lik.min_scale + softplus(np.asarray(raw, np.float64) + r0)


def gaussian_case(variance: str, seed: int = 0):
    """A Gaussian over ``(2, 3)`` whose parents are its raw outputs, with random raw values."""
    event, k, b = (2, 3), 4, 3
    lik = Gaussian(Shift(), (6 * (2 if variance == "predicted" else 1),), event, variance, 0.7)
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(k, b, *event, lik.outputs_per_dim))
    raw[..., 0] = rng.uniform(-2, 2, size=(k, b, *event))
    x = rng.normal(size=(b, *event))
    params = lik.init(jax.random.key(0, impl="rbg"))
    if variance == "learned":
        params["raw_scale"] = jnp.asarray(rng.normal(size=event))
    return lik, params, raw, x


@pytest.mark.parametrize("variance", ["fixed", "learned", "predicted"])
def test_gaussian_log_prob_matches_scipy_float64(variance):
    lik, params, raw, x = gaussian_case(variance)
    mu = raw[..., 0]
    if variance == "fixed":
        sigma = np.full_like(mu, lik.scale)
    elif variance == "learned":
        sigma = np.broadcast_to(gaussian_sigma(lik, np.asarray(params["raw_scale"])), mu.shape)
    else:
        sigma = gaussian_sigma(lik, raw[..., 1])
    expected = stats.norm.logpdf(x, mu, sigma).sum(axis=(-2, -1))
    with jax.enable_x64(True):
        inputs = (jnp.asarray(raw.reshape(*raw.shape[:2], -1)),)
        got = jax.jit(lik.log_prob)(as_float64(params), jnp.asarray(x), inputs)
        assert got.shape == (4, 3)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12)
        np.testing.assert_array_equal(jax.jit(lik.mean)(as_float64(params), None, inputs), mu)


@pytest.mark.parametrize("variance", ["learned", "predicted"])
def test_gaussian_scale_never_falls_below_the_floor(variance):
    """A raw scale far below zero gives exactly ``min_scale``; far above, a finite density
    (``softplus`` grows linearly, so float32 holds ``sigma ** 2``)."""
    lik, params, raw, x = gaussian_case(variance)
    for value, sigma in ((-1e4, lik.min_scale), (1e3, None)):
        if variance == "learned":
            params["raw_scale"] = jnp.full(lik.event_shape, value)
        else:
            raw[..., 1] = value
        sigma = gaussian_sigma(lik, np.asarray(value)) if sigma is None else sigma
        expected = stats.norm.logpdf(x, raw[..., 0], sigma).sum(axis=(-2, -1))
        inputs = (jnp.asarray(raw.reshape(*raw.shape[:2], -1), jnp.float32),)
        got = jax.jit(lik.log_prob)(params, jnp.asarray(x, jnp.float32), inputs)
        assert np.isfinite(np.asarray(got)).all()
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)


@pytest.mark.parametrize("variance", ["fixed", "learned", "predicted"])
def test_gaussian_gradient_is_the_closed_form(variance):
    r""":math:`\partial/\partial\mu = (x - \mu)/\sigma^2`; for a predicted scale,
    :math:`\partial/\partial r = (r_x^2/\sigma^3 - 1/\sigma)\,\sigma'(r)`, :math:`\sigma' =
    \mathrm{sigmoid}(r + r_0)`."""
    lik, params, raw, x = gaussian_case(variance, seed=1)
    with jax.enable_x64(True):
        params64, x64 = as_float64(params), jnp.asarray(x)
        total = jax.grad(lambda u: jnp.sum(lik.log_prob(params64, x64, (u,))))
        grad = jax.jit(total)(jnp.asarray(raw.reshape(*raw.shape[:2], -1)))
    grad = np.asarray(grad).reshape(raw.shape)
    mu = raw[..., 0]
    if variance == "fixed":
        sigma = lik.scale
    elif variance == "learned":
        sigma = gaussian_sigma(lik, np.asarray(params["raw_scale"]))
    else:
        sigma = gaussian_sigma(lik, raw[..., 1])
    np.testing.assert_allclose(grad[..., 0], (x - mu) / sigma**2, rtol=1e-10)
    if variance == "predicted":
        r0 = math.log(math.expm1(lik.scale - lik.min_scale))
        d_sigma = special.expit(raw[..., 1] + r0)
        expected = ((x - mu) ** 2 / sigma**3 - 1 / sigma) * d_sigma
        np.testing.assert_allclose(grad[..., 1], expected, rtol=1e-10)


def test_gaussian_samples_have_the_mean_and_scale():
    lik, params, raw, _ = gaussian_case("predicted")
    n = 20_000
    one = raw[0, 0].reshape(-1)
    draws = jax.jit(lik.sample)(
        params, jax.random.key(3, impl="rbg"), (jnp.tile(jnp.asarray(one), (n, 1)),)
    )
    assert draws.shape == (n, 2, 3)
    sigma = gaussian_sigma(lik, raw[0, 0, ..., 1])
    np.testing.assert_allclose(draws.mean(0), raw[0, 0, ..., 0], atol=4.5 * sigma.max() / n**0.5)
    np.testing.assert_allclose(draws.std(0), sigma, rtol=0.03)


def test_gaussian_rejects_bad_settings_and_data():
    with pytest.raises(ValueError, match="variance"):
        Gaussian(Shift(), (6,), (6,), "diagonal")
    with pytest.raises(ValueError, match="min_scale"):
        Gaussian(Shift(), (6,), (6,), "fixed", scale=1e-4)
    lik, params, raw, x = gaussian_case("fixed")
    inputs = (jnp.asarray(raw.reshape(*raw.shape[:2], -1), jnp.float32),)
    with pytest.raises(ValueError, match="event_shape"):
        lik.log_prob(params, jnp.zeros((3, 6)), inputs)
    short = Gaussian(Shift(), (5,), (2, 3), "fixed")  # 5 raw outputs for 6 values
    with pytest.raises(ValueError, match="output_shape"):
        short.log_prob(
            short.init(jax.random.key(0, impl="rbg")), jnp.asarray(x), (inputs[0][..., :5],)
        )
    assert Gaussian(Shift(), (6,), 6).event_shape == (6,)


# ------------------------------------------------------- dequantisation


def test_dequantized_bits_per_dim_of_the_uniform_density_is_8():
    """U[0, 1)^D is the uniform distribution over 256 levels per dimension: 8 bits each."""
    np.testing.assert_allclose(dequantized_bits_per_dim(jnp.asarray(0.0), 3072), 8.0)
    # a density twice as high everywhere (on [0, 1/2)^D) saves one bit per dimension
    np.testing.assert_allclose(dequantized_bits_per_dim(jnp.asarray(784 * math.log(2.0)), 784), 7)


def test_dequantize_stays_in_the_level_bin_for_both_encodings():
    v = np.arange(256)
    for x in (v / 256, v / 255):
        u = jax.jit(dequantize)(jax.random.key(0, impl="rbg"), jnp.tile(jnp.float32(x), (50, 1)))
        np.testing.assert_array_equal(np.floor(np.asarray(u) * 256), np.tile(v, (50, 1)))


@pytest.mark.parametrize("loc,scale", [(0.5, 0.2), (0.3, 0.01), (0.9, 0.003)])
def test_dequantized_bits_bound_the_discrete_bits(loc, scale):
    """Jensen: ``E_u log p((v + u)/256) - log 256 <= log P(v)`` with ``P`` the density's mass on
    the bin; nearly equal when the density is flat over a bin."""
    v = np.arange(0, 256, 5)
    nodes, weights = np.polynomial.legendre.leggauss(40)
    u = (nodes + 1) / 2
    expected_log_p = (stats.norm.logpdf((v[:, None] + u) / 256, loc, scale) * weights / 2).sum(1)
    upper, lower = (v + 1) / 256, v / 256
    by_cdf = stats.norm.cdf(upper, loc, scale) - stats.norm.cdf(lower, loc, scale)
    by_sf = stats.norm.sf(lower, loc, scale) - stats.norm.sf(upper, loc, scale)
    mass = np.where(lower > loc, by_sf, by_cdf)
    keep = mass > 1e-300
    bound = np.asarray(dequantized_bits_per_dim(jnp.asarray(expected_log_p[keep]), 1))
    exact = -np.log2(mass[keep])
    assert (bound >= exact - 1e-6).all()
    if scale > 0.1:
        np.testing.assert_allclose(bound, exact, atol=1e-3)


# ------------------------------------------------------- logistic mixture


def pack(logits, loc, raw_log_scale, raw_coupling) -> np.ndarray:
    """The documented per-pixel layout ``[logits | loc [M, C] | log-scale | couplings]``."""
    lead = logits.shape[:-1]
    parts = [logits, loc, raw_log_scale, raw_coupling]
    return np.concatenate([np.reshape(p, (*lead, -1)) for p in parts], axis=-1)


def random_mixture(rng, m: int, c: int, coupled: bool = True):
    logits = rng.normal(size=m)
    loc = rng.uniform(0.1, 0.9, size=(m, c))
    raw_log_scale = rng.uniform(-6.0, -1.0, size=(m, c))
    raw_log_scale[0, 0] = -9.0  # below the floor
    raw_coupling = rng.normal(size=(m, c * (c - 1) // 2)) * coupled
    return logits, loc, raw_log_scale, raw_coupling


def reference_channel_log_prob(v, loc, scale):
    """float64 logistic CDF (or survival) differences over [v/256, (v+1)/256), tails at the
    edge bins."""
    dist = stats.logistic(loc=loc, scale=scale)
    upper, lower = (v + 1) / 256, v / 256
    by_cdf = np.where(v == 255, 1.0, dist.cdf(upper)) - np.where(v == 0, 0.0, dist.cdf(lower))
    by_sf = np.where(v == 0, 1.0, dist.sf(lower)) - np.where(v == 255, 0.0, dist.sf(upper))
    with np.errstate(divide="ignore"):  # bins beyond float64's range get -inf
        return np.log(np.where(lower > loc, by_sf, by_cdf))


def reference_mixture_log_prob(v, logits, loc, raw_log_scale, raw_coupling):
    """log sum_m pi_m prod_c P(v_c; m_mc + sum_{i<c} tanh(a_mci) v_i / 256, s_mc) for pixels'
    levels ``v [n, C]``, written from the paper's formula channel by channel."""
    m, c = loc.shape
    scale = np.exp(np.maximum(raw_log_scale, MIN_LOG_SCALE))
    pairs = list(zip(*np.tril_indices(c, -1)))
    log_terms = np.tile(special.log_softmax(logits), (len(v), 1))
    for j in range(m):
        for ch in range(c):
            mu = loc[j, ch] + sum(
                np.tanh(raw_coupling[j, k]) * v[:, i] / 256
                for k, (row, i) in enumerate(pairs)
                if row == ch
            )
            log_terms[:, j] += reference_channel_log_prob(v[:, ch], mu, scale[j, ch])
    return special.logsumexp(log_terms, axis=1)


@pytest.mark.parametrize("c", [1, 3, 4])  # C = 2 normalises below
def test_mixture_log_prob_matches_a_float64_scipy_reference(c):
    rng = np.random.default_rng(c)
    m, n = 3, 40
    params = random_mixture(rng, m, c)
    v = rng.integers(0, 256, size=(n, c))
    v[:3] = [[0] * c, [255] * c, [0, 255, 128, 7][:c]]  # the edge bins
    expected = reference_mixture_log_prob(v, *params)
    pixels = LogisticMixturePixels(m, c)
    with jax.enable_x64(True):
        got64 = mixture_log_prob(pixels, jnp.asarray(pack(*params)), jnp.asarray(v / 256))
    np.testing.assert_allclose(np.asarray(got64), expected, rtol=1e-10)
    got32 = mixture_log_prob(pixels, jnp.asarray(pack(*params), jnp.float32), jnp.asarray(v / 255))
    np.testing.assert_allclose(np.asarray(got32), expected, rtol=1e-4, atol=1e-4)


def test_two_channel_mixture_sums_to_one_over_all_levels():
    rng = np.random.default_rng(5)
    params = random_mixture(rng, 3, 2)
    grid = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1)
    with jax.enable_x64(True):
        log_p = mixture_log_prob(
            LogisticMixturePixels(3, 2),
            jnp.asarray(pack(*params)),
            jnp.asarray(grid.reshape(-1, 2) / 256),
        )
        np.testing.assert_allclose(float(jnp.sum(jnp.exp(log_p))), 1.0, rtol=1e-10)


def test_summing_out_the_last_channel_leaves_the_mixture_of_the_others():
    """For C = 3, the 256 blue levels at fixed (R, G) sum to the two-channel mixture with the
    same weights, the first two channels' parameters and the G-on-R coupling: with the
    two-channel normalisation above, the three-channel mixture sums to one."""
    rng = np.random.default_rng(6)
    logits, loc, raw_log_scale, raw_coupling = random_mixture(rng, 3, 3)
    rg = rng.integers(0, 256, size=(64, 2))
    rg[:2] = [[0, 0], [255, 255]]
    rgb = np.concatenate([np.repeat(rg, 256, 0), np.tile(np.arange(256), 64)[:, None]], 1)
    two = pack(logits, loc[:, :2], raw_log_scale[:, :2], raw_coupling[:, :1])
    with jax.enable_x64(True):
        log_p3 = mixture_log_prob(
            LogisticMixturePixels(3, 3),
            jnp.asarray(pack(logits, loc, raw_log_scale, raw_coupling)),
            jnp.asarray(rgb / 256),
        )
        log_p2 = mixture_log_prob(
            LogisticMixturePixels(3, 2), jnp.asarray(two), jnp.asarray(rg / 256)
        )
    summed = special.logsumexp(np.asarray(log_p3).reshape(64, 256), axis=1)
    np.testing.assert_allclose(summed, np.asarray(log_p2), rtol=1e-10, atol=1e-12)


def test_one_uncoupled_component_is_a_discretised_logistic_per_channel():
    event, b = (4, 5, 3), 2
    lik = DiscretizedLogisticMixture(Shift(), (4 * 5 * 10,), event, num_components=1)
    assert lik.output_shape == (4, 5, 10) and lik.outputs_per_dim == 10  # 1 + 2 * 3 + 3
    rng = np.random.default_rng(7)
    loc = rng.uniform(-0.2, 1.2, size=(b, 4, 5, 1, 3))
    raw_log_scale = rng.uniform(-9.0, 0.0, size=(b, 4, 5, 1, 3))
    raw = pack(rng.normal(size=(b, 4, 5, 1)), loc, raw_log_scale, np.zeros((b, 4, 5, 1, 3)))
    x = rng.integers(0, 256, size=(b, *event)) / 256
    params = lik.init(jax.random.key(0, impl="rbg"))
    got = jax.jit(lik.log_prob)(
        params, jnp.asarray(x, jnp.float32), (jnp.asarray(raw.reshape(b, -1)),)
    )
    per_channel = jax.jit(discretized_logistic_log_prob)(
        jnp.asarray(x), loc[..., 0, :], np.maximum(raw_log_scale[..., 0, :], MIN_LOG_SCALE)
    )
    np.testing.assert_allclose(got, jnp.sum(per_channel, axis=(1, 2, 3)), rtol=1e-5)


def test_mixture_samples_follow_the_probabilities():
    """Draws of one coupled RGB pixel (two components) against the exact probabilities of the
    level triples drawn: chi-square over the triples expected 20 or more times, the rest
    pooled (its expectation is n times the remaining mass); p-value above 1e-3 at this seed."""
    rng = np.random.default_rng(8)
    logits = np.array([0.3, -0.3])
    loc = np.array([[0.3, 0.5, 0.4], [0.6, 0.2, 0.7]])
    raw_log_scale = np.full((2, 3), -5.3)
    raw_coupling = rng.uniform(-1.5, 1.5, size=(2, 3))
    out = jnp.asarray(pack(logits, loc, raw_log_scale, raw_coupling), jnp.float32)
    pixels, n = LogisticMixturePixels(2, 3), 100_000
    draws = np.asarray(mixture_sample(pixels, jax.random.key(1, impl="rbg"), jnp.tile(out, (n, 1))))
    np.testing.assert_array_equal(draws * 256, np.round(draws * 256))
    cells, counts = np.unique(np.round(draws * 256), axis=0, return_counts=True)
    with jax.enable_x64(True):
        p = np.exp(np.asarray(mixture_log_prob(pixels, jnp.asarray(out, jnp.float64), cells / 256)))
    expected = n * p
    seen = expected >= 20
    assert seen.sum() > 100
    observed = np.append(counts[seen], n - counts[seen].sum())
    expected = np.append(expected[seen], n - expected[seen].sum())
    chi2 = np.sum((observed - expected) ** 2 / expected)
    assert stats.chi2.sf(chi2, len(observed) - 1) > 1e-3


def test_mixture_mean_is_exact_without_coupling():
    """C = 1, and C = 3 without coupling: the mean is sum_v v/256 P(v) of each channel's
    marginal, from the scipy reference probabilities."""
    rng = np.random.default_rng(9)
    v = np.arange(256)
    for c in (1, 3):
        logits, loc, raw_log_scale, raw_coupling = random_mixture(rng, 4, c, coupled=False)
        scale = np.exp(np.maximum(raw_log_scale, MIN_LOG_SCALE))
        weights = special.softmax(logits)
        expected = [
            sum(
                weights[j] * np.sum(v / 256 * np.exp(reference_channel_log_prob(v, *p)))
                for j, p in enumerate(zip(loc[:, ch], scale[:, ch]))
            )
            for ch in range(c)
        ]
        with jax.enable_x64(True):
            got = mixture_mean(
                LogisticMixturePixels(4, c),
                jnp.asarray(pack(logits, loc, raw_log_scale, raw_coupling)),
            )
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-10)


def test_coupled_mean_matches_the_sample_average_away_from_the_edges():
    rng = np.random.default_rng(10)
    logits = rng.normal(size=2)
    loc = rng.uniform(0.4, 0.5, size=(2, 3))  # with |a| < 0.3, every mu stays 6 scales inside
    raw_log_scale = np.full((2, 3), -4.0)
    raw_coupling = rng.uniform(-0.3, 0.3, size=(2, 3))
    out = jnp.asarray(pack(logits, loc, raw_log_scale, raw_coupling), jnp.float32)
    pixels, n = LogisticMixturePixels(2, 3), 100_000  # the sampler compiled for the test above
    draws = np.asarray(mixture_sample(pixels, jax.random.key(2, impl="rbg"), jnp.tile(out, (n, 1))))
    standard_error = draws.std(0) / n**0.5
    np.testing.assert_allclose(
        mixture_mean(pixels, out), draws.mean(0), atol=4.5 * standard_error.max()
    )


def test_mixture_rejects_bad_settings():
    with pytest.raises(ValueError, match="num_components"):
        DiscretizedLogisticMixture(Shift(), (4,), (2, 2, 3), num_components=0)
    with pytest.raises(ValueError, match="num_components"):
        LogisticMixturePixels(0, 3)
    lik = DiscretizedLogisticMixture(Shift(), (4,), (2, 2, 3), num_components=2)
    with pytest.raises(ValueError, match="output_shape"):
        lik.log_prob(
            lik.init(jax.random.key(0, impl="rbg")), jnp.zeros((1, 2, 2, 3)), (jnp.zeros((1, 4)),)
        )


# --------------------------------------------- shapes, layouts, compilation


@pytest.mark.parametrize(
    "make",
    [
        lambda head, d: Gaussian(head, (d,), (4, 4, 3), "predicted"),
        lambda head, d: DiscretizedLogisticMixture(head, (d,), (4, 4, 3), num_components=2),
    ],
    ids=["gaussian", "mixture"],
)
def test_event_shaped_batches_give_k_by_b_and_compile_once(make):
    """x ``[B, H, W, C]`` against latents ``[K, B, d]``: log-probabilities ``[K, B]``; an MLP
    head ``[N, prod(output_shape)]`` and an image head ``[N, *output_shape]`` with the same
    weights give the same values; a second batch does not recompile."""
    chex.clear_trace_counter()
    k, b, d = 5, 3, 2
    shape = make(None, d).output_shape
    flat, image = make(Head((math.prod(shape),)), d), make(Head(shape), d)
    params = jax.jit(flat.init)(jax.random.key(0, impl="rbg"))
    rng = np.random.default_rng(11)
    z = jnp.asarray(rng.normal(size=(k, b, d)), jnp.float32)
    x = jnp.asarray(rng.integers(0, 256, size=(2, b, 4, 4, 3)) / 256, jnp.float32)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def log_prob(params, x, z):
        return flat.log_prob(params, x, (z,))

    first = log_prob(params, x[0], z)
    second = log_prob(params, x[1], z)
    assert first.shape == second.shape == (k, b)
    assert np.isfinite(np.asarray(second)).all()
    np.testing.assert_allclose(jax.jit(image.log_prob)(params, x[0], (z,)), first, rtol=1e-6)

    @jax.jit
    def sample_and_mean(params, rng_key, z):
        return flat.sample(params, rng_key, (z,)), flat.mean(params, rng_key, (z,))

    sample, mean = sample_and_mean(params, jax.random.key(1, impl="rbg"), z)
    assert sample.shape == mean.shape == (k, b, 4, 4, 3)
    if flat.data_kind == "8bit":
        np.testing.assert_array_equal(sample * 256, jnp.round(sample * 256))
        assert bool(jnp.all((mean >= 0) & (mean < 1)))
