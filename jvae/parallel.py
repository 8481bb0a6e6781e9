"""Data parallelism over a device mesh, on one host or many, and K-sharded evaluation.

Training uses a 1-D mesh ``('data',)`` over all devices (of all processes): params, optimiser
state and keys are replicated (``P()``), each step's batch is split over ``P('data')``, and the
partitioner turns the mean loss into a gradient all-reduce. The same ``step`` and
:func:`~jvae.train.make_epoch` run unchanged on 1 or N devices; only the shardings given to
``jax.jit`` and the ``shard_batch`` constraint differ.

Multi-host feeding. Every process holds the whole (small) training set and calls the same
jitted epoch with the same replicated key, so all processes compute the same global
permutation. The dataset is put on the mesh replicated with :func:`put` (each process fills
its own devices from its local copy: ``jax.make_array_from_callback``), and each step's
``jnp.take`` gather happens *inside* the jitted scan under the global mesh, constrained to
``P('data')``: the partitioner has each device gather only its rows of the global batch, so a
process feeds exactly its share without any host-to-device traffic per step and without a
per-process slicing of the permutation that could drift out of sync. Per-step batches built
on the host would instead use ``jax.make_array_from_process_local_data``; keeping the data on
device avoids that.

Evaluation can shard the sample axis too: on a 2-D mesh ``('data', 'samples')`` each device
draws ``K / S`` of the samples for its rows and streams them in chunks; the per-device bounds
:math:`\\mathcal L^{(s)}` are combined as
:math:`\\mathcal L_K = \\log \\frac1S \\sum_s e^{\\mathcal L^{(s)}}` with a ``pmax`` and a
``psum`` (max-shifted, so it never overflows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jvae import compiler, evaluate
from jvae.models import Model

DATA = "data"
SAMPLES = "samples"


def initialize(
    coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> None:
    """``jax.distributed.initialize``: from the arguments, or JAX's own environment detection
    (``JAX_COORDINATOR_ADDRESS``, SLURM, Open MPI, Cloud TPU) where they are ``None``."""
    jax.distributed.initialize(coordinator, num_processes, process_id)


def data_mesh(devices: list[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh ``('data',)`` over ``devices`` (default: all devices of all processes)."""
    devices = jax.devices() if devices is None else devices
    return jax.make_mesh((len(devices),), (DATA,), (AxisType.Auto,), devices=devices)


def eval_mesh(sample_shards: int, devices: list[jax.Device] | None = None) -> Mesh:
    """A 2-D mesh ``('data', 'samples')`` with ``sample_shards`` devices along the samples."""
    devices = jax.devices() if devices is None else devices
    if sample_shards < 1 or len(devices) % sample_shards:
        raise ValueError(f"sample_shards={sample_shards} must divide the {len(devices)} devices.")
    shape = (len(devices) // sample_shards, sample_shards)
    return jax.make_mesh(shape, (DATA, SAMPLES), (AxisType.Auto,) * 2, devices=devices)


def check_batch_size(batch_size: int, mesh: Mesh, name: str = "batch_size") -> None:
    """One-line ``ValueError`` unless ``batch_size`` splits evenly over the mesh's data axis."""
    n = mesh.shape[DATA]
    if batch_size % n:
        raise ValueError(
            f"{name} {batch_size} is not divisible by the {n} devices of the data axis; "
            f"use a multiple of {n}."
        )


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(DATA))


def put(tree: Any, sharding: NamedSharding) -> Any:
    """Places host values (the same on every process) on the mesh with ``sharding``; each
    process fills only its own devices, so this works on one host or many."""

    def put_leaf(x: Any) -> jax.Array:
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(put_leaf, tree)


def constrain_batch(mesh: Mesh) -> Callable[[jax.Array], jax.Array]:
    """The ``shard_batch`` hook of :func:`~jvae.train.make_epoch`: the batch on ``P('data')``."""
    sharding = batch_sharded(mesh)
    return lambda batch: jax.lax.with_sharding_constraint(batch, sharding)


def jit_epoch(epoch: Callable, mesh: Mesh, donate: bool = True) -> Callable:
    """``epoch(rng_key, state, data)`` jitted (with :mod:`jvae.compiler`'s options) with
    everything replicated (the batch constraint lives inside the epoch, see
    :func:`constrain_batch`); donates the state."""
    rep = replicated(mesh)
    return compiler.jit(
        epoch, in_shardings=rep, out_shardings=rep, donate_argnums=(1,) if donate else ()
    )


def make_sharded_bound_evaluator(
    model: Model, num_samples: int, mesh: Mesh, chunk_size: int = 500
) -> Callable[[Any, jax.Array, jax.Array], jax.Array]:
    r"""Jitted ``(params, rng_key, x[B, D]) -> L_K [B]`` on a ``('data', 'samples')`` mesh.

    Device ``(d, s)`` draws ``K / S`` samples for its rows with key
    ``fold_in(fold_in(rng_key, d), s)``, streamed in chunks (:func:`evaluate.streamed_iwae`);
    then :math:`\mathcal L_K = m + \log \frac1S \sum_s e^{\mathcal L^{(s)} - m}` with
    :math:`m = \max_s \mathcal L^{(s)}` (``pmax``, ``psum`` over ``'samples'``).
    """
    shards = mesh.shape[SAMPLES]
    if num_samples % shards:
        raise ValueError(
            f"K={num_samples} is not divisible by the {shards} sample shards of the mesh."
        )

    def local(params: Any, rng_key: jax.Array, x: jax.Array) -> jax.Array:
        key = jax.random.fold_in(rng_key, jax.lax.axis_index(DATA))
        key = jax.random.fold_in(key, jax.lax.axis_index(SAMPLES))

        def log_w_fn(k: jax.Array, n: int) -> jax.Array:
            return model.log_weights(params, k, x, n).total

        bound = evaluate.streamed_iwae(log_w_fn, key, num_samples // shards, chunk_size)
        m = jax.lax.pmax(bound, SAMPLES)
        m_safe = jnp.where(jnp.isfinite(m), m, 0.0)
        total = jax.lax.psum(jnp.exp(bound - m_safe), SAMPLES)
        log_total = jnp.log(jnp.where(total > 0, total, 1.0))
        return jnp.where(total > 0, log_total + m_safe, -jnp.inf) - jnp.log(shards)

    mapped = jax.shard_map(local, mesh=mesh, in_specs=(P(), P(), P(DATA)), out_specs=P(DATA))
    return compiler.jit(mapped)


def sharded_dataset_bound(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    data: np.ndarray | jax.Array,
    num_samples: int,
    mesh: Mesh,
    batch_size: int = 100,
    chunk_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Per-example :math:`\\mathcal L_K` over ``data[N, D]``, ``[N]``, like
    :func:`evaluate.dataset_bound` but with rows over ``'data'`` and samples over
    ``'samples'``. Batch ``j`` uses ``fold_in(rng_key, j)``; a smaller last batch is padded."""
    check_batch_size(batch_size, mesh, "eval batch size")
    evaluate_batch = make_sharded_bound_evaluator(model, num_samples, mesh, chunk_size)
    params = put(params, replicated(mesh))

    def batch_bound(key: jax.Array, x: np.ndarray) -> np.ndarray:
        values = evaluate_batch(params, put(key, replicated(mesh)), put(x, batch_sharded(mesh)))
        return multihost_utils.process_allgather(values, tiled=True)

    return evaluate.map_batches(batch_bound, rng_key, np.asarray(data), batch_size, progress)
