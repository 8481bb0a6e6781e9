r"""How tight are the IWAE bounds? :math:`\mathcal L_K` against K, JVI, ESS and gradient SNR.

For a model and a set of examples :func:`bound_sweep` estimates, on a log grid of K,

.. math:: \mathcal L_K(x) = \log \frac1K \sum_{k=1}^K w_k, \qquad
          \mathbb E\,\mathcal L_1 \le \mathbb E\,\mathcal L_K \le \mathbb E\,\mathcal L_M
          \le \log p(x) \quad (K \le M),

with its mean and standard error over the examples, the gap to the best estimate (the largest
K, and the jackknife estimate JVI of Nowozin 2018, which removes the :math:`O(1/K)` bias), Kish's
effective sample size :math:`1/\sum_k \tilde w_k^2`, and, where the model has a closed form
(:mod:`jvae.linear_gaussian`), the true gap :math:`\log p(x) - \mathcal L_K`. :func:`snr_sweep`
measures the gradient signal-to-noise ratio of each estimator against K (Rainforth et al.
2018: for IWAE the encoder's SNR falls like :math:`1/\sqrt K` with plain reparameterisation and
grows like :math:`\sqrt K` with DReG). Annealed importance sampling and BDMC at increasing
T, and the linear-Gaussian report with all of them, are :mod:`jvae.diagnostics.annealed`. The
report (markdown, JSON, plots) is :mod:`jvae.reports.tightness`; the command is ``jvae
tightness`` (:mod:`jvae.cli.tightness`).

Per K, example batch ``j`` uses ``fold_in(fold_in(rng_key, K), j)`` and draw chunk ``i`` inside
it ``fold_in(., i)``, as :func:`jvae.diagnostics.nll.dataset_bound` does: a K evaluated on the dense
``[K, B]`` path (ESS, JVI) gives the same :math:`\mathcal L_K` as the streamed path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jvae import bounds, compiler
from jvae.diagnostics import memory, nll
from jvae.distributions import DiagGaussian, standard_normal_log_prob
from jvae.estimators import ESTIMATORS, Bound, gradient_snr, make_objective, summarize_snr
from jvae.models import linear_gaussian
from jvae.models.model import Model

DEFAULT_KS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def log_grid(max_k: int, min_k: int = 1) -> tuple[int, ...]:
    """The 1-2-5 grid ``1, 2, 5, 10, 20, ...`` from ``min_k`` up to ``max_k`` (always included).

    >>> log_grid(300)
    (1, 2, 5, 10, 20, 50, 100, 200, 300)
    """
    if max_k < 1:
        raise ValueError(f"max_k must be >= 1; got {max_k}.")
    ks = []
    for e in range(int(math.log10(max_k)) + 1):
        ks += [m * 10**e for m in (1, 2, 5) if min_k <= m * 10**e <= max_k]
    if ks[-1] != max_k:
        ks.append(max_k)
    return tuple(ks)


def decades(max_k: int) -> tuple[int, ...]:
    """``1, 10, 100, ...`` up to ``max_k`` (always included): the SNR grid.

    >>> decades(1000), decades(300)
    ((1, 10, 100, 1000), (1, 10, 100, 300))
    """
    if max_k < 1:
        raise ValueError(f"max_k must be >= 1; got {max_k}.")
    return tuple(sorted({10**e for e in range(int(math.log10(max_k)) + 1)} | {max_k}))


def _draw_log_weights(
    model: Model, params: Any, rng_key: jax.Array, x: jax.Array, num_samples: int, chunk: int
) -> jax.Array:
    """``[K, B]`` log-weights drawn ``chunk`` at a time with the keys of ``streamed_iwae`` (the
    last chunk draws ``chunk`` too; its draws past ``K`` are dropped)."""
    chunk = min(chunk, num_samples)
    num_chunks = -(-num_samples // chunk)

    def draw(i: jax.Array) -> jax.Array:
        return model.log_weights(params, jax.random.fold_in(rng_key, i), x, chunk).total

    log_w = jax.lax.map(draw, jnp.arange(num_chunks))
    return jnp.reshape(log_w, (num_chunks * chunk, x.shape[0]))[:num_samples]


def _over_batches(
    fn: Callable[[jax.Array, jax.Array], dict[str, jax.Array]],
    rng_key: jax.Array,
    data: np.ndarray,
    batch_size: int,
) -> dict[str, np.ndarray]:
    """``fn(key_j, x_j) -> {name: [B]}`` over batches (last one padded) -> ``{name: [N]}``."""
    n = data.shape[0]
    out: dict[str, list[np.ndarray]] = {}
    for j, start in enumerate(range(0, n, batch_size)):
        x = data[start : start + batch_size]
        m = x.shape[0]
        if m < batch_size:
            x = np.concatenate([x, np.zeros((batch_size - m, *x.shape[1:]), x.dtype)])
        for name, v in fn(jax.random.fold_in(rng_key, j), jnp.asarray(x)).items():
            out.setdefault(name, []).append(np.asarray(v, np.float64)[:m])
    return {name: np.concatenate(v) for name, v in out.items()}


def _mean_se(v: np.ndarray) -> tuple[float, float]:
    """Mean and standard error (``ddof=1``) over examples."""
    v = np.asarray(v, np.float64)
    se = float(np.std(v, ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan")
    return float(np.mean(v)), se


def bound_sweep(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    x: np.ndarray | jax.Array,
    ks: Sequence[int] = DEFAULT_KS,
    chunk_size: int | None = None,
    *,
    batch_size: int | None = None,
    memory_bytes: int | None = None,
    dense_max_k: int = 1000,
    jvi_k: int | None = None,
    exact_log_px: np.ndarray | jax.Array | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    r""":math:`\mathcal L_K` for each K in ``ks``, with gaps, ESS and JVI, over examples ``x``.

    Dense path (:math:`K \le` ``dense_max_k``): one ``[K_d, B]`` array of log-weights is drawn
    (in chunks of ``chunk_size``; :math:`K_d` the largest such K in ``ks``) and every dense K
    is evaluated on its :math:`n = \lfloor K_d/K \rfloor` disjoint blocks,

    .. math:: \hat{\mathcal L}_K(x) = \frac1n \sum_{j=1}^n
              \log \frac1K \sum_{k \in \text{block } j} w_k ,

    which has the expectation of :math:`\mathcal L_K` and a smaller variance (and one
    compilation for all of them); Kish's ESS :math:`1/\sum_k \tilde w_k^2` and the jackknife
    estimates JVI of order 1 and 2 (:func:`jvae.bounds.jackknife`, at ``jvi_k``, default
    :math:`K_d`) are block averages in the same way. Larger K are streamed
    (:func:`jvae.diagnostics.nll.dataset_bound`, memory of one chunk, one compilation each).

    Gaps are paired over examples: ``gap_to_best`` is
    :math:`\overline{\mathcal L_{K_{max}} - \mathcal L_K}` (with its standard error),
    ``gap_to_jvi`` the same against JVI of order 1, ``true_gap``
    :math:`\overline{\log p(x) - \mathcal L_K}` when ``exact_log_px`` ``[N]`` is given.

    Args:
      model: the model; ``params`` its parameters.
      rng_key: PRNG key; the dense draws use ``fold_in(rng_key, K_d)``, a streamed K
        ``fold_in(rng_key, K)``, then example batch ``j`` ``fold_in(., j)``.
      x: examples ``[N, D]``.
      ks: the K grid (sorted, duplicates dropped).
      chunk_size: draws per chunk, or ``None``: planned within ``memory_bytes``.
      batch_size: examples per jitted call (the last batch is padded), or ``None``: planned.
      memory_bytes: XLA's bytes for each evaluation, the dense one and each streamed K
        (:func:`jvae.diagnostics.memory.plan_evaluation`; default
        :func:`jvae.diagnostics.memory.default_memory_bytes`).
      dense_max_k: largest K evaluated on the dense path.
      jvi_k: K of the JVI estimates (a dense K > 2, added to ``ks`` if missing; ``0``: none).
      exact_log_px: exact :math:`\log p(x)` per example, ``[N]``, if known.
      log: called with one progress line per evaluation, if given.

    Returns:
      a dict: ``rows`` (one per K: ``k, mean, stderr, gap_to_best, gap_to_best_stderr,
      gap_to_jvi, ess_mean, true_gap, true_gap_stderr, dense``; ``None`` where not
      computed), ``best``, ``jvi`` (``{'k', 'order1', 'order2'}`` or ``None``), ``exact``,
      ``num_examples``, ``seconds`` (per evaluation), and ``per_example`` (numpy ``[N]``
      arrays: ``'L'`` keyed by K, ``'jvi1'``, ``'jvi2'``, ``'exact'``; not in the JSON report).
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive integers; got {ks}.")
    data = np.asarray(x)
    n = data.shape[0]
    if n < 2:
        raise ValueError(f"bound_sweep needs at least 2 examples for standard errors; got {n}.")
    if jvi_k is None:
        jvi_k = max((k for k in ks if 2 < k <= dense_max_k), default=0)
    elif jvi_k and not (2 < jvi_k <= dense_max_k):
        raise ValueError(f"jvi_k must lie in (2, dense_max_k={dense_max_k}]; got {jvi_k}.")
    if jvi_k:
        ks = sorted({*ks, jvi_k})
    dense_ks = tuple(k for k in ks if k <= dense_max_k)
    t_start = time.perf_counter()
    per_k: dict[int, np.ndarray] = {}
    ess: dict[int, np.ndarray] = {}
    seconds: dict[str, float] = {}
    jvi: dict[str, np.ndarray] = {}
    if dense_ks:
        t0 = time.perf_counter()
        dense_key = jax.random.fold_in(rng_key, dense_ks[-1])
        dtype = jax.dtypes.canonicalize_dtype(data.dtype)

        def compile_at(batch: int, chunk: int) -> jax.stages.Compiled:
            x_b = jax.ShapeDtypeStruct((batch, *data.shape[1:]), dtype)
            fn = _dense_stats(model, params, dense_ks, chunk, jvi_k)
            return fn.lower(dense_key, x_b).compile()

        plan, fn = memory.plan_evaluation(
            compile_at,
            n,
            dense_ks[-1],
            memory_bytes,
            batch_size=batch_size,
            chunk_size=chunk_size,
        )
        stats = _over_batches(fn, dense_key, data, plan.batch_size)
        for k in dense_ks:
            per_k[k], ess[k] = stats[f"iwae_{k}"], stats[f"ess_{k}"]
        jvi = {name: stats[name] for name in ("jvi1", "jvi2") if name in stats}
        seconds[f"dense K<={dense_ks[-1]}"] = round(time.perf_counter() - t0, 2)
        if log is not None:
            log(
                f"dense K = {', '.join(map(str, dense_ks))}: L_{dense_ks[-1]} = "
                f"{np.mean(per_k[dense_ks[-1]]):.4f} ({seconds[f'dense K<={dense_ks[-1]}']} s)"
            )
    for k in ks[len(dense_ks) :]:
        t0 = time.perf_counter()
        key = jax.random.fold_in(rng_key, k)
        per_k[k] = nll.dataset_bound(
            model, params, key, data, k, batch_size, chunk_size, memory_bytes=memory_bytes
        )
        seconds[f"K={k}"] = round(time.perf_counter() - t0, 2)
        if log is not None:
            log(f"streamed L_{k} = {np.mean(per_k[k]):.4f} ({seconds[f'K={k}']} s)")

    k_max = ks[-1]
    best = per_k[k_max]
    exact = None if exact_log_px is None else np.asarray(exact_log_px, np.float64)
    if exact is not None and exact.shape != (n,):
        raise ValueError(f"exact_log_px must have shape [{n}]; got {exact.shape}.")

    def gaps(v: np.ndarray) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        out["gap_to_best"], out["gap_to_best_stderr"] = _mean_se(best - v)
        out["gap_to_jvi"] = float(np.mean(jvi["jvi1"] - v)) if jvi else None
        if exact is not None:
            out["true_gap"], out["true_gap_stderr"] = _mean_se(exact - v)
        else:
            out["true_gap"] = out["true_gap_stderr"] = None
        return out

    rows = []
    for k in ks:
        mean, se = _mean_se(per_k[k])
        row = {"k": k, "mean": mean, "stderr": se, **gaps(per_k[k])}
        row["ess_mean"] = float(np.mean(ess[k])) if k in ess else None
        row["dense"] = k in ess
        rows.append(row)
    jvi_out = None
    if jvi:
        jvi_out = {"k": jvi_k}
        for order in (1, 2):
            mean, se = _mean_se(jvi[f"jvi{order}"])
            jvi_out[f"order{order}"] = {"mean": mean, "stderr": se, **gaps(jvi[f"jvi{order}"])}
            jvi_out[f"order{order}"].pop("gap_to_jvi")
    best_mean, best_se = _mean_se(best)
    seconds["total"] = round(time.perf_counter() - t_start, 2)
    return {
        "ks": ks,
        "num_examples": n,
        "rows": rows,
        "best": {"k": k_max, "mean": best_mean, "stderr": best_se},
        "jvi": jvi_out,
        "exact": None if exact is None else dict(zip(("mean", "stderr"), _mean_se(exact))),
        "seconds": seconds,
        "per_example": {"L": per_k, **jvi, **({} if exact is None else {"exact": exact})},
    }


