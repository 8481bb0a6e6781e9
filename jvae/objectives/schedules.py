r"""KL-weight and capacity schedules, as optax-style functions of the step count.

- :func:`linear_kl_warmup`: :math:`\beta` from 0 to 1 over ``T`` steps (Bowman et al. 2016;
  Sonderby et al. 2016; the VampPrior paper's 100 epochs).
- :func:`cyclical_kl_annealing`: ``N`` such ramps in ``T`` steps, each over the first
  ``ratio`` of its cycle and then flat at 1 (Fu et al. 2019, "Cyclical annealing schedule").
- :func:`linear_capacity`: the capacity :math:`C` from 0 to :math:`C_{\max}` over ``T`` steps
  (Burgess et al. 2018).

A schedule maps the step count (an int scalar, traced or not) to a float32 scalar; its
parameters may be traced values too (a sweep vmaps over :math:`C_{\max}`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def _ramp(count: jax.Array, steps: int) -> jax.Array:
    """:math:`\\min(1, t / T)` as float32."""
    return jnp.minimum(1.0, jnp.asarray(count, jnp.float32) / steps)


def _check_steps(name: str, steps: int) -> None:
    if steps < 0:
        raise ValueError(f"the {name} needs steps >= 0; got {steps}.")


def linear_kl_warmup(steps: int) -> optax.Schedule:
    r""":math:`\beta(t) = \min(1, t / T)` for ``T = steps`` (``steps = 0``: always 1).

    >>> schedule = linear_kl_warmup(4)
    >>> [float(schedule(t)) for t in (0, 2, 4, 9)]
    [0.0, 0.5, 1.0, 1.0]
    """
    _check_steps("KL warm-up", steps)
    if steps == 0:
        return lambda count: jnp.ones((), jnp.float32)
    return lambda count: _ramp(count, steps)


def cyclical_kl_annealing(steps: int, cycles: int, ratio: float = 0.5) -> optax.Schedule:
    r"""Fu et al. 2019's cyclical schedule: ``cycles`` ramps within the first ``steps``, then 1.

    .. math:: \beta(t) = \min\Big(1, \frac{\tau(t)}{R}\Big), \quad
              \tau(t) = \frac{t \bmod (T/N)}{T/N} \ \text{for}\ t < T, \qquad
              \beta(t) = 1 \ \text{for}\ t \ge T,

    with :math:`T` = ``steps``, :math:`N` = ``cycles``, :math:`R` = ``ratio`` (their default
    0.5: rise over the first half of each cycle, hold for the second). ``cycles = 1`` with
    ``ratio = 1`` is :func:`linear_kl_warmup`.

    >>> schedule = cyclical_kl_annealing(8, 2)
    >>> [float(schedule(t)) for t in range(10)]
    [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0]
    """
    _check_steps("cyclical KL annealing", steps)
    if cycles < 1 or steps < cycles:
        raise ValueError(
            f"cyclical KL annealing needs 1 <= cycles <= steps; got {cycles} cycles in {steps} "
            "steps (kl_cycles within kl_warmup steps)."
        )
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"the ramp ratio must lie in (0, 1]; got {ratio}.")
    period = steps / cycles

    def schedule(count: jax.Array) -> jax.Array:
        t = jnp.asarray(count, jnp.float32)
        tau = jnp.mod(t, period) / period
        return jnp.where(t < steps, jnp.minimum(1.0, tau / ratio), 1.0).astype(jnp.float32)

    return schedule


def kl_annealing(steps: int, cycles: int = 0) -> optax.Schedule:
    """:func:`linear_kl_warmup` over ``steps`` (``cycles = 0``) or
    :func:`cyclical_kl_annealing` with ``cycles`` cycles in them."""
    if cycles == 0:
        return linear_kl_warmup(steps)
    return cyclical_kl_annealing(steps, cycles)


def linear_capacity(c_max: float | jax.Array, steps: int) -> optax.Schedule:
    r"""Burgess et al. 2018's capacity :math:`C(t) = C_{\max} \min(1, t / T)` nats
    (``steps = 0``: :math:`C_{\max}` throughout).

    >>> schedule = linear_capacity(25.0, 100)
    >>> [float(schedule(t)) for t in (0, 50, 100, 200)]
    [0.0, 12.5, 25.0, 25.0]
    """
    _check_steps("capacity schedule", steps)
    if steps == 0:
        return lambda count: jnp.asarray(c_max, jnp.float32)
    return lambda count: jnp.asarray(c_max, jnp.float32) * _ramp(count, steps)
