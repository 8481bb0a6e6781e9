r"""Bidirectional Monte Carlo (Grosse et al. 2015, 2016): :math:`\log p(x)` sandwiched, on data
simulated from the model.

An ancestral draw :math:`z^\star \sim p(z)`, :math:`x \sim p(x \mid z^\star)` gives an example
with an exact posterior draw :math:`z^\star \sim p(z \mid x)`. Forward AIS
(:mod:`jvae.diagnostics.ais`) from :math:`r` to :math:`p(x, z)` gives
:math:`\mathbb E \log \hat p_{\mathrm{fwd}}(x) \le \log p(x)`. The reverse chain runs the same
levels from :math:`\beta = 1` down to 0, starting at :math:`z^\star`:

.. math:: \log w^{\mathrm{rev}} = \sum_{t=1}^{T} (\beta_{T-t} - \beta_{T-t+1})
          \,[\log p(x, z_{t-1}) - \log r(z_{t-1})],

an AIS estimate of :math:`1/p(x)` (:math:`\mathbb E\, w^{\mathrm{rev}} = 1/p(x)`), so the
stochastic upper bound is :math:`\log \hat p_{\mathrm{rev}}(x) = -\log \frac1C \sum_c
w^{\mathrm{rev}}_c`, with :math:`\mathbb E \log \hat p_{\mathrm{rev}}(x) \ge \log p(x)`
(every chain starts from the same :math:`z^\star`; each is a valid reverse chain, so Jensen's
inequality still applies to their mean). The gap between the two bounds shrinks to 0 as T
grows, and bounds the error of either estimate on such data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from jvae import compiler
from jvae.diagnostics import ais as ais_lib
from jvae.diagnostics import hmc_chain
from jvae.diagnostics.ais import AISOptions
from jvae.models.model import Model
from jvae.training import parallel

Params = Any


class BDMCResult(NamedTuple):
    """Per-example bounds of bidirectional Monte Carlo.

    Attributes:
      lower: forward AIS :math:`\\log \\hat p(x)`, ``[B]``.
      lower_stderr: its standard error, ``[B]``.
      upper: reverse :math:`-\\log \\frac1C \\sum_c w^{\\mathrm{rev}}_c`, ``[B]``.
      upper_stderr: its standard error, ``[B]``.
      acceptance: mean acceptance of the forward and reverse moves, ``[B]``.
    """

    lower: jax.Array
    lower_stderr: jax.Array
    upper: jax.Array
    upper_stderr: jax.Array
    acceptance: jax.Array


def bdmc(
    model: Model,
    params: Params,
    rng_key: jax.Array,
    x: jax.Array,
    latents: dict[str, jax.Array],
    num_steps: jax.Array | int,
    options: AISOptions | None = None,
) -> BDMCResult:
    r"""Forward and reverse AIS bounds for ``x`` ``[B, *event_shape]`` with exact posterior draws
    ``latents`` ``{name: [B, D_l]}`` (ancestral samples), T = ``num_steps`` (not jitted; see
    :func:`make_bdmc`).

    Keys: ``k_init, k_warm, k_fwd, k_rev = split(rng_key, 4)``; both directions use the step
    sizes of one pilot (:func:`jvae.diagnostics.ais.pilot_step_sizes`), read at each level.
    """
    options = options or AISOptions()
    chex.assert_shape(x, (None, *model.event_shape))
    z_star = jnp.concatenate([latents[n] for n in model.latent_names], axis=-1)
    chex.assert_shape(z_star, (x.shape[0], sum(model.latent_sizes)))
    k_init, k_warm, k_fwd, k_rev = jax.random.split(rng_key, 4)
    steps = ais_lib.pilot_step_sizes(model, params, k_warm, x, num_steps, options)
    pieces = ais_lib.annealing_pieces(model, params, options.init)
    schedule = ais_lib.SCHEDULES[options.schedule]
    z0 = ais_lib.initial_draw(model, params, k_init, x, options.num_chains, options.init)
    fwd, acc_fwd = hmc_chain.anneal(
        k_fwd, pieces, x, z0, num_steps, schedule, steps.at, options.leapfrog_steps
    )
    start = jnp.broadcast_to(z_star, (options.num_chains, *z_star.shape))
    rev, acc_rev = hmc_chain.anneal(
        k_rev, pieces, x, start, num_steps, schedule, steps.at, options.leapfrog_steps, True
    )
    lower, lower_se = ais_lib.log_mean_exp(fwd)
    neg_upper, upper_se = ais_lib.log_mean_exp(rev)
    return BDMCResult(lower, lower_se, -neg_upper, upper_se, 0.5 * (acc_fwd + acc_rev))


def make_bdmc(
    model: Model, options: AISOptions | None = None, mesh: Mesh | None = None
) -> Callable[..., BDMCResult]:
    """Jitted ``(params, rng_key, x[B, *event_shape], latents, num_steps) -> BDMCResult``; T is
    traced (one compilation for every T). With ``mesh``, examples over its ``'data'`` axis as in
    :func:`jvae.diagnostics.ais.make_ais`. One-line ``ValueError`` for a model that cannot be
    annealed or simulated."""
    options = options or AISOptions()
    options.check()
    ais_lib.check_annealable(model, options.init)
    if model.simulate is None:
        raise ValueError(
            "this model has no Model.simulate (ancestral draws of x with z): BDMC needs one."
        )

    def run(params, rng_key, x, latents, num_steps) -> BDMCResult:
        return bdmc(model, params, rng_key, x, latents, num_steps, options)

    if mesh is None:
        return compiler.jit(run)

    def local(params, rng_key, x, latents, num_steps) -> BDMCResult:
        key = jax.random.fold_in(rng_key, jax.lax.axis_index(parallel.DATA))
        return run(params, key, x, latents, num_steps)

    rows = P(parallel.DATA)
    mapped = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(P(), P(), rows, rows, P()),
        out_specs=BDMCResult(rows, rows, rows, rows, rows),
    )
    return compiler.jit(mapped)


def _make_simulate(model: Model, options: AISOptions, mesh: Mesh | None) -> Callable:
    return compiler.jit(model.simulate, static_argnums=2)


def simulated_bdmc(
    model: Model,
    params: Params,
    rng_key: jax.Array,
    num_examples: int,
    num_steps: int,
    options: AISOptions | None = None,
    *,
    batch_size: int = 100,
    mesh: Mesh | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """BDMC on ``num_examples`` examples simulated from the model.

    Batch ``j`` of ``batch_size`` examples (the last one cut to size) is simulated with
    ``fold_in(k_sim, j)`` and bounded with ``fold_in(k_run, j)``, ``k_sim, k_run =
    split(rng_key)``; the same ``rng_key`` gives the same data at every T. Memory is that of
    one batch; several devices split each batch (:func:`jvae.diagnostics.ais.default_mesh`).

    Returns:
      ``{'lower', 'lower_stderr', 'upper', 'upper_stderr', 'acceptance'}`` (float64 ``[N]``),
      ``'x'`` (the simulated data ``[N, *event_shape]``) and ``'seconds'``.
    """
    ais_lib.check_steps(num_steps)
    options = options or AISOptions()
    mesh, batch_size = ais_lib.default_mesh(mesh, min(batch_size, num_examples))
    evaluate = ais_lib.cached_evaluator(make_bdmc, model, options, mesh)
    simulate = ais_lib.cached_evaluator(_make_simulate, model, options, None)
    if mesh is not None:
        params = parallel.put(params, parallel.replicated(mesh))
    k_sim, k_run = jax.random.split(rng_key)
    out: dict[str, list[np.ndarray]] = {f: [] for f in (*BDMCResult._fields, "x")}
    t0 = time.perf_counter()
    for j, start in enumerate(range(0, num_examples, batch_size)):
        m = min(batch_size, num_examples - start)
        x, latents = simulate(params, jax.random.fold_in(k_sim, j), batch_size)
        key = jax.random.fold_in(k_run, j)
        if mesh is not None:
            key = parallel.put(key, parallel.replicated(mesh))
            x, latents = parallel.put(
                (np.asarray(x), jax.device_get(latents)), parallel.batch_sharded(mesh)
            )
        result = evaluate(params, key, x, latents, num_steps)
        if mesh is not None:
            result, x = ais_lib.gather((result, x))
        for f in BDMCResult._fields:
            out[f].append(np.asarray(getattr(result, f), np.float64)[:m])
        out["x"].append(np.asarray(x)[:m])
        if progress is not None:
            progress(m)
    arrays = {f: np.concatenate(v) for f, v in out.items()}
    arrays["seconds"] = np.float64(time.perf_counter() - t0)
    return arrays
