r"""Bounds against annealed importance sampling: :func:`ais_sweep` measures every
:math:`\mathcal L_K` of a :func:`~jvae.diagnostics.tightness.bound_sweep` against AIS at
increasing T (:mod:`jvae.diagnostics.ais`), :func:`bdmc_sweep` sandwiches :math:`\log p(x)`
between forward and reverse chains on simulated data (:mod:`jvae.diagnostics.bdmc`), and
:func:`annealing_report` runs both for the tightness report; :func:`linear_gaussian_report` is
the whole report on the linear-Gaussian oracle, where every quantity is exact."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from jvae.diagnostics import ais, bdmc, nll
from jvae.diagnostics.tightness import (
    _mean_se,
    bound_sweep,
    decades,
    imperfect_linear_gaussian,
    linear_gaussian_data,
    log_grid,
    snr_sweep,
)
from jvae.models import linear_gaussian
from jvae.models.model import Model


def ais_steps_grid(max_steps: int) -> tuple[int, ...]:
    """The T of an AIS sweep: ``1`` (importance sampling with K = chains), ``10``, ``100``, ...
    up to ``max_steps`` (always included).

    >>> ais_steps_grid(300)
    (1, 10, 100, 300)
    """
    return decades(max_steps)


def ais_sweep(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    x: np.ndarray | jax.Array,
    steps: Sequence[int],
    options: ais.AISOptions | None = None,
    *,
    batch_size: int = 100,
    exact_log_px: np.ndarray | None = None,
    reference: dict[int, np.ndarray] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    r"""AIS :math:`\log \hat p(x)` for each T in ``steps`` on examples ``x`` ``[N, *event_shape]``
    (:func:`jvae.diagnostics.ais.dataset_ais`; one compilation for all T, the same key for
    every T so the pilot's step sizes and the initial draws are shared).

    Args:
      reference: importance-sampling estimates ``{K: L_K [N]}`` of the same examples; each
        row gets ``minus_best``, the paired mean of AIS minus the largest K's (positive: AIS
        is the tighter lower bound), and the report plots them against their cost.
      exact_log_px: exact :math:`\log p(x)` ``[N]``, if known (``true_gap`` per row).

    Returns:
      ``{'rows': [{'steps', 'mean', 'stderr', 'chain_stderr', 'acceptance', 'step_size',
      'gradient_evaluations', 'seconds', 'minus_best', 'minus_best_stderr', 'true_gap',
      'true_gap_stderr'}], 'options', 'num_examples', 'reference': [{'k', 'mean',
      'stderr'}], 'exact', 'per_example': {T: [N]}}``.
    """
    options = options or ais.AISOptions()
    data = np.asarray(x)
    n = data.shape[0]
    if n < 2:
        raise ValueError(f"ais_sweep needs at least 2 examples for standard errors; got {n}.")
    best_k = max(reference) if reference else None
    rows, per_example = [], {}
    for t in sorted({int(t) for t in steps}):
        res = ais.dataset_ais(model, params, rng_key, data, t, options, batch_size=batch_size)
        per_example[t] = res["log_px"]
        mean, se = _mean_se(res["log_px"])
        row: dict[str, Any] = {
            "steps": t,
            "mean": mean,
            "stderr": se,
            "chain_stderr": float(np.mean(res["stderr"])),
            "acceptance": None if t == 1 else float(np.mean(res["acceptance"])),
            "step_size": None if t == 1 else float(np.mean(res["step_size"])),
            "gradient_evaluations": ais.gradient_evaluations(
                t, options.num_chains, options.leapfrog_steps, options.warmup_steps
            ),
            "seconds": round(float(res["seconds"]), 2),
            "minus_best": None,
            "minus_best_stderr": None,
            "true_gap": None,
            "true_gap_stderr": None,
        }
        if best_k is not None:
            row["minus_best"], row["minus_best_stderr"] = _mean_se(
                res["log_px"] - reference[best_k]
            )
        if exact_log_px is not None:
            row["true_gap"], row["true_gap_stderr"] = _mean_se(exact_log_px - res["log_px"])
        rows.append(row)
        if log is not None:
            log(
                f"AIS T={t} ({options.num_chains} chains): {mean:.4f} ± {se:.4f}, acceptance "
                f"{_fmt_or_dash(row['acceptance'])} ({row['seconds']} s)"
            )
    ref_rows = []
    for k in sorted(reference or {}):
        m, se = _mean_se(reference[k])
        ref_rows.append({"k": int(k), "mean": m, "stderr": se})
    return {
        "options": options._asdict(),
        "num_examples": n,
        "rows": rows,
        "reference": ref_rows,
        "exact": None
        if exact_log_px is None
        else dict(zip(("mean", "stderr"), _mean_se(exact_log_px))),
        "per_example": per_example,
    }


def _fmt_or_dash(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def bdmc_sweep(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    num_examples: int,
    steps: Sequence[int],
    options: ais.AISOptions | None = None,
    *,
    batch_size: int = 100,
    iwae_k: int = 0,
    exact_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    r"""BDMC on ``num_examples`` examples simulated from the model, for each T in ``steps``
    (:func:`jvae.diagnostics.bdmc.simulated_bdmc`; the same simulated data at every T).

    Per row: the forward (lower) and reverse (upper) bounds' means over examples with standard
    errors, and their paired gap (upper − lower). With ``iwae_k``, :math:`\mathcal L_K` of the
    same simulated data (``iwae``: its mean, and ``gap_to_upper``, the paired mean of the
    largest T's upper bound minus it: how far importance sampling may sit below the truth).
    With ``exact_fn`` (``x -> log p(x)``), true gaps of both bounds.
    """
    options = options or ais.AISOptions()
    rows, last = [], None
    for t in sorted({int(t) for t in steps}):
        res = bdmc.simulated_bdmc(
            model, params, rng_key, num_examples, t, options, batch_size=batch_size
        )
        row: dict[str, Any] = {"steps": t, "seconds": round(float(res["seconds"]), 2)}
        for name in ("lower", "upper"):
            row[name], row[f"{name}_stderr"] = _mean_se(res[name])
        row["gap"], row["gap_stderr"] = _mean_se(res["upper"] - res["lower"])
        row["acceptance"] = None if t == 1 else float(np.mean(res["acceptance"]))
        once = ais.gradient_evaluations(t, options.num_chains, options.leapfrog_steps, 0)
        with_pilot = ais.gradient_evaluations(
            t, options.num_chains, options.leapfrog_steps, options.warmup_steps
        )
        row["gradient_evaluations"] = once + with_pilot  # one pilot, two directions
        if exact_fn is not None:
            exact = np.asarray(exact_fn(res["x"]), np.float64)
            row["lower_true_gap"], row["lower_true_gap_stderr"] = _mean_se(exact - res["lower"])
            row["upper_true_gap"], row["upper_true_gap_stderr"] = _mean_se(res["upper"] - exact)
        rows.append(row)
        last = res
        if log is not None:
            log(
                f"BDMC T={t}: lower {row['lower']:.4f}, upper {row['upper']:.4f}, gap "
                f"{row['gap']:.4f} ± {row['gap_stderr']:.4f} ({row['seconds']} s)"
            )
    iwae = None
    if iwae_k and last is not None:
        bound = nll.dataset_bound(
            model=model,
            params=params,
            rng_key=jax.random.fold_in(rng_key, iwae_k),
            data=last["x"],
            num_samples=iwae_k,
        )
        mean, se = _mean_se(bound)
        gap, gap_se = _mean_se(last["upper"] - bound)
        iwae = {
            "k": iwae_k,
            "mean": mean,
            "stderr": se,
            "gap_to_upper": gap,
            "gap_to_upper_stderr": gap_se,
        }
        if log is not None:
            log(f"L_{iwae_k} on the simulated data: {mean:.4f} (upper bound − L_K {gap:.4f})")
    return {
        "options": options._asdict(),
        "num_examples": int(num_examples),
        "rows": rows,
        "iwae": iwae,
    }


def annealing_report(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    x: np.ndarray,
    sweep: dict[str, Any],
    ais_steps: int,
    options: ais.AISOptions | None = None,
    *,
    num_examples: int = 100,
    simulated: int = 0,
    batch_size: int = 100,
    exact_log_px: np.ndarray | None = None,
    exact_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The AIS and BDMC parts of a tightness report: :func:`ais_sweep` at T in
    :func:`ais_steps_grid` on the first ``num_examples`` of ``x`` (with ``sweep``'s L_K of the
    same examples as reference) and, with ``simulated``, :func:`bdmc_sweep` on that many
    simulated examples (with L_Kmax of them). ``{'ais': ..., 'bdmc': ... or None}``."""
    k_ais, k_bdmc = jax.random.split(rng_key)
    n = min(num_examples, len(x))
    reference = {k: v[:n] for k, v in sweep["per_example"]["L"].items()}
    exact = None if exact_log_px is None else np.asarray(exact_log_px)[:n]
    grid = ais_steps_grid(ais_steps)
    out: dict[str, Any] = {
        "ais": ais_sweep(
            model,
            params,
            k_ais,
            np.asarray(x)[:n],
            grid,
            options,
            batch_size=batch_size,
            exact_log_px=exact,
            reference=reference,
            log=log,
        ),
        "bdmc": None,
    }
    if simulated:
        out["bdmc"] = bdmc_sweep(
            model,
            params,
            k_bdmc,
            simulated,
            grid,
            options,
            batch_size=batch_size,
            iwae_k=sweep["best"]["k"],
            exact_fn=exact_fn,
            log=log,
        )
    return out


def linear_gaussian_report(
    rng_key: jax.Array,
    num_examples: int = 500,
    max_k: int = 5000,
    snr_draws: int = 200,
    snr_batch: int = 16,
    snr_max_k: int = 1000,
    chunk_size: int | None = None,
    dense_max_k: int = 1000,
    log: Callable[[str], None] | None = None,
    memory_bytes: int | None = None,
    ais_steps: int = 0,
    ais_options: ais.AISOptions | None = None,
    ais_examples: int = 100,
    simulated: int = 0,
    **setup: float,
) -> dict[str, Any]:
    """Sweep and SNR on :func:`imperfect_linear_gaussian` (``**setup`` its options), with x
    drawn from the model itself and the exact log p(x) as reference. SNR at K = 1, 10, ...
    With ``ais_steps``, AIS (and with ``simulated``, BDMC) as :func:`annealing_report`."""
    k_model, k_data, k_sweep, k_snr = jax.random.split(rng_key, 4)
    model, params = imperfect_linear_gaussian(k_model, **setup)
    x, exact = linear_gaussian_data(k_data, params, num_examples)
    sweep = bound_sweep(
        model,
        params,
        k_sweep,
        x,
        log_grid(max_k),
        chunk_size,
        memory_bytes=memory_bytes,
        dense_max_k=dense_max_k,
        exact_log_px=exact,
        log=log,
    )
    snr = None
    if snr_draws:
        snr = snr_sweep(
            model, params, k_snr, x[:snr_batch], decades(snr_max_k), num_draws=snr_draws, log=log
        )
    annealing = {}
    if ais_steps:
        annealing = annealing_report(
            model,
            params,
            jax.random.fold_in(rng_key, 1),
            x,
            sweep,
            ais_steps,
            ais_options,
            num_examples=ais_examples,
            simulated=simulated,
            exact_log_px=exact,
            exact_fn=lambda xs: np.asarray(linear_gaussian.exact_log_marginal(params, xs)),
            log=log,
        )
    opts = {**dict(data_dim=16, latent=8, noise=0.5, scale_inflation=1.2, mean_shift=1.0), **setup}
    return {
        **annealing,
        "title": "linear-Gaussian model, imperfect q",
        "setup": [
            f"p(z) = N(0, I_{opts['latent']}), p(x|z) = N(Wz + b, {opts['noise']}² "
            f"I_{opts['data_dim']}); q = exact posterior with s.d. ×{opts['scale_inflation']} "
            f"and mean moved by ±{opts['mean_shift']} posterior s.d. (seeded); x drawn from "
            "the model; exact log p(x) in closed form.",
        ],
        "sweep": sweep,
        "snr": snr,
    }
