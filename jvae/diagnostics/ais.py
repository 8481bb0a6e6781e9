r"""Annealed importance sampling (Neal 2001): :math:`\log p(x)` of any jvae model, from below.

Along a geometric path from an initial density :math:`r(z)` (the posterior :math:`q(z \mid x)`,
or the prior :math:`p(z)`) to the joint :math:`p(x, z)`,

.. math:: f_t(z) = r(z)^{1 - \beta_t}\, p(x, z)^{\beta_t}, \qquad
          0 = \beta_0 < \beta_1 < \dots < \beta_T = 1,

each of ``C`` chains per example starts at :math:`z_0 \sim r` and, for :math:`t = 1 .. T`,

.. math:: \log w \mathrel{+}= (\beta_t - \beta_{t-1})
          \,[\log p(x, z_{t-1}) - \log r(z_{t-1})], \qquad
          z_t \sim K_t(z_{t-1}, \cdot) \ (t < T),

where :math:`K_t` is an HMC move (blackjax's kernel) that leaves :math:`f_t` invariant. Then
:math:`\mathbb E\, w = p(x)` and the estimate :math:`\log \hat p(x) = \log \frac1C \sum_c w_c`
has :math:`\mathbb E \log \hat p(x) \le \log p(x)`, approaching it as T grows. With ``T = 1``
no move is made and :math:`\log w = \log p(x, z_0) - \log q(z_0 \mid x)`: importance
sampling with :math:`K = C`.

Choices follow Wu et al. (2017, "On the quantitative analysis of decoder-based generative
models"): the sigmoidal schedule of Grosse et al. (2015) (:func:`sigmoid_schedule`; a linear
one too), 10 leapfrog steps, the step size adapted towards 0.65 acceptance. Wu et al. adapt
during the run itself; here a short pilot run (``warmup_steps`` intermediate distributions on
fresh chains, :func:`adapt_step_size` after each move) records the step size against
:math:`\beta`, and the run proper uses that curve, fixed, so the estimate is exact AIS. Step
sizes are per example (shared by its chains).

The latents of a model with several layers are annealed jointly, concatenated into one vector
(bottom layer first). The densities come from :attr:`jvae.models.model.Model.log_joint` and
:attr:`~jvae.models.model.Model.log_posterior`; a model without a density at a given point
raises a one-line ``ValueError`` (:func:`check_annealable`). Cost per example and chain:
:math:`(T - 1 + W - 1)(L + 1)` gradient evaluations of :math:`\log f_t` (``W`` warm-up steps,
``L`` leapfrog steps), see :func:`gradient_evaluations`.

The BDMC upper bound (reverse chains) is :mod:`jvae.diagnostics.bdmc`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from jvae import compiler
from jvae.diagnostics.hmc_chain import (
    SCHEDULES,
    AISResult,
    Pieces,
    StepSizes,
    anneal,
    check_steps,
    log_mean_exp,
    warm_up,
)
from jvae.models.model import Model
from jvae.training import parallel

Params = Any
INITS = ("posterior", "prior")


def check_annealable(model: Model, init: str = "posterior") -> None:
    """One-line ``ValueError`` unless AIS can run on ``model`` from ``init``: the model must
    give :math:`\\log p(x, z)` (and, from the posterior, :math:`\\log q(z \\mid x)`) at a given
    continuous point."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}; got {init!r}.")
    if model.log_joint is None or (init == "posterior" and model.log_posterior is None):
        missing = "log_joint" if model.log_joint is None else "log_posterior"
        raise ValueError(
            f"this model has no Model.{missing} (a density at a given z): assemble it from parts "
            "or give it one to anneal it."
        )
    if model.parts is not None and init == "posterior":
        for lat in model.parts.latents:
            if not hasattr(lat.posterior, "distribution"):
                raise ValueError(
                    f"q({lat.name} | ...) is a {type(lat.posterior).__name__} with no density at "
                    "a given z: anneal from the prior instead (init='prior', --ais-init prior)."
                )
    probe = jnp.zeros((1, *model.event_shape))
    shapes = jax.eval_shape(
        lambda k: model.importance_samples(model.init(k), k, probe, 1)[1], jax.random.PRNGKey(0)
    )
    discrete = [n for n, s in shapes.items() if not jnp.issubdtype(s.dtype, jnp.floating)]
    if discrete:
        raise ValueError(f"latents {discrete} are discrete: HMC needs continuous latents.")


