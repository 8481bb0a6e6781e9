r"""The annealing chain of AIS: schedules :math:`0 = \beta_0 < \dots < \beta_T = 1`, an HMC
move (blackjax's kernel) that leaves :math:`f_\beta = r^{1-\beta} p^\beta` invariant, its step
size adapted towards a target acceptance, and the log-weight
:math:`\sum_t \log f_t(z_{t-1}) - \log f_{t-1}(z_{t-1})` accumulated along the chain. The
model-level driver (initial draws, pilot runs, batching, sharding) is :mod:`jvae.diagnostics.ais`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp

Params = Any
# (one example [*event_shape], flat latent [D]) -> (log r(z), log p(x, z)), scalars.
Pieces = Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]


@functools.cache
def _hmc_kernel() -> Callable:
    """blackjax's HMC kernel, imported on first use (importing blackjax compiles a little,
    which a command that fails on its flags should never do)."""
    import blackjax

    return blackjax.mcmc.hmc.build_kernel()


def _hmc_state() -> type:
    """blackjax's ``HMCState``."""
    import blackjax

    return blackjax.mcmc.hmc.HMCState


def sigmoid_schedule(t: jax.Array, num_steps: jax.Array | int, radius: float = 4.0) -> jax.Array:
    r"""Grosse et al.'s sigmoidal schedule: :math:`\beta_t` for steps ``t`` of ``T``.

    .. math:: \beta_t = \frac{\sigma(s_t) - \sigma(-\rho)}{\sigma(\rho) - \sigma(-\rho)},
              \qquad s_t = \rho\,(2t/T - 1),

    dense near both ends, where :math:`\log f_t` changes fastest (``radius`` :math:`\rho = 4`
    as in Wu et al.'s code). ``T`` may be traced, so one compilation serves every T.

    >>> print(sigmoid_schedule(jnp.arange(3), 2))
    [0.  0.5 1. ]
    """
    s = radius * (2.0 * jnp.asarray(t, jnp.float32) / num_steps - 1.0)
    lo, hi = jax.nn.sigmoid(-radius), jax.nn.sigmoid(radius)
    return (jax.nn.sigmoid(s) - lo) / (hi - lo)


def linear_schedule(t: jax.Array, num_steps: jax.Array | int) -> jax.Array:
    """:math:`\beta_t = t / T`.

    >>> print(linear_schedule(jnp.arange(5), 4))
    [0.   0.25 0.5  0.75 1.  ]
    """
    return jnp.asarray(t, jnp.float32) / num_steps


Schedule = Callable[[jax.Array, jax.Array], jax.Array]
SCHEDULES: dict[str, Schedule] = {"sigmoid": sigmoid_schedule, "linear": linear_schedule}


def check_steps(num_steps: int) -> None:
    """One-line ``ValueError`` unless ``num_steps`` (T) is a positive integer."""
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"the number of AIS steps T must be a positive integer; got {num_steps}.")


class AISResult(NamedTuple):
    """Per-example AIS output.

    Attributes:
      log_px: :math:`\\log \\frac1C \\sum_c w_c`, ``[B]``.
      stderr: its standard error (:func:`log_mean_exp`), ``[B]``.
      log_weights: :math:`\\log w_c`, ``[C, B]``.
      acceptance: mean HMC acceptance probability over moves and chains, ``[B]`` (NaN for
        ``T = 1``, which makes no move).
      step_size: geometric mean of the step sizes of the moves, ``[B]``.
    """

    log_px: jax.Array
    stderr: jax.Array
    log_weights: jax.Array
    acceptance: jax.Array
    step_size: jax.Array


def log_mean_exp(log_w: jax.Array) -> tuple[jax.Array, jax.Array]:
    r""":math:`\log \frac1C \sum_c w_c` over the first axis, and its delta-method standard
    error :math:`\mathrm{sd}_c(\tilde w_c) / \sqrt C` with :math:`\tilde w_c = w_c / \bar w`.

    Args:
      log_w: ``[C, B]``.

    Returns:
      ``([B], [B])``.

    >>> est, se = log_mean_exp(jnp.log(jnp.array([[1.0], [3.0]])))
    >>> print(f"{float(est[0]):.4f} {float(se[0]):.4f}")
    0.6931 0.5000
    """
    chex.assert_rank(log_w, 2)
    c = log_w.shape[0]
    est = jax.nn.logsumexp(log_w, axis=0) - math.log(c)
    finite = jnp.isfinite(est)
    w = jnp.exp(log_w - jnp.where(finite, est, 0.0))
    se = jnp.std(w, axis=0, ddof=1) / math.sqrt(c) if c > 1 else jnp.full_like(est, jnp.nan)
    return est, jnp.where(finite, se, jnp.nan)


