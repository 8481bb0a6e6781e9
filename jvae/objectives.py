r"""Reweightings of the KL term, as optax-style schedules of the step.

The KL weight :math:`\beta` tempers the log-weights, :math:`\log p(x|z) + \beta (\log p(z) -
\log q(z|x))` (:func:`jvae.estimators.tempered_log_weights`). KL warm-up (Bowman et al. 2016;
Sonderby et al. 2016; the VampPrior paper's 100 epochs) raises :math:`\beta` from 0 to 1.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax


def linear_kl_warmup(steps: int) -> optax.Schedule:
    r""":math:`\beta(t) = \min(1, t / T)` for ``T = steps`` (``steps = 0``: always 1).

    >>> schedule = linear_kl_warmup(4)
    >>> [float(schedule(t)) for t in (0, 2, 4, 9)]
    [0.0, 0.5, 1.0, 1.0]
    """
    if steps < 0:
        raise ValueError(f"the KL warm-up needs steps >= 0; got {steps}.")
    if steps == 0:
        return lambda count: jnp.ones((), jnp.float32)
    return lambda count: jnp.minimum(1.0, jnp.asarray(count, jnp.float32) / steps)
