"""The training loop of a run, and of a sweep of runs trained side by side as one program.

A results folder holds ``config.json`` (the :class:`~jvae.run.spec.RunSpec`), ``metrics.jsonl``
(one JSON object per epoch), ``checkpoints/`` (orbax, atomic, every epoch and on Ctrl-C;
``best/`` the best epoch by validation ELBO when a validation split is configured). Re-running
with ``resume=True`` continues from the latest checkpoint and ends with the same parameters as
an uninterrupted run.

One loop trains both a single run and a sweep: a single run is data parallel over all devices
of all processes (:mod:`jvae.training.parallel`; only process 0 writes files), a sweep of S
members that differ in traced scalars (:data:`SWEEPABLE`) is one jitted ``vmap`` of the epoch
on one device (:mod:`jvae.training.sweep`), each member written to ``workdir/<member name>/``
with the same files as a single run, and ``workdir/sweep.json`` listing them. Everything else
(the data, the model, each member's initial state, checkpoints, records, the guards) is the
same code for both.
"""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jvae import compiler
from jvae import data as data_lib
from jvae.diagnostics import nll
from jvae.models.model import Model
from jvae.objectives import KLReweighting
from jvae.run.epoch_log import EpochLog
from jvae.run.spec import RunSpec
from jvae.run.validation import Validation
from jvae.training import parallel
from jvae.training.checkpoint import Checkpoints
from jvae.training.sweep import SWEEPABLE, make_swept_epoch, member_name, stack, unstack
from jvae.training.train import (
    TrainState,
    learning_rate_schedule,
    make_epoch,
    make_train_step,
)

SWEEP_FILE = "sweep.json"
#: Fields a resumed run may change: how long it trains and how it is evaluated.
RESUME_MAY_CHANGE = ("epochs", "nll_k", "eval_memory_mb", "sample_shards", "curve_every")


class TrainingDiverged(RuntimeError):
    """Too many non-finite steps; the last good checkpoint is left intact."""


class Trained(NamedTuple):
    """What :func:`train` returns: the (shared) model, each member's spec, results folder and
    final state (host copies; the best by validation ELBO where a validation split is set)."""

    model: Model
    specs: list[RunSpec]
    folders: list[pathlib.Path]
    states: list[TrainState]


