"""``train_and_evaluate(config, workdir)``: a whole run with checkpoints, metrics and figures.

A results folder holds ``config.json``, ``metrics.jsonl`` (one JSON object per epoch),
``checkpoints/`` (orbax, atomic, every epoch and on Ctrl-C), ``eval.json``, ``summary.md`` and
PNG figures. Re-running with ``resume=True`` continues from the latest checkpoint and ends with
the same parameters as an uninterrupted run.

Training is data parallel over all devices of all processes (:mod:`jvae.parallel`); with several
processes each runs this same code and only process 0 writes the results folder's files.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from tqdm.auto import tqdm

from jvae import data as data_lib
from jvae import evaluate, figures, parallel
from jvae.checkpoint import Checkpoints
from jvae.config import Config
from jvae.models import Model, iwae_mlp
from jvae.train import (
    TrainState,
    init_state,
    make_epoch,
    make_optimizer,
    make_train_step,
    objective_bounds,
    paper_schedule,
)


class TrainingDiverged(RuntimeError):
    """Too many non-finite steps; the last good checkpoint is left intact."""


def build_model(config: Config) -> Model:
    return iwae_mlp(config.layers)


def load_data(config: Config, data_dir: str | None = None) -> dict[str, np.ndarray]:
    """Train (grey levels) and test (statically binarised) arrays, subsets applied, checked."""
    arrays = data_lib.load_dataset(config.dataset, data_dir)
    train, test = arrays["train"], arrays["test"]
    if config.train_subset:
        train = train[: config.train_subset]
    if config.test_subset:
        test = test[: config.test_subset]
    data_lib.check_finite(train, f"{config.dataset} train")
    data_lib.check_finite(test, f"{config.dataset} test")
    if train.shape[0] < config.batch_size:
        raise ValueError(
            f"batch_size {config.batch_size} exceeds the {train.shape[0]} training examples."
        )
    return {"train": train, "test": np.asarray(data_lib.static_binarize(test, seed=0))}


def check_devices(config: Config) -> Mesh:
    """The training mesh, after one-line checks that the batches split over the devices."""
    mesh = parallel.data_mesh()
    parallel.check_batch_size(config.batch_size, mesh)
    if config.sample_shards > 1:
        parallel.check_batch_size(
            config.eval_batch, parallel.eval_mesh(config.sample_shards), "eval_batch"
        )
    return mesh


def _is_primary() -> bool:
    return jax.process_index() == 0


def _save_config(config: Config, workdir: pathlib.Path, resume: bool) -> None:
    path = workdir / "config.json"
    if resume and path.exists():
        saved = Config.from_json(path.read_text())
        if dataclasses.replace(saved, epochs=config.epochs) != config:
            raise ValueError(
                f"--resume with a different config than the one in {path} (only --epochs may "
                "change); use the same flags or a new workdir."
            )
    if _is_primary():
        path.write_text(config.to_json())


def train(
    config: Config,
    workdir: str | pathlib.Path,
    data_dir: str | None = None,
    resume: bool = False,
    progress: bool = True,
    arrays: dict[str, np.ndarray] | None = None,
) -> tuple[Model, TrainState]:
    """Trains to ``config.epochs`` passes; returns the model and the final state.

    The state is replicated over the data mesh and each step's batch split over it; a step
    whose loss or gradient is not finite is skipped, and more than ``config.max_nonfinite``
    skipped steps raise :class:`TrainingDiverged` with the last good checkpoint kept.
    """
    mesh = check_devices(config)
    rep = parallel.replicated(mesh)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    _save_config(config, workdir, resume)
    arrays = arrays or load_data(config, data_dir)
    model = build_model(config)
    train_x = parallel.put(arrays["train"], rep)
    steps_per_epoch = train_x.shape[0] // config.batch_size
    optimizer = make_optimizer(steps_per_epoch, config.learning_rate)
    bound, encoder_bound = objective_bounds(config)
    step = make_train_step(model, optimizer, config.k, bound, config.estimator, encoder_bound)
    epoch_fn = parallel.jit_epoch(
        make_epoch(step, config.batch_size, shard_batch=parallel.constrain_batch(mesh)), mesh
    )
    key = jax.random.PRNGKey(config.seed)
    init_key, run_key = parallel.put(tuple(jax.random.split(key)), rep)
    state = jax.jit(lambda k: init_state(k, model, optimizer), out_shardings=rep)(init_key)
    checkpoints = Checkpoints(workdir / "checkpoints")
    if resume and checkpoints.latest_step() is not None:
        state = checkpoints.restore(state)
    elif not resume and checkpoints.latest_step() is not None:
        raise ValueError(
            f"{workdir} already holds checkpoints; pass --resume to continue or use a new workdir."
        )
    schedule = paper_schedule(steps_per_epoch, config.learning_rate)
    start_epoch = int(state.step) // steps_per_epoch
    bar = tqdm(
        range(start_epoch, config.epochs),
        initial=start_epoch,
        total=config.epochs,
        desc=f"{config.model} k={config.k}",
        disable=not progress,
    )
    skipped_before = int(state.skipped)
    try:
        for epoch in bar:
            t0 = time.perf_counter()
            state, metrics = epoch_fn(run_key, state, train_x)
            loss = float(metrics["loss"])
            seconds = time.perf_counter() - t0
            record = {
                "epoch": epoch + 1,
                "step": int(state.step),
                "loss": loss,
                "lr": float(schedule(int(state.step) - 1)),
                "nonfinite": int(metrics["nonfinite"]),
                "seconds": round(seconds, 3),
                "steps_per_s": round(steps_per_epoch / seconds, 2),
            }
            if _is_primary():
                with (workdir / "metrics.jsonl").open("a") as log:
                    log.write(json.dumps(record) + "\n")
            bar.set_postfix(loss=f"{loss:.2f}")
            if int(state.skipped) - skipped_before > config.max_nonfinite:
                raise TrainingDiverged(
                    f"{int(state.skipped) - skipped_before} steps had a non-finite loss or "
                    f"gradient (limit {config.max_nonfinite}); none was applied, training "
                    f"stopped at epoch {epoch + 1}. The last good checkpoint is step "
                    f"{checkpoints.latest_step()} in {checkpoints.directory}."
                )
            checkpoints.save(int(state.step), state)
    except KeyboardInterrupt:
        checkpoints.save(int(state.step), state)
        print(f"\ninterrupted: saved step {int(state.step)}; continue with --resume.")
        raise
    finally:
        checkpoints.close()
    return model, state


def evaluate_run(
    config: Config,
    workdir: str | pathlib.Path,
    model: Model,
    params: Any,
    test: np.ndarray,
    ks: tuple[int, ...] = (1, 5, 50),
    progress: bool = True,
) -> dict[str, Any]:
    """Test bounds for ``ks`` and ``config.nll_k``, NLL, active units, figures, summary.

    With ``config.sample_shards > 1`` the ``nll_k`` bound shards rows and samples over a
    ``('data', 'samples')`` mesh (:func:`parallel.sharded_dataset_bound`). With several
    processes every process evaluates (on host copies of the replicated params) and process 0
    writes the files.
    """
    workdir = pathlib.Path(workdir)
    params = jax.device_get(params)
    key = jax.random.PRNGKey(config.seed + 1)
    ks = tuple(sorted({*(k for k in ks if k < config.nll_k), config.nll_k}))
    t0 = time.perf_counter()
    table = {}
    for k in ks:
        bar = tqdm(total=len(test), desc=f"L_{k}", disable=not progress, leave=False)
        args = (jax.random.fold_in(key, k), test, k)
        if k == config.nll_k and config.sample_shards > 1:
            values = parallel.sharded_dataset_bound(
                model,
                params,
                *args,
                parallel.eval_mesh(config.sample_shards),
                config.eval_batch,
                config.nll_chunk,
                progress=bar.update,
            )
        else:
            values = evaluate.dataset_bound(
                model, params, *args, config.eval_batch, config.nll_chunk, progress=bar.update
            )
        bar.close()
        stderr = float(np.std(values) / np.sqrt(len(values)))
        table[k] = {"mean": float(np.mean(values)), "stderr": stderr}
    eval_seconds = time.perf_counter() - t0
    units = evaluate.active_units(model, params, jax.random.fold_in(key, 0), test)
    result = {
        "nll": -table[config.nll_k]["mean"],
        "nll_k": config.nll_k,
        "bounds": {str(k): v for k, v in table.items()},
        "active_units": [u["active"] for u in units],
        "unit_variances": [u["variances"].round(5).tolist() for u in units],
        "eval_seconds": round(eval_seconds, 1),
        "test_examples": int(len(test)),
    }
    if not _is_primary():
        return result
    (workdir / "eval.json").write_text(json.dumps(result, indent=2))
    figures.save_grid(
        np.asarray(model.sample(params, jax.random.fold_in(key, 1), 64)),
        workdir / "samples.png",
        8,
        f"samples ({config.model}, k={config.k})",
    )
    x = jnp.asarray(test[:32])
    recon = np.asarray(model.reconstruct(params, jax.random.fold_in(key, 2), x))
    figures.save_reconstructions(
        test[:32], recon, workdir / "reconstructions.png", "data / reconstruction"
    )
    _write_summary(config, workdir, result)
    return result


def _write_summary(config: Config, workdir: pathlib.Path, result: dict[str, Any]) -> None:
    lines = [
        f"# {config.model.upper()} k={config.k}, {config.layers} stochastic layer(s), "
        f"preset `{config.preset}`",
        "",
        f"bound `{config.objective}`, estimator `{config.estimator}`, seed {config.seed}, "
        f"{config.epochs} passes at batch {config.batch_size}.",
        "",
        f"**Test NLL (K={result['nll_k']}): {result['nll']:.2f} nats** over "
        f"{result['test_examples']} test images; active units: "
        f"{' + '.join(str(a) for a in result['active_units'])}.",
        "",
        "| K | L_K (mean) | std. error |",
        "| --- | --- | --- |",
    ]
    for k, v in result["bounds"].items():
        lines.append(f"| {k} | {v['mean']:.3f} | {v['stderr']:.3f} |")
    lines += ["", "![samples](samples.png) ![reconstructions](reconstructions.png)", ""]
    (workdir / "summary.md").write_text("\n".join(lines))


def load_run(workdir: str | pathlib.Path) -> tuple[Config, Model, Any]:
    """``(config, model, params)`` of the latest checkpoint in a results folder."""
    workdir = pathlib.Path(workdir)
    path = workdir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {workdir} a jvae results folder?")
    config = Config.from_json(path.read_text())
    model = build_model(config)
    like = jax.eval_shape(lambda: init_state(jax.random.PRNGKey(0), model, make_optimizer(1)))
    checkpoints = Checkpoints(workdir / "checkpoints")
    try:
        params = jax.device_get(checkpoints.restore(like).params)
    finally:
        checkpoints.close()
    return config, model, params


def write_table(out: pathlib.Path, header: list[str], rows: list[str]) -> str:
    """Writes ``header`` and ``rows`` as ``out/table.md``; returns the markdown."""
    table = "\n".join(header + rows) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table)
    return table


def train_and_evaluate(
    config: Config,
    workdir: str | pathlib.Path,
    data_dir: str | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Trains, then evaluates on the test set; returns the evaluation dict."""
    check_devices(config)
    arrays = load_data(config, data_dir)
    model, state = train(config, workdir, data_dir, resume, progress, arrays)
    return evaluate_run(config, workdir, model, state.params, arrays["test"], progress=progress)
