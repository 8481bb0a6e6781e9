r"""Bounds on log p(x) as pure functions of importance log-weights.

For a batch ``x`` and ``K`` draws :math:`z_k \sim q(z \mid x)` the log-weights are

.. math:: \log w_k = \log p(x \mid z_k) + \log p(z_k) - \log q(z_k \mid x),

an array ``[K, B]`` with the sample axis first. Every function here maps it to a per-example
``[B]`` array; callers reduce over the batch. All of them are safe with ``-inf`` log-weights
(zero weights): values are ``-inf`` (never NaN) where the bound is, and gradients stay finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jvae.numerics import log_mean_exp, log_sum_exp


class LogWeights(NamedTuple):
    r"""The three terms of the log-weights, each ``[K, B]``.

    Attributes:
      log_likelihood: :math:`\log p(x \mid z_k)`.
      log_prior: :math:`\log p(z_k)` (summed over stochastic layers).
      log_posterior: :math:`\log q(z_k \mid x)` (summed over stochastic layers).
    """

    log_likelihood: jax.Array
    log_prior: jax.Array
    log_posterior: jax.Array

    @property
    def total(self) -> jax.Array:
        r""":math:`\log w_k = \log p(x|z_k) + \log p(z_k) - \log q(z_k|x)`, ``[K, B]``."""
        return self.log_likelihood + self.log_prior - self.log_posterior


def check_log_weights(log_w: jax.Array, name: str = "log_w") -> None:
    """Raises ``ValueError`` unless ``log_w`` is a floating ``[K, B]`` array with K >= 1."""
    shape = jnp.shape(log_w)
    if len(shape) != 2:
        raise ValueError(
            f"{name} must have shape [K, B] (samples first, then batch); got shape {shape}."
        )
    if shape[0] < 1:
        raise ValueError(f"{name} needs at least one sample (K >= 1); got shape {shape}.")
    if not jnp.issubdtype(jnp.result_type(log_w), jnp.floating):
        raise ValueError(f"{name} must be a floating array; got dtype {jnp.result_type(log_w)}.")


def elbo(log_w: jax.Array) -> jax.Array:
    r"""Evidence lower bound, the mean log-weight.

    .. math:: \mathcal L_{\mathrm{ELBO}} = \frac1K \sum_{k=1}^K \log w_k

    Args:
      log_w: log-weights, ``[K, B]``.

    Returns:
      ``[B]``.

    >>> import jax.numpy as jnp
    >>> elbo(jnp.array([[0.0], [2.0]])).tolist()
    [1.0]
    """
    check_log_weights(log_w)
    return jnp.mean(log_w, axis=0)


def iwae(log_w: jax.Array) -> jax.Array:
    r"""Importance-weighted bound :math:`\mathcal L_K` of Burda et al. (2015).

    .. math:: \mathcal L_K = \log \frac1K \sum_{k=1}^K w_k

    computed with a max-shifted logsumexp (never ``exp`` of raw log-weights). Equals
    :func:`elbo` for ``K = 1``; ``-inf`` for a column of all ``-inf``.

    Args:
      log_w: log-weights, ``[K, B]``.

    Returns:
      ``[B]``.

    >>> import jax.numpy as jnp
    >>> round(float(iwae(jnp.log(jnp.array([[1.0], [3.0]])))[0]), 4)
    0.6931
    """
    check_log_weights(log_w)
    return log_mean_exp(log_w, axis=0)


def miwae(log_w: jax.Array, num_groups: int) -> jax.Array:
    r"""Multiply importance-weighted bound (MIWAE, Rainforth et al. 2018).

    The ``K`` samples form ``M = num_groups`` groups of ``K/M`` consecutive samples; the bound
    is the mean over groups of each group's IWAE bound:

    .. math:: \mathcal L_{M,K/M} = \frac1M \sum_{m=1}^M
              \log \frac{M}{K} \sum_{k \in G_m} w_k

    ``M = 1`` is :func:`iwae`, ``M = K`` is :func:`elbo`.

    Args:
      log_w: log-weights, ``[K, B]``.
      num_groups: ``M``, must divide ``K``.

    Returns:
      ``[B]``.

    >>> import jax.numpy as jnp
    >>> lw = jnp.log(jnp.array([[1.0], [3.0], [2.0], [2.0]]))
    >>> [round(float(v), 4) for v in (miwae(lw, 1)[0], miwae(lw, 2)[0], miwae(lw, 4)[0])]
    [0.6931, 0.6931, 0.6212]
    """
    check_log_weights(log_w)
    k, b = log_w.shape
    m = int(num_groups)
    if m < 1 or k % m != 0:
        raise ValueError(
            f"miwae needs num_groups M >= 1 dividing the number of samples K; got K={k}, M={m}."
        )
    groups = jnp.reshape(log_w, (m, k // m, b))
    return jnp.mean(log_mean_exp(groups, axis=1), axis=0)


def ciwae(log_w: jax.Array, beta: float | jax.Array) -> jax.Array:
    r"""Combination IWAE (CIWAE, Rainforth et al. 2018): a convex mix of ELBO and IWAE.

    .. math:: \mathcal L_\beta = \beta\, \mathcal L_{\mathrm{ELBO}} + (1 - \beta)\, \mathcal L_K

    ``beta = 0`` is :func:`iwae` (also where the ELBO is ``-inf``), ``beta = 1`` is :func:`elbo`.

    Args:
      log_w: log-weights, ``[K, B]``.
      beta: mixing weight in ``[0, 1]`` (a float or a scalar array).

    Returns:
      ``[B]``.

    >>> import jax.numpy as jnp
    >>> lw = jnp.log(jnp.array([[1.0], [3.0]]))
    >>> round(float(ciwae(lw, 0.5)[0]), 4)  # (0.5493 + 0.6931) / 2
    0.6212
    """
    check_log_weights(log_w)
    beta = jnp.asarray(beta, jnp.result_type(log_w))
    e, i = jnp.mean(log_w, axis=0), log_mean_exp(log_w, axis=0)
    # 0 * -inf would be NaN: drop a term whose coefficient is exactly zero.
    e = jnp.where(beta == 0, 0.0, e)
    i = jnp.where(beta == 1, 0.0, i)
    return beta * e + (1.0 - beta) * i


def piwae(num_groups: int) -> tuple[Callable[[jax.Array], jax.Array], Callable[..., jax.Array]]:
    r"""Partially importance-weighted bounds (PIWAE, Rainforth et al. 2018).

    PIWAE trains the decoder on :func:`iwae` (:math:`\mathcal L_K`) and the encoder on
    :func:`miwae` with ``M`` groups (:math:`\mathcal L_{M, K/M}`), whose encoder gradient has a
    better signal-to-noise ratio. Returns the pair ``(decoder_bound, encoder_bound)`` for
    :func:`jvae.estimators.make_objective`::

        bound, encoder_bound = piwae(num_groups=8)
        value_and_grad = make_objective(log_weights_fn, bound, 'dreg', encoder_bound=encoder_bound)

    The reported value (and loss) is the decoder's bound, :math:`\mathcal L_K`.

    >>> bound, enc = piwae(2)
    >>> bound is iwae, enc.func is miwae, enc.keywords
    (True, True, {'num_groups': 2})
    """
    return iwae, partial(miwae, num_groups=int(num_groups))


def renyi(log_w: jax.Array, alpha: float) -> jax.Array:
    r"""Variational Rényi bound (VR, Li & Turner 2016).

    .. math:: \mathcal L_\alpha = \frac{1}{1-\alpha}
              \log \frac1K \sum_{k=1}^K w_k^{1-\alpha}

    ``alpha = 0`` is :func:`iwae`, ``alpha -> 1`` the :func:`elbo` (returned exactly at
    ``alpha == 1``); non-increasing in ``alpha``. With :math:`\delta = 1-\alpha`,
    :math:`y_k = \delta(\ell_k - \ell^*) \le 0` (shift :math:`\ell^*` the max for
    :math:`\delta > 0`, the min for :math:`\delta < 0`), the log-mean is computed as
    :math:`\mathrm{log1p}(\mathrm{mean}_k\, \mathrm{expm1}(y_k))` when
    :math:`\mathrm{mean}_k e^{y_k} > 1/2`, which stays accurate as :math:`\delta \to 0` (no
    cancellation, no series expansion needed), else as a plain log-mean-exp. For
    ``alpha > 1`` a single ``-inf`` log-weight makes the bound ``-inf``.

    Args:
      log_w: log-weights, ``[K, B]``.
      alpha: a Python float (any real value).

    Returns:
      ``[B]``.

    >>> import jax.numpy as jnp
    >>> lw = jnp.log(jnp.array([[1.0], [3.0]]))
    >>> [round(float(renyi(lw, a)[0]), 4) for a in (0.0, 0.5, 0.999999, 1.0)]
    [0.6931, 0.6238, 0.5493, 0.5493]
    """
    check_log_weights(log_w)
    alpha = float(alpha)
    if alpha == 1.0:
        return elbo(log_w)
    if alpha == 0.0:
        return iwae(log_w)
    d = 1.0 - alpha
    if d > 0:
        ref = jnp.max(log_w, axis=0)  # -inf only when every entry is
    else:
        ref = jnp.min(log_w, axis=0)  # -inf when any entry is: w^(1-alpha) = +inf
    bad = ref == -jnp.inf
    ref = jax.lax.stop_gradient(jnp.where(bad, 0.0, ref))
    y = jnp.where(bad, 0.0, d * (log_w - ref))
    s = jnp.mean(jnp.exp(y), axis=0)
    e = jnp.mean(jnp.expm1(y), axis=0)
    near_one = s > 0.5
    lme = jnp.where(
        near_one, jnp.log1p(jnp.where(near_one, e, 0.0)), jnp.log(jnp.where(near_one, 1.0, s))
    )
    return jnp.where(bad, -jnp.inf, ref + lme / d)


def _log_normalize(log_w: jax.Array, axis: int = 0) -> jax.Array:
    r""":math:`\log \tilde w_k = \ell_k - \log\sum_j e^{\ell_j}`; all ``-inf`` stays ``-inf``.

    Shifts by the max first, so the rounding error is relative to :math:`\ell_k - \max_j
    \ell_j`, not to the scale of the log-weights.
    """
    m = jnp.max(log_w, axis=axis, keepdims=True)
    shifted = log_w - jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0.0))
    lse = jnp.expand_dims(log_sum_exp(shifted, axis=axis), axis)
    return shifted - jnp.where(lse == -jnp.inf, 0.0, lse)


def _log_complement(log_wn: jax.Array) -> jax.Array:
    r""":math:`\log(1 - \tilde w_i) = \log \sum_{j \ne i} \tilde w_j` for log-normalised weights.

    For ``i`` not the argmax, :math:`\tilde w_i \le 1/2`, so ``log1p(-w_i)`` has no
    cancellation; at the argmax the sum over the others is a masked logsumexp, which also
    survives underflow. O(K) time and memory.
    """
    k = log_wn.shape[0]
    is_max = jnp.arange(k)[:, None] == jnp.argmax(log_wn, axis=0)[None, :]
    direct = jnp.log1p(-jnp.where(is_max, 0.0, jnp.exp(log_wn)))
    rest = log_sum_exp(jnp.where(is_max, -jnp.inf, log_wn), axis=0)
    return jnp.where(is_max, rest[None, :], direct)


def _pair_complement_sum(log_wn: jax.Array) -> jax.Array:
    r""":math:`\sum_{i<j} [\log(1 - \tilde w_i - \tilde w_j) - \log(1 - 2/K)]`, ``[B]``.

    Pairs without the argmax ``a`` have :math:`\tilde w_i + \tilde w_j \le 2/3` (use
    ``log1p``); pairs ``(a, j)`` are :math:`\log(1-\tilde w_a)` plus the complement of ``j``
    among the renormalised other weights. O(K^2 B) time, rows in chunks of about 2^20
    entries.
    """
    k, b = log_wn.shape
    shift = math.log1p(-2.0 / k)
    a = jnp.argmax(log_wn, axis=0)
    is_max = jnp.arange(k)[:, None] == a[None, :]
    w = jnp.where(is_max, 0.0, jnp.exp(log_wn))

    def row(i: jax.Array) -> jax.Array:
        valid = (jnp.arange(k)[:, None] != i) & ~is_max & (a[None, :] != i)
        x = jnp.where(valid, w[i][None, :] + w, 0.0)
        return jnp.sum(jnp.where(valid, jnp.log1p(-x) - shift, 0.0), axis=0)

    batch = max(1, min(k, 2**20 // max(1, k * b)))
    without_max = 0.5 * jnp.sum(jax.lax.map(row, jnp.arange(k), batch_size=batch), axis=0)
    log_rest = log_sum_exp(jnp.where(is_max, -jnp.inf, log_wn), axis=0)  # log(1 - w_a)
    inner = _log_complement(_log_normalize(jnp.where(is_max, -jnp.inf, log_wn)))
    with_max = jnp.sum(jnp.where(is_max, 0.0, log_rest[None, :] + inner - shift), axis=0)
    return without_max + with_max


def jackknife(log_w: jax.Array, order: int = 1) -> jax.Array:
    r"""Jackknife variational inference (JVI, Nowozin 2018): a debiased estimate of log p(x).

    :math:`\mathcal L_K` has bias :math:`O(1/K)`; the generalised jackknife of order ``m``
    (Sharot coefficients) cancels the leading ``m`` terms of the bias expansion using the IWAE
    bounds of the leave-one-out and leave-two-out subsets:

    .. math::
        J_1 &= K\,\mathcal L_K - (K-1)\,\overline{\mathcal L}_{K-1}, \\
        J_2 &= \tfrac{K^2}{2}\mathcal L_K - (K-1)^2\,\overline{\mathcal L}_{K-1}
              + \tfrac{(K-2)^2}{2}\,\overline{\mathcal L}_{K-2},

    where :math:`\overline{\mathcal L}_{K-j}` is the mean of :math:`\mathcal L_{K-j}` over all
    subsets that leave out ``j`` samples. Not a bound: it may exceed log p(x), and it has
    higher variance than :math:`\mathcal L_K`.

    Computed as :math:`\mathcal L_K` plus corrections in terms of the normalised weights,
    :math:`\mathcal L^{(-i)}_{K-1} - \mathcal L_K = \log(1-\tilde w_i) - \log(1-1/K)`, which
    never see the scale of the log-weights. :math:`\log(1-\tilde w_i)` is ``log1p`` except at
    the largest weight, where it is a masked logsumexp (no cancellation; float32 error about
    ``K * eps`` for ``order=2``, checked against float64 in tests). Order 1 is O(K) per
    example; order 2 O(K^2) time in row chunks.

    With ``-inf`` log-weights (zero weights): where fewer than ``order + 1`` weights are
    non-zero some leave-out subset has :math:`\mathcal L_{K-j} = -\infty` and the jackknife is
    infinite or undefined; those columns return :math:`\mathcal L_K` itself (``-inf`` when all
    weights are zero).

    Args:
      log_w: log-weights, ``[K, B]`` with ``K > order``.
      order: 1 or 2.

    Returns:
      ``[B]``.

    >>> import jax.numpy as jnp
    >>> lw = jnp.log(jnp.array([[1.0], [3.0]]))
    >>> round(float(jackknife(lw, 1)[0]), 4)  # 2 log 2 - (log 1 + log 3) / 2
    0.8369
    """
    check_log_weights(log_w)
    k = log_w.shape[0]
    if order not in (1, 2):
        raise ValueError(f"jackknife order must be 1 or 2; got {order}.")
    if k <= order:
        raise ValueError(f"jackknife of order {order} needs K > {order} samples; got K={k}.")
    lk = log_mean_exp(log_w, axis=0)
    too_few = jnp.sum(log_w > -jnp.inf, axis=0) <= order
    log_wn = _log_normalize(log_w)
    d1 = jnp.mean(_log_complement(log_wn) - math.log1p(-1.0 / k), axis=0)
    if order == 1:
        out = lk - (k - 1) * d1
    else:
        d2 = _pair_complement_sum(log_wn) / (k * (k - 1) / 2)
        out = lk - (k - 1) ** 2 * d1 + 0.5 * (k - 2) ** 2 * d2
    return jnp.where(too_few, lk, out)


def normalized_weights(log_w: jax.Array) -> jax.Array:
    r"""Self-normalised importance weights :math:`\tilde w_k = w_k / \sum_j w_j`, ``[K, B]``.

    A column of all ``-inf`` gives zeros (not NaN).

    >>> import jax.numpy as jnp
    >>> normalized_weights(jnp.log(jnp.array([[1.0], [3.0]]))).ravel().tolist()
    [0.25, 0.75]
    """
    check_log_weights(log_w)
    return jnp.exp(_log_normalize(log_w))


def effective_sample_size(log_w: jax.Array) -> jax.Array:
    r"""Kish's effective sample size :math:`(\sum_k w_k)^2 / \sum_k w_k^2 = 1/\sum_k \tilde w_k^2`.

    Lies in ``[1, K]``; ``0`` for a column of all ``-inf``. Returns ``[B]``.

    >>> import jax.numpy as jnp
    >>> effective_sample_size(jnp.zeros((4, 1))).tolist()
    [4.0]
    """
    sq = jnp.sum(jnp.square(normalized_weights(log_w)), axis=0)
    return jnp.where(sq > 0, 1.0 / jnp.where(sq > 0, sq, 1.0), 0.0)


__all__ = [
    "LogWeights",
    "check_log_weights",
    "elbo",
    "iwae",
    "miwae",
    "ciwae",
    "piwae",
    "renyi",
    "jackknife",
    "normalized_weights",
    "effective_sample_size",
]
