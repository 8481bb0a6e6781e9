"""What each experiment's ``paper`` preset would take on this machine: every row's run measured
(training steps per second, the test NLL's seconds per image and importance sample, AIS's
seconds per gradient evaluation) and scaled to the preset's passes, K and test images.

A row's training is :func:`jvae.run.train.train` itself (a sweep's members as the one vmapped
program they train as) for two passes over ``steps`` batches of random values on the dataset's
grid, the second pass timed; its NLL is the planned evaluation
(:func:`jvae.diagnostics.nll.plan_dataset_bound`, within the default memory budget) of
``eval_images`` images at ``eval_k`` samples, timed on a second call and scaled linearly in K
and images. The values of random data do not change the cost of dense or convolutional
networks, so no dataset is read: the sizes are the papers' splits (:data:`SIZES`).
"""

from __future__ import annotations

import importlib
import math
import pathlib
import shutil
import time
from typing import Any, NamedTuple

import jax
import numpy as np

from jvae.diagnostics import nll
from jvae.diagnostics.ais import AISOptions, dataset_ais, gradient_evaluations
from jvae.diagnostics.annealed import ais_steps_grid
from jvae.reports.kl_curves import read_records
from jvae.run.spec import RunSpec
from jvae.run.train import evaluation_images, train

#: Training and test examples of each ``paper`` preset's dataset: MNIST's 60,000 (train +
#: validation, as the IWAE paper) and 10,000; the IWAE paper's Omniglot split; the whole
#: dSprites file (737,280 images; the beta-VAE experiment scores metrics, no test NLL); CIFAR-10.
SIZES: dict[str, tuple[int, int]] = {
    "mnist": (60_000, 10_000),
    "omniglot": (24_345, 8_070),
    "dsprites": (737_280, 0),
    "tfds:cifar10": (50_000, 10_000),
}
#: What a row's evaluation adds beyond the timed NLL, per experiment (not timed).
UNTIMED: dict[str, str] = {
    "beta_vae": "the disentanglement metrics",
    "elbo_surgery": "the surgery over the 60,000 training images (8 draws each)",
    "sandwich": "the K ladder below K=5000",
}
HOUR = 3600.0


class Run(NamedTuple):
    """A row of a ``paper`` preset: its run (a sweep's base), the sweep's members or ``None``."""

    spec: RunSpec
    sweep: list[dict[str, Any]] | None = None


def paper_runs(experiment: str) -> tuple[dict[str, Any], dict[str, Run]]:
    """Experiment ``experiment``'s ``paper`` config and its rows, ``{name: Run}``, as its own
    table builds them (the colour rows without the dequantised copy of CIFAR-10, which a
    measurement does not need)."""
    config = importlib.import_module(f"experiments.{experiment}.configs").get_config("paper")
    table = importlib.import_module(f"experiments.{experiment}.table")
    if experiment == "beta_vae":
        return config, {
            group: Run(
                table.group_spec(config, group), [v for v, _ in table.members(config, group)]
            )
            for group in config["groups"]
        }
    if experiment == "colour":
        return config, {
            name: Run(RunSpec.from_preset("paper", **{**config["overrides"], **row}))
            for name, row in config["rows"].items()
        }
    return config, {name: Run(spec) for name, spec in table.specs(config).items()}


def random_images(n: int, spec: RunSpec, rng: np.random.Generator) -> np.ndarray:
    """``[n, *event_shape]`` values on the 8-bit grid in [0, 1] (valid for every likelihood)."""
    shape = (n, *spec.data.event_shape)
    return (rng.integers(0, 256, shape) / 255.0).astype(np.float32)


def train_speed(
    run: Run, folder: pathlib.Path, steps: int, min_seconds: float
) -> tuple[float, int, Any]:
    """Steps per second of the run's training (two passes of ``steps`` steps, the second
    timed; repeated with more steps while the timed pass is shorter than ``min_seconds``, in
    which fixed costs per call would hide), the steps timed, and the trained model and params
    (of the first member)."""
    spec = run.spec.replace(epochs=2, validation=0, patience=0, curve_every=0)
    rng = np.random.default_rng(0)
    while True:
        shutil.rmtree(folder, ignore_errors=True)  # a scratch folder: never resumed
        arrays = {
            "train": random_images(steps * spec.train.batch_size, spec, rng),
            "test": random_images(2, spec, rng),
        }
        trained = train(spec, folder, arrays=arrays, progress=False, sweep=run.sweep)
        seconds = read_records(trained.folders[0] / "metrics.jsonl")[-1]["seconds"]
        if seconds >= min_seconds:
            return steps / seconds, steps, (trained.model, trained.states[0].params)
        steps = math.ceil(steps * 1.5 * min_seconds / seconds)