def _blocks(log_w: jax.Array, k: int) -> jax.Array:
    """The first ``n*K`` rows of ``[K_d, B]`` as ``[K, n*B]`` (``n = K_d // K`` blocks)."""
    kd, b = log_w.shape
    nb = kd // k
    blocks = jnp.reshape(log_w[: nb * k], (nb, k, b))
    return jnp.reshape(jnp.transpose(blocks, (1, 0, 2)), (k, nb * b))


def _block_mean(values: jax.Array, b: int) -> jax.Array:
    """``[n*B]`` block values (block-major) -> mean over the ``n`` blocks, ``[B]``."""
    return jnp.mean(jnp.reshape(values, (-1, b)), axis=0)


def _dense_stats(
    model: Model, params: Any, ks: tuple[int, ...], chunk_size: int, jvi_k: int
) -> Callable[[jax.Array, jax.Array], dict[str, jax.Array]]:
    """Jitted ``(key, x) -> {'iwae_K', 'ess_K' for K in ks[, 'jvi1', 'jvi2']}``, each ``[B]``."""

    @compiler.jit
    def fn(key: jax.Array, x: jax.Array) -> dict[str, jax.Array]:
        log_w = _draw_log_weights(model, params, key, x, ks[-1], chunk_size)
        b = x.shape[0]
        out = {}
        for k in ks:
            lw = _blocks(log_w, k)
            out[f"iwae_{k}"] = _block_mean(bounds.iwae(lw), b)
            out[f"ess_{k}"] = _block_mean(bounds.effective_sample_size(lw), b)
        if jvi_k:
            lw = _blocks(log_w, jvi_k)
            out["jvi1"] = _block_mean(bounds.jackknife(lw, 1), b)
            out["jvi2"] = _block_mean(bounds.jackknife(lw, 2), b)
        return out

    return fn


