"""Every architecture, posterior and prior the command line offers assembles into a model with
[K, B] log-weights, or is refused in one line before anything compiles."""

from __future__ import annotations

import json

import _workers
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae import cli
from jvae.models.build import POSTERIORS, PRIORS
from jvae.run import experiment
from jvae.run.evaluate import load_run
from jvae.run.spec import RunSpec
from jvae.run.train import build_model, load_arrays

# (architecture, layers): the IWAE chain with 1 or 2 layers, the HVAE ladder (its own 2 layers)
NETWORKS = [("iwae", 1), ("iwae", 2), ("hvae", 1)]
COMBINATIONS = [(*net, q, p) for net in NETWORKS for q in POSTERIORS for p in PRIORS]


@pytest.mark.parametrize("architecture,layers,posterior,prior", COMBINATIONS)
def test_every_combination_builds_or_is_refused_in_one_line(architecture, layers, posterior, prior):
    options = dict(architecture=architecture, layers=layers, posterior=posterior, prior=prior)
    chain2 = architecture == "iwae" and layers == 2
    refused = (prior.startswith("vamp") and (posterior == "iaf" or chain2)) or (
        posterior == "iaf" and chain2
    )
    if refused:
        with pytest.raises(ValueError) as err:
            RunSpec.from_preset("smoke", components=7, **options)
        assert "\n" not in str(err.value)
        return
    config = RunSpec.from_preset("smoke", components=7, flow_steps=1, **options)
    images = np.zeros((20, 28, 28, 1), np.float32)
    model = build_model(config, images)
    x = jnp.zeros((3, 28, 28, 1))
    params = jax.eval_shape(model.init, jax.random.PRNGKey(0))
    terms = jax.eval_shape(lambda p: model.log_weights(p, jax.random.PRNGKey(1), x, 4), params)
    assert [t.shape for t in terms] == [(4, 3)] * 3
    sizes = {"iwae": {1: (50,), 2: (100, 50)}, "hvae": {1: (40, 40)}}[architecture][layers]
    assert model.latent_sizes == sizes


def test_iaf_posterior_and_af_prior_train_and_evaluate_end_to_end(tmp_path, monkeypatch):
    arrays = _workers.random_arrays(n=120)
    monkeypatch.setattr("jvae.data.spec.load_dataset", lambda name, data_dir=None: arrays)
    flags = ["--posterior", "iaf", "--prior", "af", "--flow-steps", "1", "--k", "3"]
    flags += ["--estimator", "dreg", "--epochs", "1", "--batch-size", "24", "--nll-k", "4"]
    flags += ["--test-subset", "10", "--no-progress", "--workdir", str(tmp_path)]
    assert cli.main(["train", *flags]) == 0
    result = json.loads((tmp_path / "eval.json").read_text())
    assert np.isfinite(result["nll"]) and result["active_units"][0] <= 50
    _, model, params = load_run(tmp_path)
    assert set(params["encoder"]["q0"]) == {"net", "flow"} and "step_0" in params["prior"]


DECODED = [
    (*net, decoder, likelihood)
    for net in NETWORKS
    for decoder in ("conv", "pixelcnn")
    for likelihood in ("bernoulli", "logistic")
]


@pytest.mark.parametrize("architecture,layers,decoder,likelihood", DECODED)
def test_conv_and_pixelcnn_decoders_build_with_conv_encoders(
    architecture, layers, decoder, likelihood
):
    options = dict(architecture=architecture, layers=layers, decoder=decoder)
    if architecture == "iwae" and layers == 2:
        with pytest.raises(ValueError, match="applies to the 1-layer iwae and the hvae"):
            RunSpec.from_preset("smoke", likelihood=likelihood, **options)
        return
    config = RunSpec.from_preset("smoke", likelihood=likelihood, receptive_field=3, **options)
    model = build_model(config)
    params = jax.eval_shape(model.init, jax.random.PRNGKey(0))
    terms = jax.eval_shape(
        lambda p: model.log_weights(p, jax.random.PRNGKey(1), jnp.zeros((3, 28, 28, 1)), 2), params
    )
    assert [t.shape for t in terms] == [(2, 3)] * 3
    decoder_params = params["decoder"]["p_x" if architecture == "hvae" else "p0"]
    assert ("network" in decoder_params) == (decoder == "pixelcnn")
    encoder = params["encoder"]["q_z2" if architecture == "hvae" else "q0"]
    assert "conv_0" in encoder  # the conv encoder paired with the decoder
    if decoder == "pixelcnn":
        field = model.parts.likelihood.receptive_field()
        assert max(abs(col) for _, col in field) == 3 and max(-row for row, _ in field) == 3


