"""Sweeps in one program: S models trained side by side (and resumed) end with the parameters
of S separate runs; the swept epoch compiles once; the command line writes one results folder
per member; sweeps that cannot be one program are refused in one line."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from jvae import cli
from jvae.run import experiment, sweep
from jvae.run.config import Config
from jvae.run.objective import make_step
from jvae.training.sweep import make_swept_epoch, member_name, parse_sweep, stack
from jvae.training.train import init_state, make_epoch, make_optimizer

MEMBERS = [{"kl_weight": 1.0, "seed": 0}, {"kl_weight": 4.0, "seed": 1}]  # also run apart


def _base(**overrides) -> Config:
    options = dict(model="vae", latent_size=5, batch_size=32, epochs=2)
    return Config.from_preset("smoke", **{**options, **overrides})


@pytest.fixture(scope="module")
def arrays(grey_data):
    return {"train": grey_data[:128], "test": (grey_data[400:420] > 0.5).astype(np.float32)}


@pytest.fixture(scope="module")
def swept(tmp_path_factory, arrays):
    """The command line's sweep of 2 KL weights x 2 seeds (trained only) in one folder: one
    epoch, then resumed to two."""
    root = tmp_path_factory.mktemp("sweep")
    mp = pytest.MonkeyPatch()
    mp.setattr(experiment.data_lib, "load_dataset", lambda name, data_dir=None: arrays)
    flags = ["--model", "vae", "--latent-size", "5", "--batch-size", "32"]
    flags += ["--sweep", "kl-weight=1,4", "--sweep", "seed=0,1"]
    flags += ["--skip-eval", "--no-progress", "--workdir", str(root)]
    try:
        assert cli.main(["train", *flags, "--epochs", "1"]) == 0
        assert cli.main(["train", *flags, "--epochs", "1"]) == 2  # refused: checkpoints exist
        assert cli.main(["train", *flags, "--epochs", "2", "--resume"]) == 0
    finally:
        mp.undo()
    return root


def test_parse_sweep_rejects_what_is_not_a_scalar_grid():
    assert parse_sweep(["capacity=5,10"]) == [{"capacity": 5.0}, {"capacity": 10.0}]
    for specs, match in (
        (["learning-rate=1,2"], "expected NAME=V1,V2"),
        (["seed=1,x"], "must be numbers"),
        (["seed=1,1"], "distinct values"),
        (["seed=1", "seed=2"], "twice"),
        ([], "at least one"),
    ):
        with pytest.raises(ValueError, match=match) as err:
            parse_sweep(specs)
        assert "\n" not in str(err.value)


def test_a_resumed_swept_run_equals_separate_runs(swept, arrays, tmp_path):
    summary = json.loads((swept / sweep.SWEEP_FILE).read_text())
    assert summary["folders"] == [
        "kl_weight=1,seed=0",
        "kl_weight=1,seed=1",
        "kl_weight=4,seed=0",
        "kl_weight=4,seed=1",
    ]
    for values in MEMBERS:
        folder = swept / member_name(values)
        config, _, params = experiment.load_run(folder)
        assert config == _base(**values)
        _, state = experiment.train(config, tmp_path / folder.name, progress=False, arrays=arrays)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(jax.device_get(state.params))):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
        mine = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        apart = (tmp_path / folder.name / "metrics.jsonl").read_text().splitlines()
        for m, a in zip(mine, map(json.loads, apart)):
            assert m["sweep_size"] == 4 and m["kl_weight"] == a["kl_weight"] == values["kl_weight"]
            assert m["loss"] == pytest.approx(a["loss"], rel=1e-5)
            np.testing.assert_allclose(m["kl_per_dim"], a["kl_per_dim"], rtol=1e-3, atol=1e-4)


def test_the_swept_epoch_compiles_once(grey_data):
    config = _base(capacity=5.0, capacity_steps=8)
    model = experiment.build_model(config)
    optimizer = make_optimizer(4)

    def epoch_for(values):
        step = make_step(config, model, optimizer, experiment.objective_bounds(config), values)
        return make_epoch(step, 32)

    epoch = jax.jit(make_swept_epoch(epoch_for))
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    states = stack([init_state(k, model, optimizer) for k in keys])
    values = {"capacity": np.array([5.0, 10.0], np.float32)}
    for _ in range(2):
        states, metrics = epoch(values, keys, states, grey_data[:128])
    assert epoch._cache_size() == 1
    assert metrics["capacity"].shape == (2,) and metrics["kl_per_dim"].shape == (2, 5)
    np.testing.assert_allclose(metrics["capacity"], [3.4375, 6.875])  # mean C, steps 4..7


@pytest.mark.parametrize(
    "base,members,match",
    [
        (dict(validation=32), [{"seed": 0}], "without a validation split"),
        (dict(prior="vamp-data", components=4), [{"seed": 0}, {"seed": 1}], "pseudo-inputs"),
        (dict(), [{"seed": 0}, {"kl_weight": 2.0}], "the same fields"),
        (dict(), [{"lr": 0.1}], "the same fields"),
    ],
)
def test_sweeps_that_are_not_one_program_are_refused(base, members, match):
    with pytest.raises(ValueError, match=match) as err:
        sweep.member_configs(_base(**base), members)
    assert "\n" not in str(err.value)