def annealing_pieces(model: Model, params: Params, init: str = "posterior") -> Pieces:
    r"""``(x [*event_shape], z [D]) -> (log r(z), log p(x, z))`` for one example and one chain, with
    ``z`` the concatenation of the model's latents (bottom first) and :math:`r` the posterior
    :math:`q(z \mid x)` or the prior :math:`p(z)`."""
    names, sizes = model.latent_names, model.latent_sizes
    bounds = np.cumsum((0,) + tuple(sizes))

    def pieces(x: jax.Array, z: jax.Array) -> tuple[jax.Array, jax.Array]:
        values = {n: z[None, None, bounds[i] : bounds[i + 1]] for i, n in enumerate(names)}
        xb = x[None]
        log_lik, log_prior = model.log_joint(params, xb, values)
        if init == "posterior":
            log_r = model.log_posterior(params, xb, values)
        else:
            log_r = log_prior
        return log_r[0, 0], (log_lik + log_prior)[0, 0]

    return pieces


def initial_draw(
    model: Model, params: Params, rng_key: jax.Array, x: jax.Array, num_chains: int, init: str
) -> jax.Array:
    """``C`` draws per example from the initial distribution, ``[C, B, D]`` (latents
    concatenated): ``model.importance_samples(params, rng_key, x, C)``'s draws from the
    posterior, or ``model.simulate(params, rng_key, C * B)``'s latents from the prior."""
    b = x.shape[0]
    if init == "posterior":
        values = model.importance_samples(params, rng_key, x, num_chains)[1]
        values = [values[n] for n in model.latent_names]
    else:
        latents = model.simulate(params, rng_key, num_chains * b)[1]
        values = [jnp.reshape(latents[n], (num_chains, b, -1)) for n in model.latent_names]
    return jnp.concatenate(values, axis=-1)


def gradient_evaluations(
    num_steps: int, num_chains: int = 16, leapfrog_steps: int = 10, warmup_steps: int = 20
) -> int:
    """Value-and-gradient evaluations of :math:`\\log p(x, z)` per example (each one decoder
    pass forward and back): :math:`C\\,(T - 1 + W - 1)(L + 1)`, plus ``C`` forward passes
    (the last weight term) not counted; ``W = 0`` when ``T = 1``."""
    warm = max(warmup_steps - 1, 0) if num_steps > 1 else 0
    return num_chains * (num_steps - 1 + warm) * (leapfrog_steps + 1)


class AISOptions(NamedTuple):
    """The fixed choices of an AIS run (see :func:`make_ais`)."""

    num_chains: int = 16
    schedule: str = "sigmoid"
    init: str = "posterior"
    leapfrog_steps: int = 10
    warmup_steps: int = 20
    target_acceptance: float = 0.65
    initial_step_size: float = 0.1
    adapt_rate: float = 0.5

    def check(self) -> None:
        """One-line ``ValueError`` for an invalid option."""
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {tuple(SCHEDULES)}; got {self.schedule!r}.")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}; got {self.init!r}.")
        if min(self.num_chains, self.leapfrog_steps) < 1 or self.warmup_steps == 1:
            raise ValueError(
                "need num_chains >= 1, leapfrog_steps >= 1 and warmup_steps 0 or >= 2; got "
                f"{self.num_chains}, {self.leapfrog_steps}, {self.warmup_steps}."
            )
        if not (0.0 < self.target_acceptance < 1.0 and self.initial_step_size > 0.0):
            raise ValueError("need 0 < target_acceptance < 1 and initial_step_size > 0.")


