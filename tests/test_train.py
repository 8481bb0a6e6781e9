"""Training: one compilation, the paper's schedule, resume equals an uninterrupted run,
a smoke run on real MNIST lowers the loss, the decoder's data-mean output bias."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from jvae.components.likelihoods import data_mean_logits
from jvae.models import iwae_mlp
from jvae.run.evaluate import evaluate_run, load_run
from jvae.run.spec import RunSpec
from jvae.run.train import build_model, initial_state, train
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


def test_step_and_epoch_compile_once(rng_key, grey_rows):
    model = iwae_mlp(1)
    optimizer = make_optimizer(steps_per_epoch=5)
    traces = {"step": 0}
    step = make_train_step(model, optimizer, num_samples=3)

    def counted(*args):
        traces["step"] += 1
        return step(*args)

    jitted = jax.jit(counted)
    state = init_state(rng_key, model, optimizer)
    data = jnp.asarray(grey_rows[:20])
    for i in range(3):
        state, metrics = jitted(jax.random.fold_in(rng_key, i), state, data)
    assert traces["step"] == 1
    assert int(state.step) == 3 and bool(metrics["finite"])

    epoch = jax.jit(make_epoch(step, batch_size=10))
    state = init_state(rng_key, model, optimizer)
    for _ in range(2):
        state, _ = epoch(rng_key, state, jnp.asarray(grey_rows[:40]))
    assert epoch._cache_size() == 1
    assert int(state.step) == 8


def _config(**kw) -> RunSpec:
    base = dict(batch_size=32, epochs=3, train_subset=0, test_subset=0, nll_k=20, k=2)
    return RunSpec.from_preset("smoke", **{**base, **kw})


def test_resume_gives_identical_parameters(tmp_path, grey_data):
    arrays = {"train": grey_data[:256], "test": (grey_data[256:320] > 0.5).astype(np.float32)}
    config = _config()
    (full,) = train(config, tmp_path / "full", progress=False, arrays=arrays).states
    train(config.replace(epochs=1), tmp_path / "resumed", progress=False, arrays=arrays)
    # The evaluation's memory budget and K may change on resume.
    rebudgeted = config.replace(eval_memory_mb=64, nll_k=10)
    (resumed,) = train(
        rebudgeted, tmp_path / "resumed", resume=True, progress=False, arrays=arrays
    ).states
    assert int(resumed.step) == int(full.step) == 3 * (256 // 32)
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train(config, tmp_path / "full", progress=False, arrays=arrays)
    changed = config.replace(k=3, prior="mog", components=3)
    with pytest.raises(ValueError, match="differs from") as err:
        train(changed, tmp_path / "full", resume=True, progress=False, arrays=arrays)
    message = str(err.value)
    assert "k (saved 2, now 3)" in message and "prior (saved 'sg', now 'mog')" in message
    assert "components (saved 500, now 3)" in message and "\n" not in message


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
    model, _, _, (state,) = train(config, tmp_path, progress=False, arrays=mnist_slice)
    losses = [
        float(line.split('"loss": ')[1].split(",")[0])
        for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    assert losses[-1] < losses[0] - 20.0, losses
    result = evaluate_run(
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
    mean = np.clip(grey_data.astype(np.float64).mean(axis=0), 1e-3, 1 - 1e-3).reshape(-1)
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
    spec = RunSpec.from_preset("smoke", layers=layers, decoder_bias="data_mean")
    biased = jax.jit(lambda k, b: initial_state(k, spec, model, optimizer, b))(rng_key, bias)
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
    with pytest.raises(ValueError, match="on a BernoulliMLP decoder only, not on a Gated"):
        RunSpec.from_preset("smoke", architecture="hvae", decoder_bias="data_mean")
    with pytest.raises(ValueError, match="on a BernoulliMLP decoder only, not on a Conv"):
        RunSpec.from_preset("smoke", decoder="conv", decoder_bias="data_mean")
    with pytest.raises(ValueError, match="unknown decoder_bias"):
        RunSpec.from_preset("smoke", decoder_bias="mean")
    conv = build_model(RunSpec.from_preset("smoke", decoder="conv"))
    params = conv.init(jax.random.PRNGKey(0))["decoder"]["p0"]
    with pytest.raises(ValueError, match="on a BernoulliMLP decoder only"):
        conv.parts.likelihood.with_output_bias(params, np.zeros(784, np.float32))


# config.json as the flat Config of earlier versions wrote it (the IWAE table's paper row).
FLAT_CONFIG = {
    "adam_eps": 0.0001, "alpha": 0.5, "architecture": "iwae", "batch_size": 20, "beta": 0.5,
    "bound": "", "capacity": None, "capacity_gamma": 1000.0, "capacity_steps": 0,
    "components": 500, "dataset": "mnist", "decoder": "mlp", "decoder_bias": "data_mean",
    "epochs": 3280, "estimator": "reparam", "eval_batch": 500, "flow_steps": 2,
    "free_bits": None, "free_bits_groups": 0, "groups": 1, "k": 1, "kl_cycles": 0,
    "kl_warmup": 0, "kl_weight": None, "latent_size": 0, "layers": 1, "learning_rate": 0.001,
    "likelihood": "bernoulli", "lr_schedule": "paper", "max_nonfinite": 100, "model": "iwae",
    "nll_chunk": 100, "nll_k": 5000, "patience": 0, "pixelcnn_channels": 32,
    "posterior": "gaussian", "preset": "paper", "prior": "sg", "receptive_field": 6,
    "sample_shards": 1, "seed": 0, "test_subset": 0, "train_subset": 0, "validation": 0,
}  # fmt: skip


def test_a_results_folder_of_the_flat_config_loads_and_resumes(tmp_path, grey_data):
    """Folders written before the specs (a flat config.json) load, and resume under the
    same run given as specs: the renamed and retired fields map, a field added since takes the
    value the run had (MNIST's b / 256), nothing else differs; a resume on today's default
    MNIST (b / 255) is refused, naming the field."""
    arrays = {"train": grey_data[:80], "test": (grey_data[80:100] > 0.5).astype(np.float32)}
    spec = RunSpec.from_json(json.dumps(FLAT_CONFIG))
    today = RunSpec.from_preset(
        "paper", k=1, decoder_bias="data_mean", model="iwae", layers=1, dataset="mnist"
    )
    assert spec.differences(today) == {"mnist_scale": (256, 255)}
    small = spec.replace(epochs=1, nll_k=4)
    train(small, tmp_path, progress=False, arrays=arrays)
    (tmp_path / "config.json").write_text(json.dumps({**FLAT_CONFIG, "epochs": 1}))
    loaded, _, params = load_run(tmp_path)
    assert loaded == spec.replace(epochs=1)
    # resumed with a learning curve of the test ELBO switched on (a change resume allows)
    resumed = small.replace(epochs=2, curve_every=1)
    with pytest.raises(ValueError, match=r"differs from .* in mnist_scale \(saved 256, now 255\)"):
        train(
            resumed.replace(mnist_scale=255), tmp_path, resume=True, progress=False, arrays=arrays
        )
    (state,) = train(resumed, tmp_path, resume=True, progress=False, arrays=arrays).states
    assert int(state.step) == 2 * (80 // 20)
    assert json.loads((tmp_path / "config.json").read_text())["objective"]["k"] == 1
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert "test_elbo" not in records[0] and records[1]["test_elbo"] < 0.0


@pytest.mark.parametrize("b1", [0.9, 0.99])
def test_adam_b1_reaches_the_optimizer(b1):
    """Three steps of the spec's Adam on f(w) = sum(a w^2 / 2) against a float64 Adam written
    out (m, v from zero, bias-corrected): the IWAE code's beta1 0.99 is the one applied."""
    from jvae.training.spec import TrainSpec

    a = np.array([0.5, 2.0, -3.0])
    w = np.array([1.0, -1.0, 0.5])
    opt = TrainSpec(adam_b1=b1, lr_schedule="constant", learning_rate=0.1).optimizer(10)
    params = jnp.asarray(w, jnp.float32)
    state = opt.init(params)
    m = v = np.zeros(3)
    for t in range(1, 4):
        grad = a * w
        m, v = b1 * m + (1 - b1) * grad, 0.999 * v + 0.001 * grad**2
        w = w - 0.1 * (m / (1 - b1**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-4)
        updates, state = opt.update(jnp.asarray(a, jnp.float32) * params, state, params)
        params = params + updates
    np.testing.assert_allclose(np.asarray(params), w, rtol=1e-5)
    with pytest.raises(ValueError, match="adam_b1 must be in"):
        TrainSpec(adam_b1=1.0)
