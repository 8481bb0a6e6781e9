"""``train_and_evaluate(config, workdir)``: a whole run with checkpoints, metrics and figures.

A results folder holds ``config.json``, ``metrics.jsonl`` (one JSON object per epoch),
``checkpoints/`` (orbax, atomic, every epoch and on Ctrl-C; ``best/`` the best epoch by
validation ELBO when a validation split is configured), ``eval.json``, ``summary.md`` and PNG
figures. Re-running with ``resume=True`` continues from the latest checkpoint and ends with the
same parameters as an uninterrupted run.

Training is data parallel over all devices of all processes (:mod:`jvae.training.parallel`);
with several processes each runs this same code and only process 0 writes the results folder's
files.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jvae import bounds
from jvae import data as data_lib
from jvae.components.likelihoods import data_mean_logits
from jvae.components.priors import VampPrior
from jvae.diagnostics import nll
from jvae.diagnostics.active_units import active_units
from jvae.models.build import build_model as _build
from jvae.models.model import Model
from jvae.reports import figures
from jvae.reports.kl_curves import read_records, save_kl_per_dim
from jvae.reports.progress import progress_bar
from jvae.reports.summary import write_summary
from jvae.reports.traversals import latent_traversal, save_traversals, supports_traversals
from jvae.run.config import Config
from jvae.run.objective import kl_choices, kl_record, make_step
from jvae.training import parallel
from jvae.training.checkpoint import Checkpoints
from jvae.training.train import (
    TrainState,
    init_state,
    learning_rate_schedule,
    make_epoch,
    make_optimizer,
)


class TrainingDiverged(RuntimeError):
    """Too many non-finite steps; the last good checkpoint is left intact."""


def objective_bounds(config: Config) -> tuple[bounds.Bound, bounds.Bound | None]:
    """``(bound, encoder_bound)`` for a config's objective (``encoder_bound`` for PIWAE)."""
    name = config.objective
    if name == "elbo":
        return bounds.elbo, None
    if name == "iwae":
        return bounds.iwae, None
    if name == "miwae":
        return functools.partial(bounds.miwae, num_groups=config.groups), None
    if name == "ciwae":
        return functools.partial(bounds.ciwae, beta=config.beta), None
    if name == "renyi":
        return functools.partial(bounds.renyi, alpha=config.alpha), None
    if name == "piwae":
        return bounds.piwae(config.groups)
    raise ValueError(f"unknown bound {name!r}.")


def build_model(config: Config, train_images: np.ndarray | None = None) -> Model:
    """The config's model for its dataset (``train_images`` for a VampPrior "data")."""
    shape = data_lib.IMAGE_SHAPES[config.dataset]
    return _build(config, shape[0] * shape[1], shape, train_images)


def load_data(config: Config, data_dir: str | None = None) -> dict[str, np.ndarray]:
    """Train (grey levels), validation and test (statically binarised) arrays, checked.

    ``config.validation`` images are carved from the end of the training set (for MNIST,
    10,000 are exactly the pickle's validation split); ``train_subset`` then keeps the first
    training images.
    """
    arrays = data_lib.load_dataset(config.dataset, data_dir)
    train, test = arrays["train"], arrays["test"]
    out = {}
    if config.validation:
        if config.validation >= len(train):
            raise ValueError(
                f"--validation {config.validation} leaves no training images (of {len(train)})."
            )
        out["valid"] = binarize_for(config, train[-config.validation :], seed=1)
        train = train[: -config.validation]
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
    return {"train": train, "test": binarize_for(config, test, seed=0), **out}


def binarize_for(config: Config, images: np.ndarray, seed: int) -> np.ndarray:
    """Evaluation images: statically binarised with ``seed`` for a Bernoulli likelihood, the
    grey levels themselves for a discretised logistic."""
    if config.likelihood == "logistic":
        return np.asarray(images, np.float32)
    return np.asarray(data_lib.static_binarize(images, seed=seed))


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


#: Fields a resumed run may change: the training length and how evaluation is batched.
RESUME_MAY_CHANGE = ("epochs", "eval_batch", "nll_chunk")


