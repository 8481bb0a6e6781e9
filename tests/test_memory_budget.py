"""Evaluation within a memory budget: the plan fits XLA's bytes under the budget, its chunks
shrink as the decoder grows, and the bound does not depend on it beyond Monte Carlo."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae.diagnostics import memory, nll
from jvae.diagnostics.rate import rate_distortion
from jvae.models import iwae_mlp, linear_gaussian
from jvae.models.conv_models import conv_posterior, image_decoder

MIB = 2**20


def _compile_square(batch: int, chunk: int) -> jax.stages.Compiled:
    """A toy evaluation whose output grows like ``batch * chunk``: ``[B, C, 64]`` floats."""

    def f(x: jax.Array) -> jax.Array:
        return jnp.tanh(x[:, None, :] * jnp.arange(chunk, dtype=x.dtype)[None, :, None])

    return jax.jit(f).lower(jax.ShapeDtypeStruct((batch, 64), jnp.float32)).compile()


@pytest.mark.parametrize("budget", [MIB, 4 * MIB])
def test_plan_fits_the_budget_and_fills_it(budget):
    plan, compiled = memory.plan_evaluation(_compile_square, 1000, 5000, budget)
    assert plan.bytes == memory.compiled_bytes(compiled) <= budget
    # the next larger shape would not fit: at least a third of the budget is used
    assert plan.bytes > budget / 3
    assert plan == memory.plan_evaluation(_compile_square, 1000, 5000, budget)[0]


def test_pins_are_kept_and_both_pinned_skip_planning():
    plan, _ = memory.plan_evaluation(_compile_square, 1000, 5000, MIB, batch_size=3)
    assert plan.batch_size == 3 and plan.bytes <= MIB
    plan, _ = memory.plan_evaluation(_compile_square, 1000, 5000, MIB, chunk_size=7)
    assert plan.chunk_size == 7 and plan.bytes <= MIB
    plan, _ = memory.plan_evaluation(_compile_square, 10, 5000, 1, batch_size=50, chunk_size=9)
    assert (plan.batch_size, plan.chunk_size) == (10, 9)  # clipped to N; no budget check


def test_a_budget_below_one_draw_is_refused():
    with pytest.raises(ValueError, match="raise memory_bytes"):
        memory.plan_evaluation(_compile_square, 1000, 5000, 1000)
    with pytest.raises(ValueError, match="memory_bytes must be >= 1"):
        memory.plan_evaluation(_compile_square, 1000, 5000, 0)


def test_default_budget_is_two_gib_or_a_quarter_of_memory():
    assert 0 < memory.default_memory_bytes() <= memory.DEFAULT_MEMORY_BYTES


def _image_model(decoder: str):
    if decoder == "mlp":
        return iwae_mlp(1, (28, 28, 1))
    likelihood = image_decoder(decoder, "bernoulli", (50,), (28, 28, 1))  # radius 6, 32 channels
    return iwae_mlp(1, (28, 28, 1), None, None, conv_posterior(50, (28, 28, 1)), likelihood)


def test_chunks_shrink_as_the_decoder_grows():
    """One budget, K=5000: the MLP decoder runs the most draws at once, the conv fewer, the
    PixelCNN fewest; every plan stays under the budget by XLA's own count."""
    budget = 48 * MIB
    x = (np.random.default_rng(0).random((16, 28, 28, 1)) < 0.3).astype(np.float32)
    draws = {}
    for decoder in ("mlp", "conv", "pixelcnn"):
        model = _image_model(decoder)
        params = model.init(jax.random.PRNGKey(0))
        plan, _ = nll.plan_dataset_bound(model, params, jax.random.PRNGKey(1), x, 5000, budget)
        assert plan.bytes <= budget, (decoder, plan)
        draws[decoder] = plan.batch_size * plan.chunk_size
    assert draws["mlp"] > draws["conv"] > draws["pixelcnn"] >= 1, draws


def test_bound_is_exact_whatever_the_plan(rng_key):
    """With q the exact posterior every log-weight is log p(x): L_K = log p(x) for any plan."""
    model = linear_gaussian.model(data_dim=4, latent=2)
    params = model.init(rng_key)
    x = np.asarray(linear_gaussian.sample_data(jax.random.PRNGKey(1), params, 23))
    exact = np.asarray(linear_gaussian.exact_log_marginal(params, x))
    plans = set()
    for budget in (3000, 8000, 64 * MIB):
        plan, _ = nll.plan_dataset_bound(model, params, rng_key, x, 50, budget)
        plans.add(plan[:2])
        got = nll.dataset_bound(model, params, rng_key, x, 50, memory_bytes=budget)
        np.testing.assert_allclose(got, exact, atol=3e-4)
    assert len(plans) == 3, plans  # three budgets, three different plans


def test_bound_depends_on_the_plan_only_by_monte_carlo():
    """A worse q: two plans give per-example differences of mean zero."""
    model = linear_gaussian.model(data_dim=4, latent=2)
    exact = model.init(jax.random.PRNGKey(0))
    worse = {**exact, "encoder": {**exact["encoder"], "c": exact["encoder"]["c"] + 0.7}}
    x = np.asarray(linear_gaussian.sample_data(jax.random.PRNGKey(1), exact, 200))
    small = nll.dataset_bound(model, worse, jax.random.PRNGKey(2), x, 64, memory_bytes=40_000)
    large = nll.dataset_bound(model, worse, jax.random.PRNGKey(3), x, 64, memory_bytes=64 * MIB)
    diff = small - large
    assert abs(np.mean(diff)) < 4 * np.std(diff, ddof=1) / np.sqrt(len(diff))
    gap = np.mean(np.asarray(linear_gaussian.exact_log_marginal(worse, x)) - large)
    assert gap > 0.01


def test_rate_distortion_is_planned_within_the_budget():
    model = linear_gaussian.model(data_dim=4, latent=2)
    params = model.init(jax.random.PRNGKey(0))
    x = np.asarray(linear_gaussian.sample_data(jax.random.PRNGKey(1), params, 23))
    a = rate_distortion(model, params, jax.random.PRNGKey(2), x, 20, memory_bytes=40_000)
    b = rate_distortion(model, params, jax.random.PRNGKey(2), x, 20, batch_size=23)
    assert a["rate"].shape == (23,)
    np.testing.assert_allclose(a["rate"].mean(), b["rate"].mean(), rtol=0.1)
