"""``jvae train --sweep``: S runs that differ only in swept scalars, trained as one program.

The members are the base config with each member's values (:func:`member_configs`); they are
trained side by side by one jitted, vmapped epoch (:func:`jvae.training.sweep.make_swept_epoch`)
on one device, and each is written to its own results folder, ``workdir/<member name>/``
(``config.json``, ``metrics.jsonl``, ``checkpoints/``, then ``eval.json`` and the figures), the
same files as ``jvae train`` writes, so ``jvae evaluate`` and ``jvae disentanglement`` read a
member like any run. ``workdir/sweep.json`` lists the members. ``resume=True`` continues every
member from its latest checkpoint (they must be at the same step).
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

from jvae import compiler
from jvae.models.model import Model
from jvae.reports.progress import progress_bar
from jvae.run import experiment
from jvae.run.config import Config
from jvae.run.objective import kl_choices, kl_record, make_step
from jvae.training.checkpoint import Checkpoints
from jvae.training.sweep import (
    SWEEPABLE,
    make_swept_epoch,
    member_name,
    stack,
    unstack,
)
from jvae.training.train import (
    TrainState,
    init_state,
    learning_rate_schedule,
    make_epoch,
    make_optimizer,
)

SWEEP_FILE = "sweep.json"


def member_configs(base: Config, members: list[dict[str, Any]]) -> list[Config]:
    """The config of each member (``base`` with the member's values), checked: one-line
    ``ValueError`` for a sweep that cannot be one program."""
    if len(members) < 1:
        raise ValueError("a sweep needs at least one member.")
    names = set().union(*members)
    if not names <= set(SWEEPABLE) or any(set(m) != names for m in members):
        raise ValueError(f"every sweep member must set the same fields among {SWEEPABLE}.")
    if base.validation or base.patience:
        raise ValueError(
            "--sweep trains without a validation split (--validation/--patience): the members "
            "would stop at different epochs."
        )
    if "seed" in names and base.prior == "vamp-data":
        raise ValueError(
            "--sweep seed=... with --prior vamp-data would give each member other pseudo-inputs "
            "(a different model): sweep the seed of another prior, or run the seeds apart."
        )
    configs = [dataclasses.replace(base, **values) for values in members]
    kinds = {(c.reweights_kl, c.free_bits is None, c.capacity is None) for c in configs}
    if len(kinds) > 1:
        raise ValueError("the sweep's members would train different objectives; sweep values only.")
    return configs


def _folders(workdir: pathlib.Path, members: list[dict[str, Any]]) -> list[pathlib.Path]:
    return [workdir / member_name(values) for values in members]


def train_sweep(
    base: Config,
    members: list[dict[str, Any]],
    workdir: str | pathlib.Path,
    data_dir: str | None = None,
    resume: bool = False,
    progress: bool = True,
    arrays: dict[str, np.ndarray] | None = None,
) -> tuple[Model, list[Config], list[pathlib.Path], list[TrainState]]:
    """Trains every member of the sweep to ``base.epochs`` passes; returns the (shared) model,
    the members' configs, folders and final states (host copies).

    A member whose loss or gradient is not finite in a step skips that step (as in
    :func:`jvae.run.experiment.train`); more than ``max_nonfinite`` skipped steps in one member
    raise :class:`~jvae.run.experiment.TrainingDiverged`, the last checkpoints kept.
    """
    configs = member_configs(base, members)
    workdir = pathlib.Path(workdir)
    folders = _folders(workdir, members)
    workdir.mkdir(parents=True, exist_ok=True)
    summary = {"base": dataclasses.asdict(base), "members": members}
    summary["folders"] = [f.name for f in folders]
    (workdir / SWEEP_FILE).write_text(json.dumps(summary, indent=2))
    for config, folder in zip(configs, folders):
        folder.mkdir(exist_ok=True)
        experiment._save_config(config, folder, resume)
    arrays = arrays or experiment.load_data(base, data_dir)
    model = experiment.build_model(base, arrays["train"])
    data = jnp.asarray(arrays["train"])
    steps_per_epoch = data.shape[0] // base.batch_size
    optimizer = make_optimizer(steps_per_epoch, base.learning_rate, base.lr_schedule, base.adam_eps)
    size = len(configs)
    swept = [name for name in members[0] if name != "seed"]
    values = {name: jnp.asarray([m[name] for m in members], jnp.float32) for name in swept}
    keys = [jax.random.split(jax.random.PRNGKey(c.seed)) for c in configs]
    init_keys, run_keys = (jnp.stack([k[i] for k in keys]) for i in (0, 1))
    states = jax.jit(jax.vmap(lambda k: init_state(k, model, optimizer)))(init_keys)
    bound_pair = experiment.objective_bounds(base)

    def epoch_for(member_values: dict[str, jax.Array]):
        step = make_step(configs[0], model, optimizer, bound_pair, member_values)
        return make_epoch(step, base.batch_size)

    epoch_fn = compiler.jit(make_swept_epoch(epoch_for), donate_argnums=(2,))
    checkpoints = [Checkpoints(folder / "checkpoints") for folder in folders]
    saved = [c.latest_step() for c in checkpoints]
    if resume and any(s is not None for s in saved):
        if len(set(saved)) != 1:
            raise ValueError(
                f"the members' checkpoints are at different steps {saved}; resume them apart."
            )
        like = unstack(states, size)
        states = stack([c.restore(s) for c, s in zip(checkpoints, like)])
    elif not resume and any(s is not None for s in saved):
        raise ValueError(
            f"{workdir} already holds sweep checkpoints; pass --resume to continue or use a new "
            "workdir."
        )
    choices = [kl_choices(c) for c in configs]
    schedule = learning_rate_schedule(steps_per_epoch, base.learning_rate, base.lr_schedule)
    start_epoch = int(states.step[0]) // steps_per_epoch
    bar = progress_bar(
        range(start_epoch, base.epochs),
        progress,
        initial=start_epoch,
        total=base.epochs,
        desc=f"sweep of {size} ({', '.join(members[0])})",
    )
    skipped_before = np.asarray(states.skipped)
    try:
        for epoch in bar:
            t0 = time.perf_counter()
            states, metrics = epoch_fn(values, run_keys, states, data)
            metrics = jax.device_get(metrics)
            seconds = time.perf_counter() - t0
            step = int(states.step[0])
            member_states = unstack(states, size)
            for i, folder in enumerate(folders):
                mine = jax.tree.map(lambda m, i=i: m[i], metrics)
                record = {
                    "epoch": epoch + 1,
                    "step": step,
                    "loss": float(mine["loss"]),
                    "lr": float(schedule(step - 1)),
                    "nonfinite": int(mine["nonfinite"]),
                    "seconds": round(seconds, 3),
                    "steps_per_s": round(steps_per_epoch / seconds, 2),
                    "sweep_size": size,
                    **kl_record(mine, *choices[i], step - 1),
                }
                with (folder / "metrics.jsonl").open("a") as log:
                    log.write(json.dumps(record) + "\n")
                checkpoints[i].save(step, member_states[i])
            bar.set_postfix(loss=f"{float(np.mean(metrics['loss'])):.2f}")
            skipped = np.asarray(states.skipped) - skipped_before
            if skipped.max() > base.max_nonfinite:
                worst = int(np.argmax(skipped))
                raise experiment.TrainingDiverged(
                    f"member {folders[worst].name} had {int(skipped[worst])} steps with a "
                    f"non-finite loss or gradient (limit {base.max_nonfinite}); none was applied, "
                    f"training stopped at epoch {epoch + 1} with every member's checkpoint kept."
                )
    except KeyboardInterrupt:
        for c, s in zip(checkpoints, unstack(states, size)):
            c.save(int(s.step), s)
        print(f"\ninterrupted: saved step {int(states.step[0])}; continue with --resume.")
        raise
    finally:
        for c in checkpoints:
            c.close()
    return model, configs, folders, unstack(states, size)


def train_and_evaluate_sweep(
    base: Config,
    members: list[dict[str, Any]],
    workdir: str | pathlib.Path,
    data_dir: str | None = None,
    resume: bool = False,
    progress: bool = True,
    arrays: dict[str, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """:func:`train_sweep`, then :func:`jvae.run.experiment.evaluate_run` of every member in
    its folder; returns the evaluations in member order."""
    arrays = arrays or experiment.load_data(base, data_dir)
    model, configs, folders, states = train_sweep(
        base, members, workdir, data_dir, resume, progress, arrays
    )
    return [
        experiment.evaluate_run(
            config, folder, model, state.params, arrays["test"], progress=progress
        )
        for config, folder, state in zip(configs, folders, states)
    ]