def _save_config(config: Config, workdir: pathlib.Path, resume: bool) -> None:
    path = workdir / "config.json"
    if resume and path.exists():
        saved = Config.from_json(path.read_text())
        changeable = {name: getattr(config, name) for name in RESUME_MAY_CHANGE}
        if dataclasses.replace(saved, **changeable) != config:
            raise ValueError(
                f"--resume with a different config than the one in {path} (only "
                f"{', '.join(RESUME_MAY_CHANGE)} may change); use the same flags or a new workdir."
            )
    if _is_primary():
        path.write_text(config.to_json())


class _Validation:
    """Validation ELBO each epoch, the best state kept in ``workdir/best`` and the early-stopping
    record in ``workdir/early_stopping.json`` (so a resumed run continues the same watch)."""

    def __init__(self, model: Model, config: Config, workdir: pathlib.Path, data: np.ndarray):
        self.data, self.config = data, config
        self.evaluate = nll.make_bound_evaluator(model, 1, 1)
        self.key = jax.random.PRNGKey(config.seed + 2)
        self.best = Checkpoints(workdir / "best", max_to_keep=1)
        self.record_path = workdir / "early_stopping.json"
        self.record = {"best_epoch": 0, "best_elbo": -float("inf"), "stopped_at": None}
        if self.record_path.exists():
            self.record = json.loads(self.record_path.read_text())

    def elbo(self, params: Any) -> float:
        values = nll.map_batches(
            lambda key, x: np.asarray(self.evaluate(params, key, jnp.asarray(x))),
            self.key,
            self.data,
            min(self.config.eval_batch, len(self.data)),
        )
        return float(np.mean(values))

    def update(self, epoch: int, state: TrainState) -> tuple[float, bool]:
        """Records epoch ``epoch``'s validation ELBO; returns it and whether to stop."""
        value = self.elbo(state.params)
        if value > self.record["best_elbo"]:
            self.record.update(best_epoch=epoch, best_elbo=value)
            self.best.save(epoch, state)
        patience = self.config.patience
        stop = bool(patience) and epoch - self.record["best_epoch"] >= patience
        if stop:
            self.record["stopped_at"] = epoch
        if _is_primary():
            self.record_path.write_text(json.dumps(self.record))
        return value, stop

    @property
    def stopped(self) -> bool:
        return self.record["stopped_at"] is not None

    def restore_best(self, like: TrainState) -> TrainState:
        return self.best.restore(like) if self.best.latest_step() is not None else like

    def close(self) -> None:
        self.best.close()


def initial_state(
    rng_key: jax.Array,
    model: Model,
    optimizer: Any,
    output_bias: jax.Array | None = None,
) -> TrainState:
    """:func:`init_state`, with the likelihood's output bias set to ``output_bias`` when given
    (:func:`jvae.components.likelihoods.data_mean_logits`)."""
    state = init_state(rng_key, model, optimizer)
    if output_bias is None:
        return state
    key = model.parts.likelihood_key
    decoder = state.params["decoder"]
    decoder = {**decoder, key: model.parts.likelihood.with_output_bias(decoder[key], output_bias)}
    return state._replace(params={**state.params, "decoder": decoder})


