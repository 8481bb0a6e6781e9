"""Losing nothing: killed runs resume bit-identically, checkpoints are atomic, bad data, bad
steps and bad configurations are caught with a message that says what happened."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import _workers
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae import cli
from jvae.data import spec as data_spec
from jvae.models import Model, iwae_mlp, linear_gaussian
from jvae.run import train as run_train
from jvae.run.train import train
from jvae.training.checkpoint import Checkpoints
from jvae.training.train import TrainState, init_state, make_optimizer, make_train_step


def assert_trees_equal(a, b) -> None:
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


N, EPOCHS = 9600, 2  # 400 steps per epoch: an epoch lasts far longer than the kill's latency
STEPS = N // _workers.config().train.batch_size


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, TrainState]:
    """An uninterrupted run: its folder (checkpoints at each epoch) and final state."""
    workdir = tmp_path_factory.mktemp("straight")
    arrays = _workers.random_arrays(N)
    trained = train(_workers.config(EPOCHS), workdir, progress=False, arrays=arrays)
    return workdir, trained.states[0]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_bit_identical(
    tmp_path: pathlib.Path, straight: tuple[pathlib.Path, TrainState]
) -> None:
    workdir = tmp_path / "killed"
    args = (str(tmp_path / "unused.npz"), str(workdir), "0", "1", "0", str(N), str(EPOCHS))
    proc = _workers.start("train", *args)
    first = workdir / "checkpoints" / str(STEPS)
    deadline = time.monotonic() + 240
    while not first.exists():  # orbax renames a finished checkpoint into place
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.02)
    # The metrics line comes before the checkpoint, which orbax renames into place only when
    # complete: epoch 2 has just begun, and is killed at once.
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # Killed inside epoch 2: its metrics line and checkpoint were never written.
    assert len((workdir / "metrics.jsonl").read_text().splitlines()) == 1
    assert not (workdir / "checkpoints" / str(2 * STEPS)).exists()

    (resumed,) = train(
        _workers.config(EPOCHS),
        workdir,
        resume=True,
        progress=False,
        arrays=_workers.random_arrays(N),
    ).states
    assert int(resumed.step) == EPOCHS * STEPS
    assert_trees_equal(resumed, straight[1])


def test_checkpoint_interrupted_while_saving_restores_previous(
    tmp_path: pathlib.Path, straight: tuple[pathlib.Path, TrainState]
) -> None:
    directory = tmp_path / "checkpoints"
    shutil.copytree(straight[0] / "checkpoints", directory)
    assert sorted(int(p.name) for p in directory.iterdir()) == [STEPS, 2 * STEPS]
    # What a kill while saving the next step leaves: a temporary folder with partial files.
    partial = directory / f"{3 * STEPS}.orbax-checkpoint-tmp-1700000000000000"
    shutil.copytree(directory / str(2 * STEPS), partial)
    for path in partial.rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    checkpoints = Checkpoints(directory)
    try:
        assert checkpoints.latest_step() == 2 * STEPS
        assert_trees_equal(checkpoints.restore(straight[1]), straight[1])
    finally:
        checkpoints.close()


def test_nonfinite_step_is_skipped_and_counted() -> None:
    model = linear_gaussian.model()
    optimizer = make_optimizer(10)
    step = make_train_step(model, optimizer, num_samples=3, binarize=False)
    step = jax.jit(chex.assert_max_traces(step, n=1))
    state = jax.jit(lambda k: init_state(k, model, optimizer))(jax.random.PRNGKey(0))
    state = jax.tree.map(np.asarray, state)  # linear_gaussian's log_s is weakly typed
    x = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    key = jax.random.PRNGKey(2)
    for bad in (np.nan, np.inf):
        poisoned_x = x.copy()
        poisoned_x[3, 1] = bad
        new, metrics = step(key, state, poisoned_x)
        assert not bool(metrics["finite"])
        assert int(new.step) == int(state.step) + 1
        assert int(new.skipped) == int(state.skipped) + 1
        assert_trees_equal((new.params, new.opt_state), (state.params, state.opt_state))
        state = new
    new, metrics = step(key, state, x)
    assert bool(metrics["finite"]) and int(new.skipped) == 2
    assert not np.array_equal(new.params["decoder"]["b"], state.params["decoder"]["b"])


def poisoned(model: Model) -> Model:
    """``model`` whose log-weights are NaN for an all-ones example."""

    def log_weights(params, rng_key, x, num_samples, stop_q=False):
        lw = model.log_weights(params, rng_key, x, num_samples, stop_q)
        nan = jnp.where(jnp.all(x.reshape(x.shape[0], -1) == 1.0, axis=-1), jnp.nan, 0.0)
        return lw._replace(log_likelihood=lw.log_likelihood + nan)

    return model._replace(log_weights=log_weights)


def test_too_many_nonfinite_steps_stop_with_last_good_checkpoint(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        run_train, "build_model", lambda spec, train_images=None: poisoned(iwae_mlp(1, (28, 28, 1)))
    )
    arrays = _workers.random_arrays()
    arrays["train"][7] = 1.0  # binarises to all ones: exactly one bad step per epoch
    config = _workers.config(epochs=3, max_nonfinite=1)
    with pytest.raises(run_train.TrainingDiverged) as err:
        train(config, tmp_path, progress=False, arrays=arrays)
    message = str(err.value)
    assert "2 steps had a non-finite loss or gradient (limit 1)" in message
    assert "stopped at epoch 2" in message and "checkpoint is step 10" in message
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["nonfinite"] for r in records] == [1, 1]
    checkpoints = Checkpoints(tmp_path / "checkpoints")
    try:
        assert checkpoints.latest_step() == 10
        like = jax.eval_shape(
            lambda: init_state(jax.random.PRNGKey(0), iwae_mlp(1, (28, 28, 1)), make_optimizer(10))
        )
        restored = checkpoints.restore(like)
    finally:
        checkpoints.close()
    assert int(restored.step) == 10 and int(restored.skipped) == 1
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(restored.params))


def test_cli_rejects_nonfinite_data_naming_rows(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    arrays = _workers.random_arrays(300)
    arrays["train"][[3, 17], 0, 5, 0] = [np.nan, np.inf]
    monkeypatch.setattr(data_spec, "load_dataset", lambda name, data_dir: arrays)
    code = cli.main(["train", "--workdir", str(tmp_path), "--no-progress", "--skip-eval"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0
    assert (
        "mnist train has non-finite values (NaN or inf) in 2 of 300 rows; first rows: [3, 17]"
        in err
    )
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--k", "0"], "jvae: error: k must be >= 1; got 0."),
        (["--layers", "3"], "the iwae architecture has 1 or 2 layers; got 3"),
        (["--model", "gan"], "argument --model: invalid choice: 'gan'"),
        (
            ["--bound", "miwae", "--k", "5", "--groups", "2"],
            "--k 5 must be divisible by --groups 2 for the miwae bound",
        ),
        (["--sample-shards", "3"], "--sample-shards 3 must divide --nll-k 500"),
        (
            ["--decoder-bias", "data_mean", "--decoder", "conv"],
            "use the MLP decoder or --decoder-bias zero",
        ),
    ],
)
def test_cli_rejects_bad_configuration_in_one_line(
    flags: list[str], message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture
) -> None:
    with jax.log_compiles(True):
        code = cli.main(["train", "--workdir", str(tmp_path), "--no-progress", *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert message in err[-1]
    assert not any("Compiling" in line for line in err)


def test_cli_rejects_batch_not_divisible_by_devices(tmp_path: pathlib.Path) -> None:
    """On 8 (fake) devices a batch of 12 fails in one line, before anything compiles."""
    script = "import sys; from jvae.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
        "JAX_LOG_COMPILES": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-c", script, "train", "--workdir", str(tmp_path), "--batch-size", "12"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    # Building the model traces its parts abstractly (jax.eval_shape logs "Finished tracing");
    # nothing may compile.
    lines = proc.stderr.strip().splitlines()
    assert not any("Compiling" in line for line in lines), lines
    assert [line for line in lines if "Finished tracing" not in line] == [
        "jvae: error: --batch-size 12 is not divisible by the 8 devices of the data axis; "
        "use a multiple of 8."
    ]