def snr_sweep(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    x: np.ndarray | jax.Array,
    ks: Sequence[int] = (1, 10, 100, 1000),
    estimators: Sequence[str] = ESTIMATORS,
    bound: Bound | None = None,
    num_draws: int = 100,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    r"""Gradient SNR of each estimator against K on one batch ``x`` (Rainforth et al. 2018).

    .. math:: \mathrm{SNR}_{\text{part}}(K) = \operatorname{mean}_{j \in \text{part}}
              \frac{|\mathbb E\,\hat g_j|}{\sqrt{\mathrm{Var}\,\hat g_j}}

    over ``num_draws`` independent gradients (:func:`jvae.estimators.gradient_snr`,
    :func:`jvae.estimators.summarize_snr`) of ``bound`` (default :func:`jvae.bounds.iwae`) with
    K samples, for the encoder and the decoder. All estimators at one K share the keys
    (``fold_in(rng_key, K)``) and one compilation. Memory grows like ``num_draws * K * B``.

    Returns:
      ``{'ks', 'estimators', 'num_draws', 'batch', 'bound', 'encoder': {est: [len(ks)]},
      'decoder': {...}}`` (plain floats).
    """
    bound = bounds.iwae if bound is None else bound
    data = jnp.asarray(x)
    out: dict[str, Any] = {
        "ks": [int(k) for k in ks],
        "estimators": list(estimators),
        "num_draws": int(num_draws),
        "batch": int(data.shape[0]),
        "bound": getattr(bound, "__name__", repr(bound)),
        "encoder": {e: [] for e in estimators},
        "decoder": {e: [] for e in estimators},
    }
    for k in ks:
        t0 = time.perf_counter()

        def log_weights_fn(p, key, xb, stop_q=False, k=k):
            return model.log_weights(p, key, xb, k, stop_q=stop_q)

        @compiler.jit
        def summaries(p: Any, key: jax.Array, xb: jax.Array, log_weights_fn=log_weights_fn):
            return {
                est: summarize_snr(
                    gradient_snr(make_objective(log_weights_fn, bound, est), p, key, xb, num_draws)
                )
                for est in estimators
            }

        result = summaries(params, jax.random.fold_in(rng_key, k), data)
        for est in estimators:
            for part in ("encoder", "decoder"):
                v = result[est].get(part)
                out[part][est].append(float("nan") if v is None else float(v))
        if log is not None:
            log(
                f"SNR K={k} encoder "
                + ", ".join(f"{e} {out['encoder'][e][-1]:.3g}" for e in estimators)
                + f" ({time.perf_counter() - t0:.1f} s)"
            )
    return out


def imperfect_linear_gaussian(
    rng_key: jax.Array,
    data_dim: int = 16,
    latent: int = 8,
    noise: float = 0.5,
    scale_inflation: float = 1.2,
    mean_shift: float = 1.0,
) -> tuple[Model, dict]:
    r"""The linear-Gaussian model with a deliberately imperfect q.

    q is the exact posterior with its standard deviations multiplied by ``scale_inflation``
    (:math:`r`) and its mean moved by ``mean_shift`` (:math:`\delta`) posterior standard
    deviations, with a random sign per coordinate (seeded). Then :math:`\log p(x) -
    \mathbb E\,\mathcal L_1 = \mathrm{KL}(q\|p) = rac d2 (r^2 - 1 - 2\log r + \delta^2)` and
    the normalised weights have :math:`\mathbb E_q[(p/q)^2] = ig(r^2 e^{\delta^2/(2r^2-1)}
    / \sqrt{2r^2-1}ig)^d` (finite for :math:`r > 1/\sqrt2`), so the gap closes like
    :math:`\mathrm{Var}(w/p)/(2K)` only once K is large against that variance (about 100 with
    the defaults).
    """
    model = with_latent_densities(linear_gaussian.model(data_dim, latent, noise))

    @jax.jit  # one compilation instead of one per eager op
    def make_params(key: jax.Array) -> dict:
        k1, k2 = jax.random.split(key)
        params = model.init(k1)
        enc = dict(params["encoder"])
        std = jnp.exp(enc["log_scale"])
        sign = jnp.where(jax.random.bernoulli(k2, 0.5, std.shape), 1.0, -1.0)
        enc["c"] = enc["c"] + mean_shift * std * sign
        enc["log_scale"] = enc["log_scale"] + math.log(scale_inflation)
        return {**params, "encoder": enc}

    return model, make_params(rng_key)


def with_latent_densities(model: Model) -> Model:
    r"""The linear-Gaussian :class:`~jvae.models.Model` with the densities at given latents
    that AIS and BDMC need (:attr:`~jvae.models.model.Model.log_joint`, ``log_posterior``,
    ``simulate``), written from its math:

    .. math:: \log p(x \mid z) = \log \mathcal N(x; Wz + b, s^2 I), \quad
              \log p(z) = \log \mathcal N(z; 0, I), \quad
              \log q(z \mid x) = \log \mathcal N(z; Ax + c, \mathrm{diag}\,\sigma^2).
    """

    def log_joint(params: Any, x: jax.Array, values: dict[str, jax.Array]):
        dec, z = params["decoder"], values["z"]
        scale = jnp.broadcast_to(dec["log_s"], x.shape[-1:])
        log_lik = DiagGaussian(z @ dec["W"].T + dec["b"], scale).log_prob(x)
        return log_lik, standard_normal_log_prob(z)

    def log_posterior(params: Any, x: jax.Array, values: dict[str, jax.Array]) -> jax.Array:
        enc = params["encoder"]
        mean = x @ enc["A"].T + enc["c"]
        return DiagGaussian(mean, jnp.broadcast_to(enc["log_scale"], mean.shape)).log_prob(
            values["z"]
        )

    def simulate(params: Any, rng_key: jax.Array, n: int):
        dec = params["decoder"]
        k1, k2 = jax.random.split(rng_key)
        z = jax.random.normal(k1, (n, dec["W"].shape[1]))
        noise = jnp.exp(dec["log_s"]) * jax.random.normal(k2, (n, dec["W"].shape[0]))
        return z @ dec["W"].T + dec["b"] + noise, {"z": z}

    return model._replace(log_joint=log_joint, log_posterior=log_posterior, simulate=simulate)


def linear_gaussian_data(
    rng_key: jax.Array, params: dict, num_examples: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""``x ~ p(x)`` ``[N, D]`` and the exact :math:`\log p(x)` ``[N]`` (one jitted call)."""

    @compiler.jit
    def draw(key: jax.Array, p: dict) -> tuple[jax.Array, jax.Array]:
        x = linear_gaussian.sample_data(key, p, num_examples)
        return x, linear_gaussian.exact_log_marginal(p, x)

    x, exact = draw(rng_key, params)
    return np.asarray(x), np.asarray(exact)