def adapt_step_size(
    log_step_size: jax.Array,
    acceptance: jax.Array,
    target: float = 0.65,
    rate: float = 0.5,
) -> jax.Array:
    r"""One stochastic-approximation update of the log step size towards a target acceptance.

    .. math:: \log \epsilon_b \leftarrow \log \epsilon_b
              + \eta\,(\bar a_b - a^\star), \qquad \bar a_b = \frac1C \sum_c a_{c,b},

    (a smooth form of Wu et al.'s multiplicative rule, :math:`\epsilon \times 1.02` above the
    target and :math:`\times 0.98` below).

    Args:
      log_step_size: ``[B]``.
      acceptance: MH acceptance probabilities of the last move, ``[C, B]``.
      target: :math:`a^\star`.
      rate: :math:`\eta`.

    Returns:
      ``[B]``.
    """
    chex.assert_rank(acceptance, 2)
    chex.assert_shape(log_step_size, acceptance.shape[1:])
    return log_step_size + rate * (jnp.mean(acceptance, axis=0) - target)


def annealed_transition(
    rng_key: jax.Array,
    position: jax.Array,
    pieces: Callable[[jax.Array], tuple[jax.Array, jax.Array]],
    beta: jax.Array | float,
    step_size: jax.Array | float,
    leapfrog_steps: int = 10,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""One chain's move at level :math:`\beta`: the weight term at the current point, then an
    HMC move (blackjax) that leaves :math:`f_\beta = r^{1-\beta} p^\beta` invariant.

    One value-and-gradient of :math:`\log f_\beta` at ``position`` gives both the HMC state
    and :math:`\log p - \log r` there (kept apart, so the weight increment
    :math:`\Delta\beta\,(\log p - \log r)` has no cancellation error however small
    :math:`\Delta\beta`); the trajectory costs ``leapfrog_steps`` more gradients.

    Args:
      rng_key: PRNG key.
      position: ``[D]``.
      pieces: ``z [D] -> (log r(z), log p(x, z))``, scalars.
      beta: :math:`\beta`.
      step_size: leapfrog step size.
      leapfrog_steps: leapfrog steps per move.

    Returns:
      ``(new position [D], log p - log r at the old position, acceptance probability)``.
    """
    chex.assert_rank(position, 1)

    def log_f(z: jax.Array) -> tuple[jax.Array, jax.Array]:
        log_r, log_p = pieces(z)
        return log_r + beta * (log_p - log_r), log_p - log_r

    (value, diff), grad = jax.value_and_grad(log_f, has_aux=True)(position)
    state = _hmc_state()(position, value, grad)
    new, info = _hmc_kernel()(
        rng_key,
        state,
        lambda z: log_f(z)[0],
        step_size,
        jnp.ones_like(position),
        leapfrog_steps,
    )
    return new.position, diff, info.acceptance_rate


def _transitions(pieces: Pieces, leapfrog_steps: int) -> Callable:
    """``(keys [C, B], z [C, B, D], data [B, ...], beta, step [B]) -> (z, diff, acc)``, the
    per-chain move mapped over chains (inner) and examples (outer)."""

    def one(key, z, row, beta, step):
        return annealed_transition(key, z, lambda v: pieces(row, v), beta, step, leapfrog_steps)

    over_chains = jax.vmap(one, in_axes=(0, 0, None, None, None))
    return jax.vmap(over_chains, in_axes=(1, 1, 0, None, 0), out_axes=1)


def _differences(pieces: Pieces, data: jax.Array, z: jax.Array) -> jax.Array:
    """:math:`\\log p(x, z) - \\log r(z)` for every chain, ``[C, B]`` (no gradient)."""

    def one(row, v):
        log_r, log_p = pieces(row, v)
        return log_p - log_r

    return jax.vmap(jax.vmap(one, in_axes=(None, 0)), in_axes=(0, 1), out_axes=1)(data, z)


def anneal(
    rng_key: jax.Array,
    pieces: Pieces,
    data: jax.Array,
    z0: jax.Array,
    num_steps: jax.Array | int,
    schedule: Schedule,
    log_step_size: Callable[[jax.Array], jax.Array],
    leapfrog_steps: int = 10,
    reverse: bool = False,
) -> tuple[jax.Array, jax.Array]:
    r"""AIS log-weights of ``C`` chains per example along :math:`\beta_t` = ``schedule(t, T)``.

    Forward, it estimates :math:`\log p(x)` from :math:`z_0 \sim r`. With ``reverse`` the
    levels are :math:`\beta'_t = \beta_{T-t}` (from 1 to 0) and, from an exact posterior
    draw :math:`z_0`, it estimates :math:`-\log p(x)`: the reverse chain of bidirectional
    Monte Carlo. ``T`` may be traced (a ``fori_loop``), so one compilation serves every T.

    Args:
      rng_key: move ``t`` uses ``fold_in(rng_key, t)``.
      pieces: ``(data row, z [D]) -> (log r(z), log p(x, z))``.
      data: ``[B, ...]``, the examples.
      z0: initial points, ``[C, B, D]``.
      num_steps: T.
      schedule: ``(t, T) -> beta_t``.
      log_step_size: ``beta -> [B]``, the log step size of a move at level beta.
      leapfrog_steps: leapfrog steps per move.
      reverse: run the levels from 1 to 0.

    Returns:
      ``(log w [C, B], mean acceptance [B])`` (acceptance NaN when ``T = 1``).
    """
    chex.assert_rank(z0, 3)
    c, b, _ = z0.shape
    move = _transitions(pieces, leapfrog_steps)

    def beta(t: jax.Array) -> jax.Array:
        return schedule(num_steps - t, num_steps) if reverse else schedule(t, num_steps)

    def body(t, carry):
        z, log_w, acc = carry
        level = beta(t)
        keys = jax.random.split(jax.random.fold_in(rng_key, t), (c, b))
        z, diff, a = move(keys, z, data, level, jnp.exp(log_step_size(level)))
        return z, log_w + (level - beta(t - 1)) * diff, acc + a

    zeros = jnp.zeros_like(z0[..., 0])
    z, log_w, acc = jax.lax.fori_loop(1, num_steps, body, (z0, zeros, zeros))
    last = beta(num_steps) - beta(num_steps - 1)
    log_w = log_w + last * _differences(pieces, data, z)
    moves = num_steps - 1
    acceptance = jnp.where(moves > 0, jnp.mean(acc, axis=0) / jnp.maximum(moves, 1), jnp.nan)
    return log_w, acceptance


class StepSizes(NamedTuple):
    """A per-example step-size curve against the level :math:`\beta` (from :func:`warm_up`).

    Attributes:
      betas: levels of the pilot's moves, ``[M]`` (increasing).
      log_step_size: log step size used there, ``[M, B]``.
    """

    betas: jax.Array
    log_step_size: jax.Array

    def at(self, beta: jax.Array) -> jax.Array:
        """Log step sizes at level ``beta``, ``[B]``: linear in beta between the pilot's
        levels, constant beyond them."""
        return jax.vmap(lambda ys: jnp.interp(beta, self.betas, ys), in_axes=1)(self.log_step_size)


def warm_up(
    rng_key: jax.Array,
    pieces: Pieces,
    data: jax.Array,
    z0: jax.Array,
    num_steps: int,
    schedule: Schedule,
    log_step_size: jax.Array,
    leapfrog_steps: int = 10,
    target: float = 0.65,
    rate: float = 0.5,
) -> StepSizes:
    r"""The pilot run: ``W = num_steps`` levels of ``schedule`` from ``z0`` ``[C, B, D]``, with
    :func:`adapt_step_size` after each move, from ``log_step_size`` ``[B]``. Its weights are
    discarded; it returns the step size each of its ``W - 1`` moves used, against their
    levels."""
    chex.assert_rank([z0, log_step_size], [3, 1])
    if num_steps < 2:
        raise ValueError(f"the warm-up needs at least 2 levels (1 move); got {num_steps}.")
    c, b, _ = z0.shape
    move = _transitions(pieces, leapfrog_steps)

    def body(carry, t):
        z, log_step = carry
        level = schedule(t, num_steps)
        keys = jax.random.split(jax.random.fold_in(rng_key, t), (c, b))
        z, _, a = move(keys, z, data, level, jnp.exp(log_step))
        return (z, adapt_step_size(log_step, a, target, rate)), log_step

    ts = jnp.arange(1, num_steps)
    _, used = jax.lax.scan(body, (z0, log_step_size), ts)
    return StepSizes(schedule(ts, num_steps), used)