def pilot_step_sizes(
    model: Model,
    params: Params,
    rng_key: jax.Array,
    x: jax.Array,
    num_steps: jax.Array | int,
    options: AISOptions,
) -> StepSizes:
    """The step-size curve of a :func:`warm_up` pilot of ``options.warmup_steps`` levels on
    fresh chains (key ``rng_key``); the constant initial step size when ``warmup_steps`` is 0
    or ``T = 1`` (no move to make: the pilot is skipped at run time)."""
    # derived from x, so that under shard_map it varies over the devices as the pilot's carry
    start = jnp.zeros_like(jnp.reshape(x, (x.shape[0], -1))[:, 0]) + math.log(
        options.initial_step_size
    )
    moves = max(options.warmup_steps - 1, 1)
    constant = StepSizes(
        jnp.zeros((moves,), start.dtype), jnp.broadcast_to(start, (moves, *start.shape))
    )
    if options.warmup_steps == 0:
        return constant

    def pilot() -> StepSizes:
        k_draw, k_move = jax.random.split(rng_key)
        z0 = initial_draw(model, params, k_draw, x, options.num_chains, options.init)
        return warm_up(
            k_move,
            annealing_pieces(model, params, options.init),
            x,
            z0,
            options.warmup_steps,
            SCHEDULES[options.schedule],
            start,
            options.leapfrog_steps,
            options.target_acceptance,
            options.adapt_rate,
        )

    return jax.lax.cond(num_steps > 1, pilot, lambda: constant)


def ais(
    model: Model,
    params: Params,
    rng_key: jax.Array,
    x: jax.Array,
    num_steps: jax.Array | int,
    options: AISOptions | None = None,
) -> AISResult:
    r"""AIS estimates of :math:`\log p(x)` for a batch ``x`` ``[B, *event_shape]`` with
    T = ``num_steps`` (not jitted; see :func:`make_ais`).

    Keys: ``k_init, k_warm, k_run = split(rng_key, 3)``; the initial points are
    :func:`initial_draw` with ``k_init`` (so with ``T = 1`` the log-weights are those of
    ``model.log_weights(params, k_init, x, C)`` from the posterior), the pilot uses ``k_warm``
    (it runs whatever T, so that every T sees the same step sizes), move ``t``
    ``fold_in(k_run, t)``.
    """
    chex.assert_shape(x, (None, *model.event_shape))
    options = options or AISOptions()
    k_init, k_warm, k_run = jax.random.split(rng_key, 3)
    steps = pilot_step_sizes(model, params, k_warm, x, num_steps, options)
    z0 = initial_draw(model, params, k_init, x, options.num_chains, options.init)
    pieces = annealing_pieces(model, params, options.init)
    schedule = SCHEDULES[options.schedule]
    log_w, acceptance = anneal(
        k_run, pieces, x, z0, num_steps, schedule, steps.at, options.leapfrog_steps
    )
    est, se = log_mean_exp(log_w)
    return AISResult(est, se, log_w, acceptance, jnp.exp(jnp.mean(steps.log_step_size, axis=0)))


def make_ais(
    model: Model, options: AISOptions | None = None, mesh: Mesh | None = None
) -> Callable[[Params, jax.Array, jax.Array, jax.Array | int], AISResult]:
    """Jitted ``(params, rng_key, x[B, *event_shape], num_steps) -> AISResult`` (:func:`ais`
    with its choices bound); T is traced, so one compilation serves every T.

    With ``mesh``, examples are split over its ``'data'`` axis (``shard_map``; ``B`` a
    multiple of that axis), params replicated, and device ``d`` uses ``fold_in(rng_key, d)``.
    Raises a one-line ``ValueError`` for invalid options or a model that cannot be annealed.
    """
    options = options or AISOptions()
    options.check()
    check_annealable(model, options.init)

    def run(params: Params, rng_key: jax.Array, x: jax.Array, num_steps: jax.Array) -> AISResult:
        return ais(model, params, rng_key, x, num_steps, options)

    if mesh is None:
        return compiler.jit(run)

    def local(params, rng_key, x, num_steps) -> AISResult:
        key = jax.random.fold_in(rng_key, jax.lax.axis_index(parallel.DATA))
        return run(params, key, x, num_steps)

    rows = P(parallel.DATA)
    out_specs = AISResult(rows, rows, P(None, parallel.DATA), rows, rows)
    mapped = jax.shard_map(local, mesh=mesh, in_specs=(P(), P(), rows, P()), out_specs=out_specs)
    return compiler.jit(mapped)


