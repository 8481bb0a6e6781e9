"""Sweeps in one program: S models trained side by side (and resumed) end with the parameters
of S separate runs, for every option a sweep can vary and every part it can hold fixed; the
swept epoch compiles once; the command line writes one results folder per member; sweeps that
cannot be one program are refused in one line."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from jvae import cli
from jvae.run.evaluate import load_run
from jvae.run.spec import RunSpec
from jvae.run.train import SWEEP_FILE, build_model, make_step, member_specs, train
from jvae.training.sweep import make_swept_epoch, member_name, parse_sweep, stack
from jvae.training.train import init_state, make_epoch, make_optimizer

MEMBERS = [{"kl_weight": 1.0, "seed": 0}, {"kl_weight": 4.0, "seed": 1}]  # also run apart


def _base(**overrides) -> RunSpec:
    options = dict(model="vae", latent_size=5, batch_size=32, epochs=2)
    return RunSpec.from_preset("smoke", **{**options, **overrides})


@pytest.fixture(scope="module")
def arrays(grey_data):
    return {"train": grey_data[:128], "test": (grey_data[400:420] > 0.5).astype(np.float32)}


@pytest.fixture(scope="module")
def swept(tmp_path_factory, arrays):
    """The command line's sweep of 2 KL weights x 2 seeds (trained only) in one folder: one
    epoch, then resumed to two."""
    root = tmp_path_factory.mktemp("sweep")
    mp = pytest.MonkeyPatch()
    mp.setattr("jvae.data.spec.load_dataset", lambda name, data_dir=None: arrays)
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
    summary = json.loads((swept / SWEEP_FILE).read_text())
    assert summary["folders"] == [
        "kl_weight=1,seed=0",
        "kl_weight=1,seed=1",
        "kl_weight=4,seed=0",
        "kl_weight=4,seed=1",
    ]
    for values in MEMBERS:
        folder = swept / member_name(values)
        config, _, params = load_run(folder)
        assert config == _base(**values)
        (state,) = train(config, tmp_path / folder.name, progress=False, arrays=arrays).states
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
    model = build_model(config)
    optimizer = make_optimizer(4)

    def epoch_for(values):
        return make_epoch(make_step(config, model, optimizer, values), 32)

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
        member_specs(_base(**base), members)
    assert "\n" not in str(err.value)


# Every option a sweep varies (the objective's traced scalars and the seed), each with parts
# held fixed that the sweep must carry into every member: the decoder's data-mean bias, KL
# schedules, free bits, capacity, learned priors, and the estimators.
SWEPT_EQUALS_APART = {
    "beta-VAE, data-mean bias": (
        dict(decoder_bias="data_mean", kl_warmup=6),
        [{"kl_weight": 0.5}, {"kl_weight": 3.0}],
    ),
    "tempered IWAE, MoG prior, DReG": (
        dict(model="iwae", k=3, prior="mog", components=3, estimator="dreg", kl_warmup=5),
        [{"kl_weight": 1.0}, {"kl_weight": 2.0}],
    ),
    "free bits in groups": (
        dict(free_bits_groups=5, kl_cycles=2, kl_warmup=8),
        [{"free_bits": 0.1}, {"free_bits": 0.5}],
    ),
    "capacity and gamma": (
        dict(capacity_steps=6),
        [{"capacity": 2.0, "capacity_gamma": 10.0}, {"capacity": 5.0, "capacity_gamma": 30.0}],
    ),
    "seeds, VampPrior, STL": (
        dict(model="iwae", k=2, prior="vamp", components=4, estimator="stl"),
        [{"seed": 3}, {"seed": 4}],
    ),
}


@pytest.mark.parametrize("case", list(SWEPT_EQUALS_APART))
def test_a_sweep_of_two_equals_two_separate_runs(case, arrays, tmp_path):
    """The swept program (one vmapped epoch over traced values) ends where two runs of the one
    training loop end apart (Python-constant values): same params, same metrics."""
    fixed, members = SWEPT_EQUALS_APART[case]
    base = _base(epochs=1, **fixed)
    swept = train(base, tmp_path / "swept", progress=False, arrays=arrays, sweep=members)
    for values, spec, folder, state in zip(members, *swept[1:]):
        assert spec == base.replace(**values) and folder.name == member_name(values)
        apart = tmp_path / f"apart_{folder.name}"
        (alone,) = train(spec, apart, progress=False, arrays=arrays).states
        for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(alone.params)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-6)
        mine = json.loads((folder / "metrics.jsonl").read_text())
        theirs = json.loads((apart / "metrics.jsonl").read_text())
        assert mine.pop("sweep_size") == 2
        for key in ("loss", "kl_weight", "capacity", "kl"):
            if key in theirs:
                assert mine[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-6), key
    if fixed.get("decoder_bias") == "data_mean":  # the bias reached every member
        for state in swept.states:
            assert not np.allclose(state.params["decoder"]["p0"]["mlp"]["dense_2"]["bias"], 0.0)
