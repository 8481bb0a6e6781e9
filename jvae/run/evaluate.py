"""Evaluation of a trained run into its results folder: test bounds and NLL, active units,
``eval.json``, ``summary.md`` and figures; and :func:`load_run` of a results folder."""

from __future__ import annotations

import json
import math
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jvae.components.priors import VampPrior
from jvae.diagnostics import nll
from jvae.diagnostics.active_units import active_units
from jvae.models.model import Model
from jvae.reports import figures
from jvae.reports.kl_curves import read_records, save_kl_per_dim
from jvae.reports.progress import progress_bar
from jvae.reports.summary import write_summary
from jvae.reports.traversals import latent_traversal, save_traversals, supports_traversals
from jvae.run.spec import RunSpec
from jvae.run.train import build_model, initial_state
from jvae.training import parallel
from jvae.training.checkpoint import Checkpoints


def evaluate_run(
    spec: RunSpec,
    workdir: str | pathlib.Path,
    model: Model,
    params: Any,
    test: np.ndarray,
    ks: tuple[int, ...] = (1, 5, 50),
    progress: bool = True,
) -> dict[str, Any]:
    """Test bounds for ``ks`` and ``spec.eval.nll_k``, NLL, active units, figures, summary.

    ``L_1`` is the test ELBO (one sample per example). Every evaluator sizes its batches and
    sample chunks to the spec's memory budget (:attr:`jvae.diagnostics.spec.EvalSpec.memory_bytes`):
    the bounds take the batch and chunk planned once for the largest K (a smaller K draws
    ``min(chunk, K)`` at a time, within the same memory), so planning compiles once per run.
    With ``sample_shards > 1`` the ``nll_k`` bound shards rows and samples over a
    ``('data', 'samples')`` mesh (:func:`jvae.diagnostics.nll.sharded_dataset_bound`). With
    several processes every process evaluates and process 0 writes the files.
    """
    workdir = pathlib.Path(workdir)
    params = jax.device_get(params)
    key = jax.random.PRNGKey(spec.seed + 1)
    nll_k, memory = spec.eval.nll_k, spec.eval.memory_bytes
    ks = tuple(sorted({*(k for k in ks if k < nll_k), nll_k}))
    t0 = time.perf_counter()
    plan, _ = nll.plan_dataset_bound(model, params, key, test, nll_k, memory)
    table = {}
    for k in ks:
        bar = progress_bar(None, progress, total=len(test), desc=f"L_{k}", leave=False)
        args = (jax.random.fold_in(key, k), test, k)
        if k == nll_k and spec.eval.sample_shards > 1:
            mesh = parallel.eval_mesh(spec.eval.sample_shards)
            values = nll.sharded_dataset_bound(
                model, params, *args, mesh, memory_bytes=memory, progress=bar.update
            )
        else:
            sizes = (plan.batch_size, min(plan.chunk_size, k))
            values = nll.dataset_bound(model, params, *args, *sizes, progress=bar.update)
        bar.close()
        stderr = float(np.std(values) / np.sqrt(len(values)))
        table[k] = {"mean": float(np.mean(values)), "stderr": stderr}
    eval_seconds = time.perf_counter() - t0
    units = active_units(model, params, jax.random.fold_in(key, 0), test, memory_bytes=memory)
    result = {
        "nll": -table[nll_k]["mean"],
        "nll_k": nll_k,
        "elbo": table[1]["mean"] if 1 in table else None,
        "bounds": {str(k): v for k, v in table.items()},
        "active_units": [u["active"] for u in units],
        "unit_variances": [u["variances"].round(5).tolist() for u in units],
        "eval_seconds": round(eval_seconds, 1),
        "test_examples": int(len(test)),
        # a probability of 8-bit values, in bits per value (a density of real values has none:
        # for dequantised 8-bit data see jvae.components.dequantized_bits_per_dim)
        "bits_per_dim": (
            -table[nll_k]["mean"] / (model.data_dim * math.log(2.0))
            if model.data_kind == "8bit"
            else None
        ),
    }
    if jax.process_index() != 0:
        return result
    (workdir / "eval.json").write_text(json.dumps(result, indent=2))
    write_figures(spec, workdir, model, params, test, key)
    write_summary(spec, workdir, result)
    return result


def write_figures(
    spec: RunSpec,
    workdir: pathlib.Path,
    model: Model,
    params: Any,
    test: np.ndarray,
    rng_key: jax.Array,
) -> None:
    """``samples.png``, ``reconstructions.png``; for a VampPrior, ``pseudo_inputs.png``; for a
    model with one Gaussian latent, ``traversals.png`` (of the first test image); and where the
    run logged the KL per dimension, ``kl_per_dim.png``."""
    side = model.event_shape
    m, o = spec.model, spec.objective
    figures.save_grid(
        np.asarray(model.sample(params, jax.random.fold_in(rng_key, 1), 64)),
        workdir / "samples.png",
        8,
        f"samples ({m.architecture}, prior {m.prior}, {o.model} k={o.k})",
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
    name = f"{m.architecture}, {spec.data.dataset}, seed {spec.seed}"
    if supports_traversals(model):
        traversal = latent_traversal(model, params, test[0], test[:500])
        save_traversals(traversal, workdir / "traversals.png", f"latent traversals ({name})", side)
    save_kl_per_dim(
        read_records(workdir / "metrics.jsonl"),
        workdir / "kl_per_dim.png",
        f"KL per dimension ({name})",
    )


def load_run(workdir: str | pathlib.Path) -> tuple[RunSpec, Model, Any]:
    """``(spec, model, params)`` of a results folder: the best checkpoint by validation ELBO
    when the run kept one, else the latest. Folders written by earlier versions (a flat
    ``config.json``) load too."""
    workdir = pathlib.Path(workdir)
    path = workdir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {workdir} a jvae results folder?")
    spec = RunSpec.from_json(path.read_text())
    model = build_model(spec)
    optimizer = spec.train.optimizer(1)
    like = jax.eval_shape(
        lambda: initial_state(jax.random.PRNGKey(0), spec, model, optimizer, None)
    )
    for directory in (workdir / "best", workdir / "checkpoints"):
        if not directory.is_dir():
            continue
        checkpoints = Checkpoints(directory)
        try:
            if checkpoints.latest_step() is not None:
                return spec, model, jax.device_get(checkpoints.restore(like).params)
        finally:
            checkpoints.close()
    raise FileNotFoundError(f"no checkpoint in {workdir}/checkpoints: was the run trained?")