def default_mesh(mesh: Mesh | None, batch_size: int) -> tuple[Mesh | None, int]:
    """``(mesh, batch_size)`` of a dataset pass: the given mesh, or a ``('data',)`` mesh over
    all devices when there are several (none on one device); ``batch_size`` rounded up to a
    multiple of the data axis."""
    if mesh is None and jax.device_count() > 1:
        mesh = parallel.data_mesh()
    if mesh is not None:
        n = mesh.shape[parallel.DATA]
        batch_size = -(-batch_size // n) * n
    return mesh, batch_size


def gather(tree: Any) -> Any:
    """Every leaf of a result sharded over a mesh, whole on every process (numpy)."""
    return jax.tree.map(lambda v: multihost_utils.process_allgather(v, tiled=True), tree)


_EVALUATORS: dict[tuple, tuple[Model, Mesh | None, Callable]] = {}


def cached_evaluator(
    make: Callable[..., Callable], model: Model, options: AISOptions, mesh: Mesh | None = None
) -> Callable:
    """``make(model, options, mesh)``, built once per (model object, options, mesh) so that
    repeated dataset passes (a sweep over T) reuse one compilation; a few entries are kept."""
    key = (make, id(model), options, id(mesh))
    hit = _EVALUATORS.get(key)
    if hit is not None and hit[0] is model and hit[1] is mesh:
        return hit[2]
    if len(_EVALUATORS) >= 8:
        _EVALUATORS.pop(next(iter(_EVALUATORS)))
    fn = make(model, options, mesh)
    _EVALUATORS[key] = (model, mesh, fn)
    return fn


def over_batches(
    fn: Callable[[jax.Array, jax.Array], Any],
    rng_key: jax.Array,
    data: np.ndarray,
    batch_size: int,
    fields: tuple[str, ...],
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """``fn(fold_in(rng_key, j), x_j)`` over fixed-size batches of ``data`` ``[N, ...]`` (the
    last one zero-padded, so ``fn`` compiles once) -> ``{field: [N]}`` (float64) of the named
    ``[B]`` fields of its result."""
    n = data.shape[0]
    out: dict[str, list[np.ndarray]] = {f: [] for f in fields}
    for j, start in enumerate(range(0, n, batch_size)):
        x = data[start : start + batch_size]
        m = x.shape[0]
        if m < batch_size:
            x = np.concatenate([x, np.zeros((batch_size - m, *x.shape[1:]), x.dtype)])
        result = fn(jax.random.fold_in(rng_key, j), x)
        for f in fields:
            out[f].append(np.asarray(getattr(result, f), np.float64)[:m])
        if progress is not None:
            progress(m)
    return {f: np.concatenate(v) for f, v in out.items()}


def dataset_ais(
    model: Model,
    params: Params,
    rng_key: jax.Array,
    data: np.ndarray | jax.Array,
    num_steps: int,
    options: AISOptions | None = None,
    *,
    batch_size: int = 100,
    mesh: Mesh | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Per-example AIS over ``data`` ``[N, *event_shape]``: ``{'log_px', 'stderr', 'acceptance',
    'step_size'}``, each ``[N]`` (float64), plus ``'seconds'`` (wall time of the whole pass).

    Memory is that of one batch: ``C * batch_size`` chains at a time (one jitted call each;
    batch ``j`` uses ``fold_in(rng_key, j)``). With several devices (or a given ``mesh``) the
    batch is split over the ``'data'`` axis (:func:`default_mesh`).
    """
    check_steps(num_steps)
    options = options or AISOptions()
    data = np.asarray(data)
    mesh, batch_size = default_mesh(mesh, min(batch_size, data.shape[0]))
    evaluate = cached_evaluator(make_ais, model, options, mesh)
    if mesh is not None:
        params = parallel.put(params, parallel.replicated(mesh))

    def fn(key: jax.Array, x: np.ndarray) -> AISResult:
        if mesh is None:
            return evaluate(params, key, jnp.asarray(x), num_steps)
        result = evaluate(
            params,
            parallel.put(key, parallel.replicated(mesh)),
            parallel.put(x, parallel.batch_sharded(mesh)),
            num_steps,
        )
        return gather(result)

    t0 = time.perf_counter()
    fields = ("log_px", "stderr", "acceptance", "step_size")
    out = over_batches(fn, rng_key, data, batch_size, fields, progress)
    out["seconds"] = np.float64(time.perf_counter() - t0)
    return out