def nll_seconds(
    spec: RunSpec, model: Any, params: Any, images: int, k: int, largest_k: int, min_seconds: float
) -> tuple[float, int]:
    """Seconds per image and importance sample of the planned test-NLL evaluation of
    ``images`` images at ``k`` samples (timed on a second call; K raised tenfold, up to
    ``largest_k``, while a call is shorter than ``min_seconds``, then as many calls as take
    that long), and the K timed."""
    rng = np.random.default_rng(1)
    test = evaluation_images(spec, random_images(images, spec, rng), 0)
    key = jax.random.PRNGKey(0)
    while True:
        plan, evaluate = nll.plan_dataset_bound(model, params, key, test, k, spec.eval.memory_bytes)
        x = jax.numpy.asarray(test[: plan.batch_size])
        jax.block_until_ready(evaluate(params, key, x))
        t0 = time.perf_counter()
        jax.block_until_ready(evaluate(params, key, x))
        seconds = time.perf_counter() - t0
        if seconds >= min_seconds:
            return seconds / (plan.batch_size * k), k
        if k >= largest_k:  # the largest K is quick: time enough calls
            calls = math.ceil(min_seconds / seconds)
            t0 = time.perf_counter()
            for _ in range(calls):
                jax.block_until_ready(evaluate(params, key, x))
            return (time.perf_counter() - t0) / (calls * plan.batch_size * k), k
        k = min(largest_k, k * 10)


def ais_seconds(
    spec: RunSpec, model: Any, params: Any, images: int, steps: int, options: AISOptions
) -> float:
    """Seconds per image and gradient evaluation of AIS (:func:`dataset_ais`, one batch)."""
    test = evaluation_images(spec, random_images(images, spec, np.random.default_rng(2)), 0)
    key = jax.random.PRNGKey(0)
    dataset_ais(model, params, key, test, steps, options, batch_size=images)
    seconds = float(
        dataset_ais(model, params, key, test, steps, options, batch_size=images)["seconds"]
    )
    evaluations = gradient_evaluations(
        steps, options.num_chains, options.leapfrog_steps, options.warmup_steps
    )
    return seconds / (images * evaluations)


def measure_row(
    experiment: str, paper: dict[str, Any], name: str, run: Run, config: dict[str, Any],
    folder: pathlib.Path,
) -> dict[str, Any]:  # fmt: skip
    """Row ``name``'s measured speeds and the ``paper`` preset's projected hours."""
    spec = run.spec
    train_n, test_n = SIZES[spec.data.dataset]
    steps_per_pass = (train_n - spec.data.validation) // spec.train.batch_size
    t0 = time.perf_counter()
    steps_per_s, steps, (model, params) = train_speed(
        run, folder, config["steps"], config["min_seconds"]
    )
    train_hours = spec.train.epochs * steps_per_pass / steps_per_s / HOUR
    test_images = min(test_n, spec.data.test_subset or test_n)
    nll_k = spec.eval.nll_k
    if experiment == "sandwich":  # its measurement: L_K up to max_k on its examples
        test_images, nll_k = paper["examples"], paper["max_k"]
    per_sample, eval_k = 0.0, 0
    if test_images:
        per_sample, eval_k = nll_seconds(
            spec, model, params, config["eval_images"], min(config["eval_k"], nll_k), nll_k,
            config["min_seconds"],
        )  # fmt: skip
    eval_hours = per_sample * nll_k * test_images / HOUR
    row = {
        "experiment": experiment,
        "row": name,
        "dataset": spec.data.dataset,
        "members": len(run.sweep) if run.sweep else 1,
        "batch_size": spec.train.batch_size,
        "steps_per_pass": steps_per_pass,
        "passes": spec.train.epochs,
        "early_stopping": bool(spec.train.patience),
        "steps_per_s": round(steps_per_s, 2),
        "train_hours": round(train_hours, 2),
        "nll_k": nll_k,
        "test_images": test_images,
        "nll_seconds_per_sample": per_sample,
        "eval_hours": round(eval_hours, 2),
        "measured_with": dict(steps=steps, eval_k=eval_k, eval_images=config["eval_images"]),
    }
    if experiment == "sandwich":
        options = AISOptions(**paper["ais"])
        per_evaluation = ais_seconds(
            spec, model, params, config["eval_images"], config["ais_steps"], options
        )
        evaluations = sum(
            gradient_evaluations(
                t, options.num_chains, options.leapfrog_steps, options.warmup_steps
            )
            for t in ais_steps_grid(paper["ais_steps"])
        )
        chains = paper["examples"] + 2 * paper["simulated"]  # BDMC runs forward and reverse
        row["ais_seconds_per_evaluation"] = per_evaluation
        row["ais_hours"] = round(per_evaluation * evaluations * chains / HOUR, 2)
        row["eval_hours"] = round(row["eval_hours"] + row["ais_hours"], 2)
    row["total_hours"] = round(row["train_hours"] + row["eval_hours"], 2)
    row["measure_seconds"] = round(time.perf_counter() - t0, 1)
    return row


