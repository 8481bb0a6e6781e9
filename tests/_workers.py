"""Subprocess entry points for the parallel and fault-tolerance tests.

``python tests/_workers.py MODE OUT [ARGS...]``; XLA_FLAGS and the like come from the caller's
environment, which is why these run in their own process (jax reads them at import).

  sharding OUT          8 fake devices: sharded vs single-device step, shardings, traces,
                        K-sharded evaluation; writes a JSON of measured values to OUT.
  train OUT WORKDIR PROCESS_ID NUM_PROCESSES PORT [N EPOCHS]
                        ``jvae.run.train.train`` of :func:`config` on :func:`random_arrays`
                        (multi-process when NUM_PROCESSES > 1, resuming if WORKDIR holds
                        checkpoints); process 0 writes the final params to OUT (npz).
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np

FAST_XLA = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


def start(*args: str, devices: int | None = None) -> subprocess.Popen:
    """Starts this script with ``args``; with ``devices``, that many fake CPU devices and
    quick (unoptimised) XLA compiles, else the caller's environment unchanged."""
    env = dict(os.environ)
    if devices is not None:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices} {FAST_XLA}"
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> None:
    """Waits for ``proc``; fails with its output unless it exited 0."""
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_arrays(n: int = 240, seed: int = 0) -> dict[str, np.ndarray]:
    """Grey-level ``train [n, 28, 28, 1]`` and binary ``test [20, 28, 28, 1]`` drawn
    uniformly."""
    rng = np.random.default_rng(seed)
    return {
        "train": rng.uniform(size=(n, 28, 28, 1)).astype(np.float32),
        "test": (rng.uniform(size=(20, 28, 28, 1)) < 0.3).astype(np.float32),
    }


def config(epochs: int = 2, **overrides):
    """A small IWAE(k=2) run at batch 24."""
    from jvae.run.spec import RunSpec

    return RunSpec.from_preset("smoke", k=2, batch_size=24, epochs=epochs, nll_k=4, **overrides)


def save_params(path: str, params) -> None:
    import jax

    leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(params))
    np.savez(path, **{jax.tree_util.keystr(k): np.asarray(v) for k, v in leaves})


