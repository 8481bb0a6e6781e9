"""The lean training step: exact byte-level binarisation, the finite guard under
``lax.cond``, ``kl_per_dim`` once at the end of an epoch, and the hand-written reference of
``benchmarks/`` computing the same bound."""

import sys
from fractions import Fraction
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jvae import bounds
from jvae.data.binarize import BYTES, bernoulli_bytes, random_bytes
from jvae.models import iwae_mlp, linear_gaussian
from jvae.objectives import analytic_kl
from jvae.training.train import (
    init_state,
    make_epoch,
    make_optimizer,
    make_train_step,
)


def exact_probability(x: float) -> Fraction:
    """P(b = 1) of :func:`bernoulli_bytes` by exact enumeration of its digit comparison:
    each level adds d_l / 256^l and goes on (with weight 256^-l) only on a tie with a rest."""
    rest, p, weight = Fraction(float(np.float32(x))), Fraction(0), Fraction(1)
    for _ in range(BYTES):
        digit = int(rest * 256)
        p += weight * Fraction(digit, 256)
        rest = rest * 256 - digit
        weight /= 256
        if rest == 0:
            break
    return p


@pytest.mark.parametrize("levels", [256, 255, 225])
def test_bernoulli_bytes_probabilities_equal_the_grey_levels(levels):
    """Exact on the 1/256 grid (MNIST's pickle, dSprites), within 256^-4 elsewhere
    (Omniglot's 1/225); jax.random.bernoulli's own error is up to 2^-23."""
    for v in range(levels + 1):
        x = np.float32(v / levels)
        error = Fraction(float(x)) - exact_probability(x)
        assert 0 <= error < Fraction(1, 256**BYTES)
        if levels == 256:
            assert error == 0


@pytest.mark.parametrize("levels", [256, 225])
def test_bernoulli_bytes_frequencies_pass_a_chi_square_test(levels):
    """Each grey level's frequency of ones over many draws matches the level (one chi-square
    over all levels, fixed key), for the one-byte path and the tie-resolving path alike."""
    values = np.arange(levels + 1, dtype=np.float32) / levels
    x = jnp.asarray(np.tile(values, (400, 1)))  # [400, levels + 1]
    draw = jax.jit(lambda k: jnp.sum(bernoulli_bytes(k, x), axis=0))
    ones = sum(np.asarray(draw(jax.random.fold_in(jax.random.key(0), i))) for i in range(25))
    n = 400 * 25
    p = values.astype(np.float64)
    inner = (p > 0) & (p < 1)
    chi2 = np.sum((ones[inner] - n * p[inner]) ** 2 / (n * p[inner] * (1 - p[inner])))
    assert stats.chi2.sf(chi2, inner.sum()) > 1e-3
    assert ones[0] == 0 and ones[-1] == n


def test_bernoulli_bytes_is_a_pure_function_of_the_key():
    x = jnp.full((7, 13), 0.3, jnp.float32)
    a = jax.jit(bernoulli_bytes)(jax.random.key(1), x)
    np.testing.assert_array_equal(a, bernoulli_bytes(jax.random.key(1), x))
    np.testing.assert_array_equal(a, bernoulli_bytes(jax.random.PRNGKey(1), x))
    assert not np.array_equal(a, bernoulli_bytes(jax.random.key(2), x))
    assert a.dtype == jnp.float32 and a.shape == (7, 13)
    rbg = bernoulli_bytes(jax.random.key(1, impl="rbg"), x)
    assert set(np.unique(rbg).tolist()) <= {0.0, 1.0}


def test_random_bytes_are_uniform():
    b = np.asarray(random_bytes(jax.random.key(0), (1001, 257))).ravel()
    counts = np.bincount(b, minlength=256)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_the_guarded_step_skips_and_counts_a_nonfinite_step_under_vmap():
    """Batched (a sweep), ``lax.cond`` becomes a select: each member keeps its own verdict."""
    model = linear_gaussian.model()
    optimizer = make_optimizer(10)
    step = make_train_step(model, optimizer, num_samples=3, binarize=False)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    states = jax.vmap(lambda k: init_state(k, model, optimizer))(keys)
    states = jax.tree.map(lambda a: jnp.asarray(a, jnp.result_type(a)), states)
    x = np.random.default_rng(0).normal(size=(2, 8, 5)).astype(np.float32)
    x[1, 3, 1] = np.nan
    new, metrics = jax.jit(jax.vmap(step, in_axes=(None, 0, 0)))(jax.random.PRNGKey(2), states, x)
    assert metrics["finite"].tolist() == [True, False]
    assert new.skipped.tolist() == [0, 1] and new.step.tolist() == [1, 1]
    for a, b in zip(jax.tree.leaves(new.opt_state), jax.tree.leaves(states.opt_state)):
        np.testing.assert_array_equal(a[1], b[1])
    for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(states.params)):
        np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(new.params["decoder"]["b"][0], states.params["decoder"]["b"][0])


def test_kl_per_dim_is_the_analytic_kl_at_the_end_of_epoch_params(grey_rows):
    """The epoch's ``kl_per_dim`` is the batch-mean closed-form KL per dimension at the final
    params, on the epoch's last batch binarised with ``fold_in(permutation key, 1)``; the step
    itself runs the encoder once (no ``kl_per_dim`` per step)."""
    model = iwae_mlp(1, latent_size=6)
    optimizer = make_optimizer(4)
    step = make_train_step(model, optimizer, 2)
    assert step.epoch_metrics is not None
    key = jax.random.PRNGKey(3)
    state = init_state(key, model, optimizer)
    data = jnp.asarray(grey_rows[:40])
    _, step_metrics = jax.jit(step)(key, state, data[:10])
    assert "kl_per_dim" not in step_metrics
    epoch = jax.jit(chex.assert_max_traces(make_epoch(step, 10), n=1))
    new, metrics = epoch(key, state, data)
    new, metrics = epoch(key, new, data)  # second epoch: epoch index 1, no retrace
    epoch_key = jax.random.fold_in(key, jnp.int32(-2))
    last = jax.random.permutation(epoch_key, 40)[30:40]
    x = bernoulli_bytes(jax.random.fold_in(epoch_key, 1), data[last])
    want = jnp.mean(analytic_kl(model)(new.params, x), axis=0)
    assert metrics["kl_per_dim"].shape == (6,)
    np.testing.assert_allclose(metrics["kl_per_dim"], want, rtol=1e-5, atol=1e-7)
    # an explicit epoch_metrics replaces the step's own
    _, none = jax.jit(make_epoch(step, 10, epoch_metrics=lambda k, s, b: {}))(key, state, data)
    assert "kl_per_dim" not in none


def test_reference_scan_computes_jvaes_iwae_loss(rng_key, grey_rows):
    """benchmarks/reference_scan.py's loss equals jvae's IWAE bound on the same params, data
    and noise: the benchmark times the same computation."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import reference_scan

    model = iwae_mlp(1)
    params = model.init(rng_key)
    x = (jnp.asarray(grey_rows[:8]) > 0.5).astype(jnp.float32)
    key = jax.random.PRNGKey(5)
    k = 4
    terms, values = model.importance_samples(params, key, x, k)
    q = model.posterior_distribution(params, x)
    eps = (values["z1"] - q.mean) / jnp.exp(q.log_scale)
    want = -jnp.mean(bounds.iwae(terms.total))
    got = reference_scan.iwae_loss(reference_scan.from_jvae(params), eps, x)
    np.testing.assert_allclose(got, want, rtol=1e-5)