def load_arrays(
    spec: RunSpec, data_dir: str | None = None, arrays: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """The run's arrays ``[N, *event_shape]``: training values (binarised afresh in every step
    for a binary likelihood), and test and validation examples as evaluated (statically
    binarised for a binary likelihood, with seeds 0 and 1). ``arrays`` (``{'train', 'test'[,
    'valid']}``) replace the spec's dataset; either way they are checked against the likelihood
    (:func:`jvae.data.check_arrays`) and the event shape before anything compiles."""
    if arrays is None:
        arrays = spec.data.load(data_dir)
    arrays = data_lib.check_arrays(arrays, spec.model.data_kind, name=spec.data.dataset)
    shape = tuple(arrays["train"].shape[1:])
    if shape != tuple(spec.data.event_shape):
        raise ValueError(
            f"the arrays hold examples of shape {shape}, but {spec.data.dataset!r} has event "
            f"shape {tuple(spec.data.event_shape)}: pass arrays of that shape, or save yours with "
            "numpy.savez and use dataset='npz:PATH'."
        )
    if len(arrays["train"]) < spec.train.batch_size:
        raise ValueError(
            f"batch_size {spec.train.batch_size} exceeds the {len(arrays['train'])} training "
            "examples."
        )
    seeds = {"test": 0, "valid": 1}
    return {
        name: x if name == "train" else evaluation_images(spec, x, seeds[name])
        for name, x in arrays.items()
    }


def evaluation_images(spec: RunSpec, images: np.ndarray, seed: int) -> np.ndarray:
    """Images as a model is evaluated on them: statically binarised with ``seed`` for a
    binary likelihood (a Bernoulli), the values themselves for any other."""
    if spec.model.data_kind != "binary":
        return np.asarray(images, np.float32)
    return np.asarray(data_lib.static_binarize(images, seed=seed))


def build_model(spec: RunSpec, train_images: np.ndarray | None = None) -> Model:
    """The spec's model for its dataset (``train_images``: a VampPrior "data"'s inputs)."""
    return spec.model.build(spec.data.event_shape, train_images, spec.seed)


def make_step(
    spec: RunSpec,
    model: Model,
    optimizer: Any,
    values: dict[str, jax.Array] | None = None,
) -> Callable[[jax.Array, TrainState, jax.Array], tuple[TrainState, dict]]:
    """The spec's train step (:func:`jvae.training.train.make_train_step`): its KL reweighting,
    or its bound with its estimator and KL schedule; ``values`` are a sweep's traced scalars."""
    objective = spec.objective
    kl_schedule, reweighting = objective.kl_choices(values)
    bound, encoder_bound = objective.bounds()
    return make_train_step(
        model,
        optimizer,
        objective.k,
        bound,
        objective.estimator if reweighting is None else "reparam",
        encoder_bound,
        binarize=model.data_kind == "binary",  # 8-bit and real data stay as they are
        kl_schedule=kl_schedule,
        reweighting=reweighting,
    )


def check_devices(spec: RunSpec, sweep: list[dict[str, Any]] | None = None) -> None:
    """One-line checks, before any data is read, that a single run's batches split over the
    devices (a sweep runs on one) and the test NLL's samples over its sample shards."""
    if sweep is None:
        parallel.check_batch_size(spec.train.batch_size, parallel.data_mesh())
    if spec.eval.sample_shards > 1:
        parallel.eval_mesh(spec.eval.sample_shards)


def member_specs(base: RunSpec, members: list[dict[str, Any]]) -> list[RunSpec]:
    """The spec of each member of a sweep (``base`` with the member's values), checked:
    one-line ``ValueError`` for a sweep that cannot be one program."""
    if len(members) < 1:
        raise ValueError("a sweep needs at least one member.")
    names = set().union(*members)
    if not names <= set(SWEEPABLE) or any(set(m) != names for m in members):
        raise ValueError(f"every sweep member must set the same fields among {SWEEPABLE}.")
    if base.data.validation or base.train.patience:
        raise ValueError(
            "a sweep trains without a validation split (validation, patience): the members "
            "would stop at different epochs."
        )
    if "seed" in names and base.model.prior == "vamp-data":
        raise ValueError(
            "a sweep over seed with prior='vamp-data' would give each member other "
            "pseudo-inputs (a different model): sweep the seed of another prior, or run the "
            "seeds apart."
        )
    specs = [base.replace(**values) for values in members]
    kinds = {
        (s.objective.reweights_kl, s.objective.free_bits is None, s.objective.capacity is None)
        for s in specs
    }
    if len(kinds) > 1:
        raise ValueError("the sweep's members would train different objectives; sweep values only.")
    return specs


def initial_state(
    rng_key: jax.Array, spec: RunSpec, model: Model, optimizer: Any, output_bias: Any
) -> TrainState:
    """Step 0: :meth:`~jvae.models.spec.ModelSpec.init` (with the spec's output bias) and the
    optimiser's state."""
    params = spec.model.init(rng_key, model, output_bias)
    return TrainState(
        jnp.zeros((), jnp.int32), params, optimizer.init(params), jnp.zeros((), jnp.int32)
    )


def _is_primary() -> bool:
    return jax.process_index() == 0


def save_spec(spec: RunSpec, workdir: pathlib.Path, resume: bool) -> None:
    """Writes ``workdir/config.json``; on resume, first refuses a spec that differs from the
    saved one in more than :data:`RESUME_MAY_CHANGE`, naming the fields that differ."""
    path = workdir / "config.json"
    if resume and path.exists():
        saved = RunSpec.from_json(path.read_text())
        changed = {k: v for k, v in spec.differences(saved).items() if k not in RESUME_MAY_CHANGE}
        if changed:
            listed = ", ".join(
                f"{k} (saved {old!r}, now {new!r})" for k, (new, old) in changed.items()
            )
            raise ValueError(
                f"resume with a run that differs from {path} in {listed}; only "
                f"{', '.join(RESUME_MAY_CHANGE)} may change: use the saved values or a new "
                "workdir."
            )
    if _is_primary():
        path.write_text(spec.to_json())


class _Program(NamedTuple):
    """How the loop advances its members one epoch: ``run(states) -> (states, metrics)`` with
    a leading member axis on every metric, ``members(states)`` the host state of each."""

    states: Any
    run: Callable[[Any], tuple[Any, dict]]
    members: Callable[[Any], list[TrainState]]


def _single_program(
    spec: RunSpec, model: Model, optimizer: Any, train: np.ndarray, state: TrainState, key: Any
) -> _Program:
    """One run, data parallel over every device."""
    mesh = parallel.data_mesh()
    rep = parallel.replicated(mesh)
    step = make_step(spec, model, optimizer)
    epoch = parallel.jit_epoch(
        make_epoch(step, spec.train.batch_size, shard_batch=parallel.constrain_batch(mesh)), mesh
    )
    data, run_key = parallel.put(train, rep), parallel.put(key, rep)

    def run(state: TrainState) -> tuple[TrainState, dict]:
        state, metrics = epoch(run_key, state, data)
        return state, jax.tree.map(lambda m: np.asarray(m)[None], jax.device_get(metrics))

    return _Program(parallel.put(state, rep), run, lambda s: [s])


def _swept_program(
    specs: list[RunSpec],
    members: list[dict[str, Any]],
    model: Model,
    optimizer: Any,
    train: np.ndarray,
    states: list[TrainState],
    keys: list[Any],
) -> _Program:
    """S members as one vmapped program on one device."""
    swept = [name for name in members[0] if name != "seed"]
    values = {name: jnp.asarray([m[name] for m in members], jnp.float32) for name in swept}

    def epoch_for(member_values: dict[str, jax.Array]):
        return make_epoch(make_step(specs[0], model, optimizer, member_values),
                          specs[0].train.batch_size)  # fmt: skip

    epoch = compiler.jit(make_swept_epoch(epoch_for), donate_argnums=(2,))
    data, run_keys = jnp.asarray(train), jnp.stack(keys)

    def run(stacked: TrainState) -> tuple[TrainState, dict]:
        stacked, metrics = epoch(values, run_keys, stacked, data)
        return stacked, jax.device_get(metrics)

    return _Program(stack(states), run, lambda s: unstack(s, len(specs)))


def train(
    spec: RunSpec,
    workdir: str | pathlib.Path,
    data_dir: str | None = None,
    resume: bool = False,
    progress: bool = True,
    arrays: dict[str, np.ndarray] | None = None,
    sweep: list[dict[str, Any]] | None = None,
) -> Trained:
    """Trains to ``spec.train.epochs`` passes (or until early stopping).

    Args:
      spec: the run (for a sweep, its base).
      workdir: the results folder (a sweep's members go to ``workdir/<member name>``).
      data_dir: where the dataset files are (default: :func:`jvae.data.data_dir`).
      resume: continue from the latest checkpoints instead of refusing a folder that has
        them.
      progress: a progress bar on a terminal, else a line per epoch at most every minute.
      arrays: ``{'train', 'test'[, 'valid']}`` in place of the spec's dataset, checked and
        prepared by :func:`load_arrays` (binarising binary data again is harmless).
      sweep: the members' values (:func:`jvae.training.sweep.parse_sweep`); ``None``: one run.

    A step whose loss or gradient is not finite is skipped, and more than
    ``spec.train.max_nonfinite`` skipped steps in a member raise :class:`TrainingDiverged`
    with the last good checkpoints kept.
    """
    workdir = pathlib.Path(workdir)
    specs = [spec] if sweep is None else member_specs(spec, sweep)
    folders = [workdir] if sweep is None else [workdir / member_name(m) for m in sweep]
    check_devices(spec, sweep)
    workdir.mkdir(parents=True, exist_ok=True)
    if sweep is not None and _is_primary():
        listing = {"base": json.loads(spec.to_json()), "members": sweep}
        (workdir / SWEEP_FILE).write_text(
            json.dumps(listing | {"folders": [f.name for f in folders]}, indent=2)
        )
    for member, folder in zip(specs, folders):
        folder.mkdir(parents=True, exist_ok=True)
        save_spec(member, folder, resume)
    arrays = load_arrays(spec, data_dir, arrays)
    model = build_model(spec, arrays["train"])
    steps_per_epoch = arrays["train"].shape[0] // spec.train.batch_size
    optimizer = spec.train.optimizer(steps_per_epoch)
    bias = spec.model.output_bias(arrays["train"])
    init = jax.jit(lambda k, b, s=spec: initial_state(k, s, model, optimizer, b))
    keys = [jax.random.split(jax.random.PRNGKey(s.seed)) for s in specs]
    states = [init(init_key, bias) for init_key, _ in keys]
    checkpoints = [Checkpoints(folder / "checkpoints") for folder in folders]
    saved = [c.latest_step() for c in checkpoints]
    if any(s is not None for s in saved):
        if not resume:
            raise ValueError(
                f"{workdir} already holds checkpoints; pass resume=True to continue or use a new "
                "workdir."
            )
        if len(set(saved)) != 1:
            raise ValueError(
                f"the members' checkpoints are at different steps {saved}; resume them apart."
            )
        states = [c.restore(s) for c, s in zip(checkpoints, states)]
    if sweep is None:
        program = _single_program(spec, model, optimizer, arrays["train"], states[0], keys[0][1])
    else:
        program = _swept_program(specs, sweep, model, optimizer, arrays["train"], states,
                                 [k[1] for k in keys])  # fmt: skip
    validation = None
    if "valid" in arrays and sweep is None:
        validation = Validation(model, spec, workdir, arrays["valid"])
    schedule = learning_rate_schedule(
        steps_per_epoch, spec.train.learning_rate, spec.train.lr_schedule
    )
    choices = [s.objective.kl_choices() for s in specs]
    start = int(states[0].step) // steps_per_epoch
    if validation is not None and validation.stopped:
        start = spec.train.epochs  # an early-stopped run is finished
    log = EpochLog(spec, len(specs), start, progress)
    curve_key = jax.random.PRNGKey(spec.seed + 3)
    skipped_before = np.asarray([int(s.skipped) for s in states])
    current = program.states
    try:
        for epoch in range(start, spec.train.epochs):
            t0 = time.perf_counter()
            current, metrics = program.run(current)
            seconds = time.perf_counter() - t0
            members = program.members(current)
            step = int(members[0].step)
            stop = False
            for i, (folder, state) in enumerate(zip(folders, members)):
                mine = jax.tree.map(lambda m, i=i: m[i], metrics)
                record = {
                    "epoch": epoch + 1,
                    "step": step,
                    "loss": float(mine["loss"]),
                    "lr": float(schedule(step - 1)),
                    "nonfinite": int(mine["nonfinite"]),
                    "seconds": round(seconds, 3),
                    "steps_per_s": round(steps_per_epoch / seconds, 2),
                    **({"sweep_size": len(specs)} if sweep is not None else {}),
                    **kl_record(mine, *choices[i], step - 1),
                }
                if validation is not None:
                    record["valid_elbo"], stop = validation.update(epoch + 1, state)
                if spec.eval.curve_every and (epoch + 1) % spec.eval.curve_every == 0:
                    record["test_elbo"] = test_elbo(
                        specs[i],
                        model,
                        state.params,
                        arrays["test"],
                        jax.random.fold_in(curve_key, epoch),
                    )
                if _is_primary():
                    with (folder / "metrics.jsonl").open("a") as out:
                        out.write(json.dumps(record) + "\n")
            log.epoch(epoch + 1, float(np.mean(metrics["loss"])), steps_per_epoch / seconds)
            skipped = np.asarray([int(s.skipped) for s in members]) - skipped_before
            if skipped.max() > spec.train.max_nonfinite:
                worst = int(np.argmax(skipped))
                who = "" if sweep is None else f"member {folders[worst].name}: "
                raise TrainingDiverged(
                    f"{who}{int(skipped[worst])} steps had a non-finite loss or gradient (limit "
                    f"{spec.train.max_nonfinite}); none was applied, training stopped at epoch "
                    f"{epoch + 1}. The last good checkpoint is step "
                    f"{checkpoints[worst].latest_step()} in {checkpoints[worst].directory}."
                )
            for c, state in zip(checkpoints, members):
                c.save(step, state)
            if stop:
                break
        members = program.members(current)
        if validation is not None:
            members = [validation.restore_best(members[0])]
    except KeyboardInterrupt:
        members = program.members(current)
        for c, state in zip(checkpoints, members):
            c.save(int(state.step), state)
        print(f"\ninterrupted: saved step {int(members[0].step)}; continue with resume.")
        raise
    finally:
        log.close()
        for c in checkpoints:
            c.close()
        if validation is not None:
            validation.close()
    return Trained(model, specs, folders, members)


def test_elbo(
    spec: RunSpec, model: Model, params: Any, test: np.ndarray, rng_key: jax.Array
) -> float:
    r"""The mean test ELBO (:math:`\mathcal L_1`), a point of a learning curve."""
    params = jax.device_get(params)
    values = nll.dataset_bound(model, params, rng_key, test, 1, memory_bytes=spec.eval.memory_bytes)
    return round(float(np.mean(values)), 4)


def kl_record(
    metrics: dict[str, Any],
    kl_schedule: Any,
    reweighting: KLReweighting | None,
    step: int,
) -> dict[str, Any]:
    """The KL part of an epoch's record: the KL weight (and capacity) at the epoch's last
    ``step``, and the epoch means of the reconstruction, the KL and the KL per dimension where
    the step measured them."""
    record: dict[str, Any] = {}
    if kl_schedule is not None:
        record["kl_weight"] = float(kl_schedule(step))
    if reweighting is not None:
        record["kl_weight"] = float(reweighting.kl_weight_at(step))
        if reweighting.penalty == "capacity":
            record["capacity"] = float(reweighting.capacity_at(step))
    for name in ("reconstruction", "kl"):
        if name in metrics:
            record[name] = round(float(metrics[name]), 4)
    if "kl_per_dim" in metrics:
        record["kl_per_dim"] = [round(float(v), 4) for v in np.asarray(metrics["kl_per_dim"])]
    return record