@pytest.mark.parametrize("likelihood", ["gaussian", "logistic", "logistic-mixture"])
def test_the_iwae_mlp_decoder_serves_every_likelihood(likelihood):
    """The IWAE paper's MLP decoder with a head sized for each likelihood (1 and 2 layers, on
    colour images); the hvae's MLP decoder and the dSprites nets stay Bernoulli, refused in one
    line."""
    x = jax.random.randint(jax.random.PRNGKey(1), (3, 8, 8, 3), 0, 256) / 255.0
    for layers in (1, 2):
        spec = RunSpec.from_preset("smoke", likelihood=likelihood, layers=layers)
        model = spec.model.build((8, 8, 3))
        params = model.init(jax.random.PRNGKey(0))
        kernels = [
            leaf.shape for leaf in jax.tree.leaves(params["decoder"]["p0"]) if leaf.ndim == 2
        ]
        per_value = {"gaussian": 2, "logistic": 2, "logistic-mixture": 50 / 3}[likelihood]
        assert kernels[-1] == (
            200,
            round(8 * 8 * 3 * per_value),
        )  # 5 x (weight, 3 locations, 3 scales, 3 couplings)
        terms = model.log_weights(params, jax.random.PRNGKey(2), x, 2)
        assert [t.shape for t in terms] == [(2, 3)] * 3
        assert bool(jnp.all(jnp.isfinite(terms.log_likelihood)))
    refused = {"hvae": "needs decoder='conv'", "higgins-mlp": "use likelihood='bernoulli'"}
    for architecture, message in refused.items():
        with pytest.raises(ValueError, match=message):
            RunSpec.from_preset("smoke", likelihood=likelihood, architecture=architecture)


def test_a_gaussian_mlp_vae_trains_on_real_valued_digits(tmp_path):
    """The lecture's N(mu(z), sigma^2(z)) decoder on scikit-learn's digits (grey levels v/16,
    not binarised): the loss falls and the test bound is finite."""
    config = RunSpec.from_preset(
        "smoke", dataset="digits", likelihood="gaussian", epochs=3, batch_size=50,
        nll_k=8, test_subset=40,
    )  # fmt: skip
    data = load_arrays(config)
    assert data["train"].shape[1:] == (8, 8, 1) and len(np.unique(data["train"])) == 17
    result = experiment.train_and_evaluate(config, tmp_path, progress=False)[0]
    losses = [json.loads(line)["loss"] for line in (tmp_path / "metrics.jsonl").open()]
    assert losses[-1] < losses[0] and np.isfinite(result["nll"])


def test_logistic_pixelcnn_trains_on_grey_levels_and_reports_bits_per_dim(tmp_path, monkeypatch):
    arrays = _workers.random_arrays(n=96)
    arrays["test"] = np.floor(arrays["train"][:8] * 256) / 256  # 8-bit grey levels
    monkeypatch.setattr("jvae.data.spec.load_dataset", lambda name, data_dir=None: arrays)
    config = RunSpec.from_preset(
        "smoke", decoder="pixelcnn", likelihood="logistic", receptive_field=1,
        pixelcnn_channels=4, epochs=1, batch_size=24, nll_k=3, test_subset=8,
    )  # fmt: skip
    data = load_arrays(config)
    np.testing.assert_array_equal(data["test"], arrays["test"])  # not binarised
    result = experiment.train_and_evaluate(config, tmp_path, progress=False)[0]
    assert result["bits_per_dim"] == pytest.approx(result["nll"] / (784 * np.log(2)))
    assert np.isfinite(result["bits_per_dim"]) and result["bits_per_dim"] > 0.0


def test_evaluation_reports_bits_per_dim_for_every_8bit_likelihood(tmp_path):
    """A mixture of discretised logistics on colour patches (an MLP decoder): eval.json's
    bits/dim is its NLL per value in bits; a Gaussian density reports none."""
    config = RunSpec.from_preset(
        "smoke", dataset="photo-patches", likelihood="logistic-mixture", epochs=1,
        batch_size=40, train_subset=80, nll_k=2, test_subset=8,
    )  # fmt: skip
    result = experiment.train_and_evaluate(config, tmp_path, progress=False)[0]
    assert result["bits_per_dim"] == pytest.approx(result["nll"] / (32 * 32 * 3 * np.log(2)))
    assert np.isfinite(result["bits_per_dim"]) and result["bits_per_dim"] > 0.0
