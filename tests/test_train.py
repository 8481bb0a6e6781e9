"""Training: one compilation, the paper's schedule, resume equals an uninterrupted run,
a smoke run on real MNIST lowers the loss, the decoder's data-mean output bias."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from jvae.components.likelihoods import data_mean_logits
from jvae.models import iwae_mlp
from jvae.run import experiment
from jvae.run.config import Config
from jvae.training.train import (
    init_state,
    make_epoch,
    make_optimizer,
    make_train_step,
    paper_schedule,
)


def test_paper_schedule_stages():
    schedule = paper_schedule(steps_per_epoch=10)
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(9)) == pytest.approx(1e-3)
    assert float(schedule(10)) == pytest.approx(1e-3 * 10 ** (-1 / 7), rel=1e-6)
    assert float(schedule(39)) == pytest.approx(1e-3 * 10 ** (-1 / 7), rel=1e-6)
    assert float(schedule(40)) == pytest.approx(1e-3 * 10 ** (-2 / 7), rel=1e-6)
    assert float(schedule(130)) == pytest.approx(1e-3 * 10 ** (-3 / 7), rel=1e-6)
    # the last stage starts after 1 + 3 + ... + 3^6 = 1093 passes and lasts 3^7 = 2187.
    assert float(schedule(10929)) == pytest.approx(1e-3 * 10 ** (-6 / 7), rel=1e-6)
    assert float(schedule(10930)) == pytest.approx(1e-4, rel=1e-6)
    assert float(schedule(3280 * 10)) == pytest.approx(1e-4, rel=1e-6)


def test_step_and_epoch_compile_once(rng_key, grey_data):
    model = iwae_mlp(1)
    optimizer = make_optimizer(steps_per_epoch=5)
    traces = {"step": 0}
    step = make_train_step(model, optimizer, num_samples=3)

    def counted(*args):
        traces["step"] += 1
        return step(*args)

    jitted = jax.jit(counted)
    state = init_state(rng_key, model, optimizer)
    data = jnp.asarray(grey_data[:20])
    for i in range(3):
        state, metrics = jitted(jax.random.fold_in(rng_key, i), state, data)
    assert traces["step"] == 1
    assert int(state.step) == 3 and bool(metrics["finite"])

    epoch = jax.jit(make_epoch(step, batch_size=10))
    state = init_state(rng_key, model, optimizer)
    for _ in range(2):
        state, _ = epoch(rng_key, state, jnp.asarray(grey_data[:40]))
    assert epoch._cache_size() == 1
    assert int(state.step) == 8


def _config(**kw) -> Config:
    base = dict(batch_size=32, epochs=3, train_subset=0, test_subset=0, nll_k=20, k=2)
    return Config.from_preset("smoke", **{**base, **kw})


def test_resume_gives_identical_parameters(tmp_path, grey_data):
    arrays = {"train": grey_data[:256], "test": (grey_data[256:320] > 0.5).astype(np.float32)}
    config = _config()
    _, full = experiment.train(config, tmp_path / "full", progress=False, arrays=arrays)
    part = dataclasses.replace(config, epochs=1)
    experiment.train(part, tmp_path / "resumed", progress=False, arrays=arrays)
    # Evaluation batching may change on resume (a decoder too big for the first choice).
    rebatched = dataclasses.replace(config, eval_batch=16, nll_chunk=5)
    _, resumed = experiment.train(
        rebatched, tmp_path / "resumed", resume=True, progress=False, arrays=arrays
    )
    assert int(resumed.step) == int(full.step) == 3 * (256 // 32)
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="already holds checkpoints"):
        experiment.train(config, tmp_path / "full", progress=False, arrays=arrays)
    with pytest.raises(ValueError, match="different config"):
        experiment.train(
            dataclasses.replace(config, k=3),
            tmp_path / "full",
            resume=True,
            progress=False,
            arrays=arrays,
        )


@pytest.fixture(scope="module")
def mnist_slice():
    from jvae import data

    try:
        arrays = data.load_mnist()
    except data.DataError as err:  # no copy and no package registry
        pytest.skip(f"MNIST unavailable: {err}")
    return {"train": arrays["train"][:2000], "test": data.static_binarize(arrays["test"][:200])}


def test_smoke_training_on_real_mnist_lowers_the_loss(tmp_path, mnist_slice):
    config = _config(batch_size=100, epochs=4, k=1, model="vae")
    model, state = experiment.train(config, tmp_path, progress=False, arrays=mnist_slice)
    losses = [
        float(line.split('"loss": ')[1].split(",")[0])
        for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    assert losses[-1] < losses[0] - 20.0, losses
    result = experiment.evaluate_run(
        config, tmp_path, model, state.params, mnist_slice["test"], ks=(1, 5), progress=False
    )
    untrained = model.init(jax.random.PRNGKey(config.seed))
    from jvae.diagnostics.nll import dataset_bound

    before = dataset_bound(model, untrained, jax.random.PRNGKey(0), mnist_slice["test"], 20)
    assert result["nll"] < -np.mean(before) - 100.0
    b = result["bounds"]
    assert b["1"]["mean"] <= b["5"]["mean"] + 0.5 <= b["20"]["mean"] + 1.0
    for name in ("summary.md", "samples.png", "reconstructions.png", "eval.json"):
        assert (tmp_path / name).exists()


def test_data_mean_logits_match_a_float64_reference(grey_data):
    logits = data_mean_logits(grey_data)
    mean = np.clip(grey_data.astype(np.float64).mean(axis=0), 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(special.expit(logits.astype(np.float64)), mean, rtol=1e-5)
    with pytest.raises(ValueError, match="needs finite images"):
        data_mean_logits(np.where(grey_data > 0.5, np.nan, grey_data))


@pytest.mark.parametrize("layers", [1, 2])
def test_initial_output_bias_shifts_the_decoder_logits_and_nothing_else(rng_key, grey_data, layers):
    """The data-mean bias replaces one leaf, the last layer's bias of p(x | z1): the logits at
    any z move by exactly that bias (Flax starts biases at zero), and no other parameter."""
    model = iwae_mlp(layers)
    optimizer = make_optimizer(steps_per_epoch=5)
    bias = data_mean_logits(grey_data)
    plain = init_state(rng_key, model, optimizer)
    biased = jax.jit(lambda k, b: experiment.initial_state(k, model, optimizer, b))(rng_key, bias)
    flat_plain = dict(jax.tree_util.tree_flatten_with_path(plain.params)[0])
    flat_biased = dict(jax.tree_util.tree_flatten_with_path(biased.params)[0])
    assert flat_plain.keys() == flat_biased.keys()
    changed = [
        jax.tree_util.keystr(path)
        for path in flat_plain
        if not np.array_equal(flat_plain[path], flat_biased[path])
    ]
    assert changed == ["['decoder']['p0']['mlp']['dense_2']['bias']"]
    z = jax.random.normal(jax.random.PRNGKey(3), (3, 4, model.latent_sizes[0]))
    likelihood = model.parts.likelihood
    shift = likelihood.logits(biased.params["decoder"]["p0"], (z,)) - likelihood.logits(
        plain.params["decoder"]["p0"], (z,)
    )
    np.testing.assert_allclose(shift, np.broadcast_to(bias, shift.shape), atol=1e-5)


def test_data_mean_bias_needs_the_mlp_decoder():
    with pytest.raises(ValueError, match="--decoder-bias data_mean sets the output bias"):
        Config.from_preset("smoke", architecture="hvae", decoder_bias="data_mean")
    with pytest.raises(ValueError, match="--decoder-bias data_mean sets the output bias"):
        Config.from_preset("smoke", decoder="conv", decoder_bias="data_mean")
    with pytest.raises(ValueError, match="unknown decoder_bias"):
        Config.from_preset("smoke", decoder_bias="mean")
    conv = experiment.build_model(Config.from_preset("smoke", decoder="conv"))
    params = conv.init(jax.random.PRNGKey(0))["decoder"]["p0"]
    with pytest.raises(ValueError, match="on a BernoulliMLP decoder only"):
        conv.parts.likelihood.with_output_bias(params, np.zeros(784, np.float32))