def _hours(h: float) -> str:
    """``'41.3 h'``, or days beyond two."""
    return f"{h:,.1f} h" if h < 48 else f"{h / 24:,.1f} days"


def markdown(config: dict[str, Any], rows: dict[str, dict], machine: str) -> str:
    """Totals per experiment, then every row measured so far: the experiments in the config's
    order, each one's rows by name (so that the table is the same however the rows were
    measured or read back)."""
    order = list(config["experiments"])
    rows = dict(
        sorted(rows.items(), key=lambda item: (order.index(item[1]["experiment"]), item[1]["row"]))
    )
    by_experiment: dict[str, list[dict]] = {}
    for row in rows.values():
        by_experiment.setdefault(row["experiment"], []).append(row)
    lines = [
        "# What each `paper` preset would take on this machine",
        "",
        f"Preset `{config['preset']}` of this measurement. Machine: {machine}. Each row's training "
        f"timed over {config['steps']} steps or more after compilation, at least "
        f"{config['min_seconds']} s (a second pass of random values on the dataset's grid, "
        "through `jvae.run.train.train`; a sweep as its one vmapped program), its test NLL on "
        f"one planned batch of {config['eval_images']} images at K={config['eval_k']}, raised "
        f"tenfold while a call took under {config['min_seconds']} s (scaled linearly to the "
        "preset's K and test images), and for the "
        f"sandwich AIS at T={config['ais_steps']} (scaled to its ladder of T, BDMC counted "
        "as two chains). Early-stopped presets count every pass they allow (an upper bound). "
        "Hours are of this machine alone; no accelerator was measured.",
        "",
        *(line for note in config.get("notes", ()) for line in (note, "")),
        "| experiment | rows | train | evaluation | total | not timed |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for experiment, group in by_experiment.items():
        train_h = sum(r["train_hours"] for r in group)
        eval_h = sum(r["eval_hours"] for r in group)
        lines.append(
            f"| {experiment} | {len(group)} | {_hours(train_h)} | {_hours(eval_h)} | "
            f"{_hours(train_h + eval_h)} | {UNTIMED.get(experiment, '–')} |"
        )
    lines += [
        "",
        "| experiment | row | data | batch | passes | steps/pass | steps/s | train "
        "| NLL K x images | evaluation | total |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows.values():
        members = f" ({row['members']} members)" if row["members"] > 1 else ""
        passes = f"≤{row['passes']:,}" if row["early_stopping"] else f"{row['passes']:,}"
        nll = f"{row['nll_k']} x {row['test_images']:,}" if row["test_images"] else "–"
        lines.append(
            f"| {row['experiment']} | {row['row']}{members} | {row['dataset']} | "
            f"{row['batch_size']} | {passes} | {row['steps_per_pass']:,} | {row['steps_per_s']} | "
            f"{_hours(row['train_hours'])} | {nll} | "
            f"{_hours(row['eval_hours'])} | {_hours(row['total_hours'])} |"
        )
    return "\n".join(lines) + "\n"