def train(
    config: Config,
    workdir: str | pathlib.Path,
    data_dir: str | None = None,
    resume: bool = False,
    progress: bool = True,
    arrays: dict[str, np.ndarray] | None = None,
) -> tuple[Model, TrainState]:
    """Trains to ``config.epochs`` passes (or until early stopping); returns the model and the
    final state, or the best state by validation ELBO when ``config.validation`` is set.

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
    model = build_model(config, arrays["train"])
    train_x = parallel.put(arrays["train"], rep)
    steps_per_epoch = train_x.shape[0] // config.batch_size
    optimizer = make_optimizer(
        steps_per_epoch, config.learning_rate, config.lr_schedule, config.adam_eps
    )
    kl_schedule, reweighting = kl_choices(config)
    step = make_step(config, model, optimizer, objective_bounds(config))
    epoch_fn = parallel.jit_epoch(
        make_epoch(step, config.batch_size, shard_batch=parallel.constrain_batch(mesh)), mesh
    )
    key = jax.random.PRNGKey(config.seed)
    init_key, run_key = parallel.put(tuple(jax.random.split(key)), rep)
    bias = data_mean_logits(arrays["train"]) if config.decoder_bias == "data_mean" else None
    state = jax.jit(lambda k, b: initial_state(k, model, optimizer, b), out_shardings=rep)(
        init_key, bias
    )
    checkpoints = Checkpoints(workdir / "checkpoints")
    if resume and checkpoints.latest_step() is not None:
        state = checkpoints.restore(state)
    elif not resume and checkpoints.latest_step() is not None:
        raise ValueError(
            f"{workdir} already holds checkpoints; pass --resume to continue or use a new workdir."
        )
    validation = None
    if "valid" in arrays:
        validation = _Validation(model, config, workdir, arrays["valid"])
    schedule = learning_rate_schedule(steps_per_epoch, config.learning_rate, config.lr_schedule)
    start_epoch = int(state.step) // steps_per_epoch
    if validation is not None and validation.stopped:
        start_epoch = config.epochs  # an early-stopped run is finished
    bar = progress_bar(
        range(start_epoch, config.epochs),
        progress,
        initial=start_epoch,
        total=config.epochs,
        desc=f"{config.architecture} {config.prior} {config.model} k={config.k}",
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
            record.update(kl_record(metrics, kl_schedule, reweighting, int(state.step) - 1))
            stop = False
            if validation is not None:
                record["valid_elbo"], stop = validation.update(epoch + 1, state)
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
            if stop:
                break
        if validation is not None:
            state = validation.restore_best(state)
    except KeyboardInterrupt:
        checkpoints.save(int(state.step), state)
        print(f"\ninterrupted: saved step {int(state.step)}; continue with --resume.")
        raise
    finally:
        checkpoints.close()
        if validation is not None:
            validation.close()
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

    ``L_1`` is the test ELBO (one sample per example). With ``config.sample_shards > 1`` the
    ``nll_k`` bound shards rows and samples over a ``('data', 'samples')`` mesh
    (:func:`jvae.diagnostics.nll.sharded_dataset_bound`). With several processes every process
    evaluates (on host copies of the replicated params) and process 0 writes the files.
    """
    workdir = pathlib.Path(workdir)
    params = jax.device_get(params)
    key = jax.random.PRNGKey(config.seed + 1)
    ks = tuple(sorted({*(k for k in ks if k < config.nll_k), config.nll_k}))
    t0 = time.perf_counter()
    table = {}
    for k in ks:
        bar = progress_bar(None, progress, total=len(test), desc=f"L_{k}", leave=False)
        args = (jax.random.fold_in(key, k), test, k)
        if k == config.nll_k and config.sample_shards > 1:
            values = nll.sharded_dataset_bound(
                model,
                params,
                *args,
                parallel.eval_mesh(config.sample_shards),
                config.eval_batch,
                config.nll_chunk,
                progress=bar.update,
            )
        else:
            values = nll.dataset_bound(
                model, params, *args, config.eval_batch, config.nll_chunk, progress=bar.update
            )
        bar.close()
        stderr = float(np.std(values) / np.sqrt(len(values)))
        table[k] = {"mean": float(np.mean(values)), "stderr": stderr}
    eval_seconds = time.perf_counter() - t0
    units = active_units(model, params, jax.random.fold_in(key, 0), test)
    result = {
        "nll": -table[config.nll_k]["mean"],
        "nll_k": config.nll_k,
        "elbo": table[1]["mean"] if 1 in table else None,
        "bounds": {str(k): v for k, v in table.items()},
        "active_units": [u["active"] for u in units],
        "unit_variances": [u["variances"].round(5).tolist() for u in units],
        "eval_seconds": round(eval_seconds, 1),
        "test_examples": int(len(test)),
        "bits_per_dim": (
            -table[config.nll_k]["mean"] / (model.data_dim * math.log(2.0))
            if config.likelihood == "logistic"
            else None
        ),
    }
    if not _is_primary():
        return result
    (workdir / "eval.json").write_text(json.dumps(result, indent=2))
    write_figures(config, workdir, model, params, test, key)
    write_summary(config, workdir, result)
    return result


