"""Numerically safe reductions over the sample axis."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def log_mean_exp(x: jax.Array, axis: int = 0) -> jax.Array:
    r"""Log of the mean of exponentials, safe for ``-inf`` entries.

    .. math:: \log \frac{1}{K} \sum_{k=1}^K e^{x_k}
              = m + \log \frac{1}{K}\sum_k e^{x_k - m},\quad m = \max_k x_k

    Exact for ``K = 1`` (returns ``x`` itself), ``-inf`` (not NaN) when every entry of a slice
    is ``-inf``, and the gradient stays finite there (the double-``where`` trick).

    Args:
      x: array with the sample axis at ``axis``.
      axis: the axis to reduce.

    Returns:
      ``x`` reduced over ``axis``.

    >>> import jax.numpy as jnp
    >>> float(log_mean_exp(jnp.log(jnp.array([1.0, 3.0]))))
    0.6931...
    """
    x = jnp.asarray(x)
    k = x.shape[axis]
    if k == 1:
        return jnp.squeeze(x, axis)
    m = jnp.max(x, axis=axis, keepdims=True)
    finite_m = jnp.isfinite(m)
    m_safe = jax.lax.stop_gradient(jnp.where(finite_m, m, 0.0))
    s = jnp.sum(jnp.exp(x - m_safe), axis=axis)
    m_safe = jnp.squeeze(m_safe, axis)
    all_neg_inf = jnp.squeeze(m == -jnp.inf, axis)
    s_safe = jnp.where(all_neg_inf, 1.0, s)
    out = jnp.log(s_safe) + m_safe - jnp.log(k)
    return jnp.where(all_neg_inf, -jnp.inf, out)


def log_sum_exp(x: jax.Array, axis: int = 0) -> jax.Array:
    r""":math:`\log \sum_k e^{x_k}` with the same safety as :func:`log_mean_exp`."""
    k = jnp.shape(x)[axis]
    return log_mean_exp(x, axis) + jnp.log(k).astype(jnp.result_type(x))