def rel_err(a, b) -> float:
    """Largest over leaves of ``max|a - b| / max|a|``."""
    import jax

    return max(
        float(np.max(np.abs(np.asarray(x) - np.asarray(y))) / (np.max(np.abs(x)) + 1e-12))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def sharding(out: str) -> None:
    import chex
    import jax
    import jax.numpy as jnp

    from jvae.diagnostics import nll as evaluate
    from jvae.models import linear_gaussian
    from jvae.training import parallel
    from jvae.training.train import init_state, make_epoch, make_optimizer, make_train_step

    assert jax.device_count() == 8, jax.devices()
    result: dict = {}
    model = linear_gaussian.model(data_dim=6, latent=3)
    optimizer = make_optimizer(4)
    state = init_state(jax.random.PRNGKey(0), model, optimizer)
    # A worse q than the exact posterior, so that gradients are not zero.
    state = state._replace(
        params={**state.params, "encoder": {**state.params["encoder"], "c": jnp.ones(3)}}
    )
    state = state._replace(opt_state=optimizer.init(state.params))
    state = jax.tree.map(np.asarray, state)  # strong types: log_s is weakly typed
    data = linear_gaussian.sample_data(jax.random.PRNGKey(1), state.params, 64)
    key = jax.random.PRNGKey(2)
    mesh = parallel.data_mesh()
    rep, shard = parallel.replicated(mesh), parallel.batch_sharded(mesh)

    # Loss and gradients: one device vs the batch over 8 devices.
    objective = jax.value_and_grad(
        lambda p, x: -jnp.mean(jax.nn.logsumexp(model.log_weights(p, key, x, 4).total, axis=0))
    )
    loss1, grads1 = jax.jit(objective)(state.params, data)
    loss8, grads8 = jax.jit(objective, in_shardings=(rep, shard), out_shardings=rep)(
        parallel.put(state.params, rep), parallel.put(data, shard)
    )
    result["loss"] = [float(loss1), float(loss8)]
    result["grad_rel_err"] = rel_err(grads1, grads8)
    result["grad_shardings"] = sorted({str(g.sharding.spec) for g in jax.tree.leaves(grads8)})

    # The jitted epoch (4 steps of 16): the step is traced once, the epoch compiled once for
    # three calls, outputs stay replicated, and the parameters match one device's.
    step = make_train_step(model, optimizer, num_samples=4, binarize=False)
    epoch_fn = parallel.jit_epoch(
        make_epoch(chex.assert_max_traces(step, n=1), 16, parallel.constrain_batch(mesh)), mesh
    )
    e, d, k = parallel.put((state, data, key), rep)
    hlo = epoch_fn.lower(k, e, d).compile().as_text()
    result["epoch_all_reduce"] = "all-reduce" in hlo  # the gradient is summed over devices
    for _ in range(3):
        e, metrics = epoch_fn(k, e, d)
    result["epoch_cache_size"] = epoch_fn._cache_size()
    result["epoch_step"] = int(e.step)
    result["epoch_shardings"] = sorted(
        {str(x.sharding.spec) for x in jax.tree.leaves((e, metrics))}
    )
    result["epoch_mesh_devices"] = sorted(
        {len(x.sharding.device_set) for x in jax.tree.leaves((e, metrics))}
    )
    one_device = jax.jit(make_epoch(step, 16))
    e1 = state
    for _ in range(3):
        e1, _ = one_device(key, e1, data)
    result["epoch_rel_err"] = rel_err(e1.params, e.params)

    # K-sharded evaluation. With q the exact posterior every log-weight is log p(x): all three
    # agree to float precision whatever the draws.
    exact = model.init(jax.random.PRNGKey(3))
    x = np.asarray(linear_gaussian.sample_data(jax.random.PRNGKey(4), exact, 30))
    log_px = np.asarray(linear_gaussian.exact_log_marginal(exact, x))
    args = (jax.random.PRNGKey(5), x, 64)
    result["exact_plain_err"] = float(
        np.max(np.abs(evaluate.dataset_bound(model, exact, *args, 16, 8) - log_px))
    )
    result["exact_sharded_err"] = float(
        np.max(
            np.abs(
                evaluate.sharded_dataset_bound(model, exact, *args, parallel.eval_mesh(4), 16, 8)
                - log_px
            )
        )
    )
    # With a worse q the two estimates of each L_K(x_i) differ by Monte Carlo error only: the
    # per-example differences are independent with mean zero.
    worse = {**exact, "encoder": {**exact["encoder"], "c": exact["encoder"]["c"] + 0.7}}
    plain = evaluate.dataset_bound(model, worse, jax.random.PRNGKey(6), x, 256, 16, 64)
    sharded = evaluate.sharded_dataset_bound(
        model, worse, jax.random.PRNGKey(7), x, 256, parallel.eval_mesh(4), 16, 32
    )
    result["worse_mean_diff"] = float(np.mean(plain - sharded))
    result["worse_diff_stderr"] = float(np.std(plain - sharded, ddof=1) / np.sqrt(len(x)))
    result["worse_gap"] = float(np.mean(log_px - plain))
    result["eval_mesh"] = dict(parallel.eval_mesh(4).shape)
    with open(out, "w") as f:
        json.dump(result, f)


def train(
    out: str,
    workdir: str,
    process_id: str,
    num_processes: str,
    port: str,
    n: str = "240",
    epochs: str = "2",
) -> None:
    import jax

    if int(num_processes) > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        from jvae.training import parallel

        parallel.initialize(f"127.0.0.1:{port}", int(num_processes), int(process_id))
    from jvae.run.train import train as train_run

    resume = (pathlib.Path(workdir) / "checkpoints").is_dir()
    arrays = random_arrays(int(n))
    state = train_run(config(int(epochs)), workdir, resume=resume, progress=False, arrays=arrays)
    state = state.states[0]
    if jax.process_index() == 0:
        save_params(out, state.params)


if __name__ == "__main__":
    {"sharding": sharding, "train": train}[sys.argv[1]](*sys.argv[2:])