def write_figures(
    config: Config,
    workdir: pathlib.Path,
    model: Model,
    params: Any,
    test: np.ndarray,
    rng_key: jax.Array,
) -> None:
    """``samples.png``, ``reconstructions.png``; for a VampPrior, ``pseudo_inputs.png``; for a
    model with one Gaussian latent, ``traversals.png`` (of the first test image); and where the
    run logged the KL per dimension, ``kl_per_dim.png``."""
    side = model.image_shape
    figures.save_grid(
        np.asarray(model.sample(params, jax.random.fold_in(rng_key, 1), 64)),
        workdir / "samples.png",
        8,
        f"samples ({config.architecture}, prior {config.prior}, {config.model} k={config.k})",
        side,
    )
    x = jnp.asarray(test[:32])
    recon = np.asarray(model.reconstruct(params, jax.random.fold_in(rng_key, 2), x))
    figures.save_reconstructions(
        test[:32], recon, workdir / "reconstructions.png", "data / reconstruction", side
    )
    prior = model.parts.prior if model.parts is not None else None
    if isinstance(prior, VampPrior):
        u = np.asarray(prior.pseudo_inputs(params["prior"]))[:64]
        kind = "training images" if prior.fixed_inputs is not None else "learned"
        figures.save_grid(
            u, workdir / "pseudo_inputs.png", 8, f"VampPrior pseudo-inputs ({kind})", side
        )
    name = f"{config.architecture}, {config.dataset}, seed {config.seed}"
    if supports_traversals(model):
        traversal = latent_traversal(model, params, test[0], test[:500])
        save_traversals(traversal, workdir / "traversals.png", f"latent traversals ({name})", side)
    save_kl_per_dim(
        read_records(workdir / "metrics.jsonl"),
        workdir / "kl_per_dim.png",
        f"KL per dimension ({name})",
    )


def training_budget(workdir: str | pathlib.Path) -> dict[str, Any]:
    """``{'passes', 'train_seconds'}`` of a results folder, from its ``metrics.jsonl``."""
    records = read_records(pathlib.Path(workdir) / "metrics.jsonl")
    return {"passes": len(records), "train_seconds": round(sum(r["seconds"] for r in records), 1)}


def load_run(workdir: str | pathlib.Path) -> tuple[Config, Model, Any]:
    """``(config, model, params)`` of a results folder: the best checkpoint by validation ELBO
    when the run kept one, else the latest."""
    workdir = pathlib.Path(workdir)
    path = workdir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {workdir} a jvae results folder?")
    config = Config.from_json(path.read_text())
    model = build_model(config)
    like = jax.eval_shape(lambda: init_state(jax.random.PRNGKey(0), model, make_optimizer(1)))
    for directory in (workdir / "best", workdir / "checkpoints"):
        if not directory.is_dir():
            continue
        checkpoints = Checkpoints(directory)
        try:
            if checkpoints.latest_step() is not None:
                return config, model, jax.device_get(checkpoints.restore(like).params)
        finally:
            checkpoints.close()
    raise FileNotFoundError(f"no checkpoint in {workdir}/checkpoints: was the run trained?")


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


def train_and_evaluate_once(
    config: Config, workdir: str | pathlib.Path, data_dir: str | None = None
) -> dict[str, Any]:
    """The evaluation of the run in ``workdir``: read back from its ``eval.json`` when the run
    is finished, else trained (resumed from its checkpoints, if any) and evaluated. What an
    experiment's rows use, so a killed table continues where it stopped."""
    workdir = pathlib.Path(workdir)
    done = workdir / "eval.json"
    if done.exists():
        return json.loads(done.read_text())
    resume = (workdir / "checkpoints").is_dir()
    return train_and_evaluate(config, workdir, data_dir, resume=resume, progress=False)
