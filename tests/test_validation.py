"""KL warm-up, the validation split, early stopping with the best epoch kept, and the flags of
the composable models through the command line."""

from __future__ import annotations

import json
import re

import _workers
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae import bounds, cli
from jvae.data.binarize import bernoulli_bytes
from jvae.models import iwae_mlp
from jvae.objectives import linear_kl_warmup
from jvae.run import train as run_train
from jvae.run.evaluate import load_run
from jvae.run.spec import RunSpec
from jvae.run.train import load_arrays
from jvae.run.validation import Validation
from jvae.training.train import init_state, make_optimizer, make_train_step


def test_train_step_weights_the_kl_by_the_warmup_schedule(grey_rows):
    model = iwae_mlp(1)
    optimizer = make_optimizer(10)
    step = jax.jit(make_train_step(model, optimizer, 3, kl_schedule=linear_kl_warmup(4)))
    state = init_state(jax.random.PRNGKey(0), model, optimizer)
    data = jnp.asarray(grey_rows[:6])
    for i, beta in enumerate((0.0, 0.25, 0.5)):
        key = jax.random.PRNGKey(10 + i)
        key_bin, key_z = jax.random.split(key)
        x = bernoulli_bytes(key_bin, data)  # the step's dynamic binarisation
        t = model.log_weights(state.params, key_z, x, 3)
        want = -jnp.mean(bounds.iwae(t.log_likelihood + beta * (t.log_prior - t.log_posterior)))
        state, metrics = step(key, state, data)
        assert float(metrics["kl_weight"]) == beta
        np.testing.assert_allclose(metrics["loss"], want, rtol=1e-5)


@pytest.fixture
def random_mnist(monkeypatch):
    arrays = _workers.random_arrays(n=240)
    monkeypatch.setattr("jvae.data.spec.load_dataset", lambda name, data_dir=None: arrays)
    return arrays


def test_validation_split_early_stopping_and_the_best_epoch(tmp_path, random_mnist, monkeypatch):
    scripted = iter([-100.0, -90.0, -95.0, -96.0, -97.0, -98.0])
    monkeypatch.setattr(Validation, "elbo", lambda self, params: next(scripted))
    config = _workers.config(epochs=6, validation=48, patience=2, kl_warmup=10)
    arrays = load_arrays(config)
    assert arrays["train"].shape == (192, 28, 28, 1) and arrays["valid"].shape == (48, 28, 28, 1)
    np.testing.assert_array_equal(np.unique(arrays["valid"]), [0.0, 1.0])  # binarised once
    (state,) = run_train.train(config, tmp_path, progress=False, arrays=arrays).states
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["valid_elbo"] for r in records] == [-100.0, -90.0, -95.0, -96.0]  # stopped at 4
    assert [r["kl_weight"] for r in records] == pytest.approx([0.7, 1, 1, 1])  # 8 steps an epoch
    assert json.loads((tmp_path / "early_stopping.json").read_text()) == {
        "best_epoch": 2,
        "best_elbo": -90.0,
        "stopped_at": 4,
    }
    assert int(state.step) == 2 * 8  # the best epoch's state is returned ...
    _, _, params = load_run(tmp_path)  # ... and loaded
    assert _workers.rel_err(params, state.params) == 0.0
    (again,) = run_train.train(config, tmp_path, resume=True, progress=False, arrays=arrays).states
    assert int(again.step) == 16  # a stopped run stays stopped
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 4


def test_hvae_with_vampprior_trains_and_writes_pseudo_inputs(tmp_path, random_mnist):
    flags = ["--architecture", "hvae", "--prior", "vamp", "--components", "16"]
    flags += ["--epochs", "1", "--batch-size", "24", "--validation", "48", "--kl-warmup", "5"]
    flags += ["--nll-k", "4", "--test-subset", "20", "--no-progress", "--workdir", str(tmp_path)]
    assert cli.main(["train", *flags]) == 0
    config = RunSpec.from_json((tmp_path / "config.json").read_text())
    train = config.train  # the paper's Adam
    assert (train.learning_rate, train.lr_schedule) == (5e-4, "constant")
    for name in ("pseudo_inputs.png", "samples.png", "summary.md", "eval.json", "best"):
        assert (tmp_path / name).exists(), name
    result = json.loads((tmp_path / "eval.json").read_text())
    assert len(result["active_units"]) == 2 and np.isfinite(result["nll"])


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--prior", "vamp-data", "--components", "300"], "needs components <= the 240 training"),
        (["--prior", "mog", "--components", "0"], "components must be >= 1"),
        (["--prior", "vamp", "--layers", "2"], "use --layers 1 or --architecture hvae"),
        (["--patience", "3"], "patience .* needs validation"),
        (["--latent-size", "2", "--layers", "2"], "--latent-size applies to the 1-layer"),
        (["--validation", "240"], "leaves no training examples"),
    ],
)
def test_bad_model_flags_are_one_line_errors(tmp_path, random_mnist, capsys, flags, message):
    code = cli.main(["train", "--workdir", str(tmp_path), "--no-progress", *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("jvae: error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "checkpoints").exists()  # refused before anything compiled


def test_unknown_prior_is_refused_by_the_parser(tmp_path, capsys):
    assert cli.main(["train", "--workdir", str(tmp_path), "--prior", "gmm"]) == 2
    assert "invalid choice: 'gmm'" in capsys.readouterr().err
