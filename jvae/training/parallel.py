"""Data parallelism over a device mesh, on one host or many; the meshes of K-sharded evaluation.

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

Evaluation can shard the sample axis too, on a 2-D mesh ``('data', 'samples')``
(:func:`eval_mesh`; the evaluator is :func:`jvae.diagnostics.nll.make_sharded_bound_evaluator`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jvae import compiler

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
