"""Gradient estimators for any bound on log-weights: reparameterisation, STL and DReG.

A bound is a function ``log_w[K, B] -> [B]``. With :math:`\\ell_k = \\log w_k` and
:math:`g_k = \\partial \\mathcal L / \\partial \\ell_k`, the encoder gradient is

- ``'reparam'``: :math:`\\sum_k g_k \\nabla_\\phi \\ell_k` (total derivative, includes the
  score term :math:`-\\nabla_\\phi \\log q_\\phi(z_k)` at fixed z);
- ``'stl'`` (Roeder et al. 2017): the same with :math:`\\phi` stopped inside
  :math:`\\log q_\\phi`, i.e. only the path through :math:`z_k` is kept;
- ``'dreg'`` (Tucker et al. 2018): :math:`\\sum_k (g_k - \\partial g_k / \\partial \\ell_k)
  \\frac{\\partial \\ell_k}{\\partial z_k} \\frac{\\partial z_k}{\\partial \\phi}` (STL path),
  which applies the reparameterisation identity
  :math:`E_q[f(z) \\nabla_\\phi \\log q_\\phi(z)] = E_\\epsilon[\\nabla_z f \\, \\nabla_\\phi z]`
  to the score term. For IWAE the weights are :math:`\\tilde w_k^2`; for the ELBO
  :math:`1/K` (STL); they are derived by autodiff for any bound that is a function of the
  log-weights of i.i.d. samples.

The decoder and prior always get :math:`\\sum_k g_k \\nabla_\\theta \\ell_k`, which is unbiased.
PIWAE-style objectives give the encoder its own bound (``encoder_bound``).

A prior that reads the encoder (the VampPrior, :math:`p(z) = \\frac1C \\sum_c q_\\phi(z|u_c)`)
uses :math:`\\phi` outside the posterior: that use is part of the generative model and gets
the plain gradient :math:`\\sum_k g_k \\partial \\ell_k / \\partial \\phi|_{\\text{prior}}`;
only the posterior's use of :math:`\\phi` follows the estimator. When the two cotangents differ
the objective passes the prior a separate copy of the encoder params
(:data:`jvae.models.model.PRIOR_ENCODER`) and adds its gradient to the encoder's.

KL weighting (warm-up, Sonderby et al. 2016): with ``kl_weight`` :math:`\\beta` the bound is
taken of the tempered log-weights :math:`\\ell_k = \\log p(x|z_k) + \\beta (\\log p(z_k) -
\\log q(z_k|x))`. The score term then carries a factor :math:`\\beta`, and DReG's cotangent
becomes :math:`g_k - \\beta\\, \\partial g_k / \\partial \\ell_k = (1 - \\beta) g_k + \\beta c_k`.

Implementation: one forward pass (``jax.vjp`` of the log-weights with respect to all params),
then one pullback, or two when the encoder's cotangent differs from the decoder's.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jvae.bounds import (
    LogWeights,
    check_log_weights,
    ciwae,
    elbo,
    iwae,
    miwae,
    normalized_weights,
    renyi,
)
from jvae.models.model import PRIOR_ENCODER
from jvae.numerics import log_sum_exp

Bound = Callable[[jax.Array], jax.Array]
LogWeightsFn = Callable[[Any, jax.Array, jax.Array, bool], LogWeights]
ESTIMATORS = ("reparam", "stl", "dreg")


class LossInfo(NamedTuple):
    """What one evaluation of an objective reports, per example ``[B]`` where not scalar."""

    loss: jax.Array
    bound: jax.Array
    log_weights: LogWeights


def bound_gradient(bound: Bound, log_w: jax.Array) -> jax.Array:
    r""":math:`g_k = \partial \mathcal L_b / \partial \ell_{kb}`, ``[K, B]`` (examples are
    independent, so the gradient of the batch sum separates)."""
    return jax.grad(lambda lw: jnp.sum(bound(lw)))(log_w)


def _partial_arguments(bound: Bound, func: Callable[..., jax.Array]) -> dict | None:
    """The bound arguments (besides ``log_w``) if ``bound`` is ``functools.partial(func, ...)``."""
    if not (isinstance(bound, functools.partial) and bound.func is func):
        return None
    try:
        bound_args = inspect.signature(func).bind(None, *bound.args, **bound.keywords)
    except TypeError:
        return None
    bound_args.apply_defaults()
    args = dict(bound_args.arguments)
    args.pop("log_w")
    return args


def dreg_weights_autodiff(bound: Bound, log_w: jax.Array) -> jax.Array:
    r"""DReG encoder cotangent :math:`c_k = g_k - \partial g_k / \partial \ell_k` by autodiff.

    Works for any bound that is a function of the log-weights of i.i.d. samples: the Hessian
    diagonal comes from one forward-over-reverse product per sample index (memory O(KB), time
    O(K^2 B)). ``[K, B]``.
    """
    check_log_weights(log_w)
    grad_fn = jax.grad(lambda lw: jnp.sum(bound(lw)))
    g = grad_fn(log_w)

    def diag_row(k: jax.Array) -> jax.Array:
        e = jnp.zeros_like(log_w).at[k].set(1.0)
        return jax.jvp(grad_fn, (log_w,), (e,))[1][k]

    h = jax.lax.map(diag_row, jnp.arange(log_w.shape[0]))
    return g - h


def dreg_weights(bound: Bound, log_w: jax.Array) -> jax.Array:
    r"""Encoder cotangent of the doubly reparameterised estimator, ``[K, B]``.

    .. math:: c_k = \frac{\partial \mathcal L}{\partial \ell_k}
                    - \frac{\partial^2 \mathcal L}{\partial \ell_k^2}

    Closed forms, recognised by identity or as ``functools.partial`` of the bound:

    - :func:`~jvae.bounds.iwae`: :math:`\tilde w_k^2`; :func:`~jvae.bounds.elbo`: :math:`1/K`;
    - ``partial(miwae, num_groups=M)``: :math:`\tilde w_{k|G}^2 / M`, normalised within the
      group of ``k``;
    - ``partial(ciwae, beta=b)``: :math:`b/K + (1-b)\,\tilde w_k^2`;
    - ``partial(renyi, alpha=a)``: :math:`a v_k + (1-a) v_k^2`,
      :math:`v = \mathrm{softmax}((1-a)\ell)`.

    Any other bound goes through :func:`dreg_weights_autodiff`. Columns where the bound is
    ``-inf`` get zero weights, as autodiff gives.
    """
    check_log_weights(log_w)
    k, b = log_w.shape
    if bound is iwae:
        return jnp.square(normalized_weights(log_w))
    if bound is elbo:
        return jnp.full_like(log_w, 1.0 / k)
    if (args := _partial_arguments(bound, miwae)) is not None:
        m = int(args["num_groups"])
        miwae(log_w, m)  # validates K % M
        groups = jnp.reshape(log_w, (m, k // m, b))
        w = jnp.exp(groups - jnp.expand_dims(_safe_lse(groups, axis=1), 1))
        return jnp.reshape(jnp.square(w), (k, b)) / m
    if (args := _partial_arguments(bound, ciwae)) is not None:
        beta = jnp.asarray(args["beta"], log_w.dtype)
        return beta / k + (1.0 - beta) * jnp.square(normalized_weights(log_w))
    if (args := _partial_arguments(bound, renyi)) is not None:
        alpha = float(args["alpha"])
        d = 1.0 - alpha
        if d == 0.0:
            return jnp.full_like(log_w, 1.0 / k)
        # Shift before scaling (as in renyi): the scaled max is then exactly 0, whatever the
        # compiler fuses (an FMA in d * l - max(d * l) can leave a huge residual).
        if d < 0:  # any -inf makes the bound -inf: zero gradient
            ref = jnp.min(log_w, axis=0)
        else:
            ref = jnp.max(log_w, axis=0)
        bad = ref == -jnp.inf
        y = d * (log_w - jnp.where(bad, 0.0, ref))
        v = jnp.where(bad, 0.0, normalized_weights(jnp.where(bad, 0.0, y)))
        return alpha * v + d * jnp.square(v)
    return dreg_weights_autodiff(bound, log_w)


def _safe_lse(x: jax.Array, axis: int) -> jax.Array:
    """logsumexp over ``axis`` with all-``-inf`` slices mapped to 0 (their weights are 0)."""
    lse = log_sum_exp(x, axis=axis)
    return jnp.where(lse == -jnp.inf, 0.0, lse)


def tempered_log_weights(terms: LogWeights, kl_weight: float | jax.Array | None) -> jax.Array:
    r""":math:`\log p(x|z) + \beta (\log p(z) - \log q(z|x))`, ``[K, B]``; ``None`` is the
    untempered :attr:`LogWeights.total`."""
    if kl_weight is None:
        return terms.total
    return terms.log_likelihood + kl_weight * (terms.log_prior - terms.log_posterior)


def make_objective(
    log_weights_fn: LogWeightsFn,
    bound: Bound = iwae,
    estimator: str = "reparam",
    encoder_bound: Bound | None = None,
) -> Callable[..., tuple[LossInfo, Any]]:
    """Binds a model, a bound and a gradient estimator into ``value_and_grad``.

    Args:
      log_weights_fn: ``(params, rng_key, x, stop_q) -> LogWeights`` with ``[K, B]`` terms
        (the number of samples is bound inside, e.g. with ``functools.partial``).
      bound: ``log_w[K, B] -> [B]``, maximised; the loss is ``-mean_b bound``.
      estimator: one of ``'reparam'``, ``'stl'``, ``'dreg'``.
      encoder_bound: the bound whose gradient the encoder follows (PIWAE); defaults to
        ``bound``.

    Returns:
      ``value_and_grad(params, rng_key, x, kl_weight=None) -> (LossInfo, grads)`` where
      ``grads`` is the gradient of the loss (to minimise) with the estimator's encoder part,
      and ``kl_weight`` (a scalar, e.g. a warm-up schedule's value) tempers the log-weights.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}.")
    same = encoder_bound is None or encoder_bound is bound
    encoder_bound = bound if encoder_bound is None else encoder_bound
    stop_q = estimator != "reparam"
    two_pullbacks = not same or estimator == "dreg"

    def value_and_grad(
        params: Any, rng_key: jax.Array, x: jax.Array, kl_weight: float | jax.Array | None = None
    ) -> tuple[LossInfo, Any]:
        if not isinstance(params, dict) or "encoder" not in params:
            raise ValueError("params must be a dict with an 'encoder' entry (and 'decoder').")

        def forward(p: Any) -> tuple[jax.Array, LogWeights]:
            terms = log_weights_fn(p, rng_key, x, stop_q=stop_q)
            return tempered_log_weights(terms, kl_weight), terms

        # With two cotangents the prior's use of the encoder gets its own copy of the params,
        # so that it follows the plain gradient g (see the module docstring).
        inputs = {**params, PRIOR_ENCODER: params["encoder"]} if two_pullbacks else params
        log_w, pullback, terms = jax.vjp(forward, inputs, has_aux=True)
        batch = log_w.shape[1]
        value, g = jax.value_and_grad(lambda lw: jnp.sum(bound(lw)))(log_w)
        per_example = bound(jax.lax.stop_gradient(log_w))
        (grads,) = pullback(-g / batch)
        if two_pullbacks:
            if estimator == "dreg":
                c = dreg_weights(encoder_bound, log_w)
                if kl_weight is not None:
                    c = (1.0 - kl_weight) * bound_gradient(encoder_bound, log_w) + kl_weight * c
            else:
                c = bound_gradient(encoder_bound, log_w)
            (enc_grads,) = pullback(-c / batch)
            prior_path = grads.pop(PRIOR_ENCODER)
            grads["encoder"] = jax.tree.map(jnp.add, enc_grads["encoder"], prior_path)
        loss = -value / batch
        return LossInfo(loss, per_example, terms), grads

    return value_and_grad


def gradient_snr(
    value_and_grad_fn: Callable[[Any, jax.Array, jax.Array], tuple[Any, Any]],
    params: Any,
    rng_key: jax.Array,
    x: jax.Array,
    num_draws: int,
) -> Any:
    r"""Per-parameter signal-to-noise ratio of a stochastic gradient (Rainforth et al. 2018).

    .. math:: \mathrm{SNR}_j = \frac{|\mathbb E[\hat g_j]|}{\sqrt{\mathrm{Var}[\hat g_j]}}

    over ``num_draws`` independent keys (``jax.vmap`` over keys; sample std with ``ddof=1``).
    A parameter whose gradient never varies gets ``inf`` (or ``0`` if it is always zero).

    Args:
      value_and_grad_fn: ``(params, rng_key, x) -> (info, grads)``, e.g. from
        :func:`make_objective`.
      params: the parameter pytree.
      rng_key: a PRNG key, split into ``num_draws`` keys.
      x: the data batch.
      num_draws: number of independent gradient draws (>= 2).

    Returns:
      a pytree like ``params`` of non-negative SNRs.
    """
    if num_draws < 2:
        raise ValueError(f"gradient_snr needs num_draws >= 2; got {num_draws}.")
    keys = jax.random.split(rng_key, num_draws)
    grads = jax.vmap(lambda k: value_and_grad_fn(params, k, x)[1])(keys)

    def snr(g: jax.Array) -> jax.Array:
        mean = jnp.abs(jnp.mean(g, axis=0))
        std = jnp.std(g, axis=0, ddof=1)
        ratio = mean / jnp.where(std > 0, std, 1.0)
        return jnp.where(std > 0, ratio, jnp.where(mean > 0, jnp.inf, 0.0))

    return jax.tree.map(snr, grads)


def summarize_snr(snr: Any) -> dict[str, jax.Array]:
    """Mean SNR over all scalar parameters of each top-level part (``'encoder'``, ...).

    Parts without parameters (e.g. an empty ``'prior'``) are left out.
    """
    out = {}
    for part, tree in snr.items():
        leaves = jax.tree.leaves(tree)
        if leaves:
            out[part] = jnp.mean(jnp.concatenate([jnp.ravel(leaf) for leaf in leaves]))
    return out
