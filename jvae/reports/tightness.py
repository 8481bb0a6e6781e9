"""The bound-tightness report: ``tightness.md``, ``tightness.json``, ``bound_vs_k.png``,
``snr_vs_k.png`` and, with AIS, ``ais.png`` from the results of
:mod:`jvae.diagnostics.tightness`."""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any

import numpy as np

from jvae.reports.figures import plt


def _fmt(v: float | None, digits: int = 3) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _pm(mean: float, se: float | None, digits: int = 3) -> str:
    return f"{mean:.{digits}f} ± {_fmt(se, digits)}"


def _markdown(results: dict[str, Any]) -> str:
    sweep, snr = results["sweep"], results.get("snr")
    exact = sweep.get("exact") is not None
    jvi = sweep.get("jvi")
    best = sweep["best"]
    lines = [f"# Bound tightness: {results.get('title', 'model')}", ""]
    for note in results.get("setup", []):
        lines.append(f"- {note}")
    lines += [
        f"- {sweep['num_examples']} examples; mean ± standard error over examples; gaps are "
        f"paired per example (gap to best: L_{best['k']} − L_K"
        + (f"; gap to JVI: JVI-1 at K={jvi['k']} − L_K" if jvi else "")
        + ("; true gap: log p(x) − L_K" if exact else "")
        + "). Dense K (with ESS: Kish, 1/Σ w̃²) are averaged over the disjoint blocks of K of "
        f"one set of {max((r['k'] for r in sweep['rows'] if r['dense']), default=0)} draws per "
        "example (same expectation as L_K, less variance); larger K are single streamed draws.",
        "",
    ]
    head = ["K", "L_K (mean ± s.e.)", f"gap to L_{best['k']}"]
    head += ["gap to JVI-1"] if jvi else []
    head += ["ESS", "ESS/K"]
    head += ["true gap (± s.e.)"] if exact else []
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in sweep["rows"]:
        cells = [
            str(r["k"]),
            _pm(r["mean"], r["stderr"]),
            _pm(r["gap_to_best"], r["gap_to_best_stderr"]),
        ]
        cells += [_fmt(r["gap_to_jvi"])] if jvi else []
        ess = r["ess_mean"]
        cells += [_fmt(ess, 1), _fmt(None if ess is None else ess / r["k"])]
        cells += [_pm(r["true_gap"], r["true_gap_stderr"])] if exact else []
        lines.append("| " + " | ".join(cells) + " |")
    if jvi:
        for order in (1, 2):
            j = jvi[f"order{order}"]
            cells = [
                f"JVI-{order} (K={jvi['k']})",
                _pm(j["mean"], j["stderr"]),
                _pm(j["gap_to_best"], j["gap_to_best_stderr"]),
            ]
            cells += ["–", "–", "–"]
            cells += [_pm(j["true_gap"], j["true_gap_stderr"])] if exact else []
            lines.append("| " + " | ".join(cells) + " |")
    if exact:
        e = sweep["exact"]
        cells = [
            "exact log p(x)",
            _pm(e["mean"], e["stderr"]),
            _fmt(best["mean"] - e["mean"]),
            *(["–"] if jvi else []),
            "–",
            "–",
            "0",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    secs = ", ".join(f"{name}: {v:.1f} s" for name, v in sweep["seconds"].items())
    lines += ["", f"Time ({secs}).", "", "![L_K vs K](bound_vs_k.png)", ""]
    if snr:
        lines += [
            f"## Gradient SNR (bound `{snr['bound']}`, batch of {snr['batch']}, "
            f"{snr['num_draws']} draws)",
            "",
            "Mean over parameters of |mean| / std of each gradient coordinate.",
            "",
        ]
        for part in ("encoder", "decoder"):
            lines += [
                f"**{part}**",
                "",
                "| K | " + " | ".join(snr["estimators"]) + " |",
                "|" + " --- |" * (1 + len(snr["estimators"])),
            ]
            for i, k in enumerate(snr["ks"]):
                vals = [f"{snr[part][e][i]:.4g}" for e in snr["estimators"]]
                lines.append(f"| {k} | " + " | ".join(vals) + " |")
            lines.append("")
        lines += ["![SNR vs K](snr_vs_k.png)", ""]
    lines += _annealing_markdown(results)
    return "\n".join(lines)


def _annealing_markdown(results: dict[str, Any]) -> list[str]:
    """The AIS and BDMC sections (empty without AIS)."""
    a, bd = results.get("ais"), results.get("bdmc")
    if not a:
        return []
    o = a["options"]
    exact = a.get("exact") is not None
    ref = a["reference"][-1] if a["reference"] else None
    lines = [
        f"## Annealed importance sampling ({a['num_examples']} examples)",
        "",
        f"- {o['num_chains']} chains per example from the {o['init']}, {o['schedule']} "
        f"schedule, HMC with {o['leapfrog_steps']} leapfrog steps, step size adapted towards "
        f"{o['target_acceptance']} acceptance over a {o['warmup_steps']}-level pilot; T = 1 is "
        f"importance sampling with K = {o['num_chains']}. Mean ± standard error over examples; "
        "chain s.e.: mean per-example Monte Carlo error; gradient evaluations per example "
        "(each a decoder pass forward and back, the pilot included).",
        "",
    ]
    head = ["T", "log p̂(x) (mean ± s.e.)", "chain s.e.", "acceptance", "step size"]
    head += ["gradient evals", "time (s)"]
    head += [f"AIS − L_{ref['k']}"] if ref else []
    head += ["true gap"] if exact else []
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in a["rows"]:
        cells = [
            str(r["steps"]),
            _pm(r["mean"], r["stderr"]),
            _fmt(r["chain_stderr"]),
            _fmt(r["acceptance"]),
            _fmt(r["step_size"]),
            str(r["gradient_evaluations"]),
            _fmt(r["seconds"], 1),
        ]
        cells += [_pm(r["minus_best"], r["minus_best_stderr"])] if ref else []
        cells += [_pm(r["true_gap"], r["true_gap_stderr"])] if exact else []
        lines.append("| " + " | ".join(cells) + " |")
    shown = [r for r in a["reference"] if r["k"] in (1, o["num_chains"], ref and ref["k"])]
    for r in shown:  # L_1, L_C (what T = 1 estimates) and the largest K, on the same examples
        cells = [f"L_{r['k']} (same examples)", _pm(r["mean"], r["stderr"]), "–", "–", "–"]
        cells += [f"{r['k']} forward", "–"] + ["–"] * (len(head) - 7)
        lines.append("| " + " | ".join(cells) + " |")
    if exact:
        e = a["exact"]
        cells = ["exact log p(x)", _pm(e["mean"], e["stderr"])] + ["–"] * (len(head) - 3) + ["0"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "![AIS against cost](ais.png)", ""]
    if bd:
        true = "lower_true_gap" in bd["rows"][0]
        lines += [
            f"## Bidirectional Monte Carlo ({bd['num_examples']} simulated examples)",
            "",
            "- x and its exact z drawn from the model; forward AIS is a stochastic lower bound, "
            "the reverse chain (from z, β from 1 to 0) a stochastic upper bound on log p(x); "
            "their gap bounds the error of either on such data.",
            "",
        ]
        head = ["T", "lower (forward)", "upper (reverse)", "gap (upper − lower)", "time (s)"]
        head += ["log p(x) − lower", "upper − log p(x)"] if true else []
        lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for r in bd["rows"]:
            cells = [
                str(r["steps"]),
                _pm(r["lower"], r["lower_stderr"]),
                _pm(r["upper"], r["upper_stderr"]),
                _pm(r["gap"], r["gap_stderr"]),
                _fmt(r["seconds"], 1),
            ]
            if true:
                cells += [
                    _pm(r["lower_true_gap"], r["lower_true_gap_stderr"]),
                    _pm(r["upper_true_gap"], r["upper_true_gap_stderr"]),
                ]
            lines.append("| " + " | ".join(cells) + " |")
        if bd.get("iwae"):
            i = bd["iwae"]
            lines += [
                "",
                f"L_{i['k']} on the same simulated examples: {_pm(i['mean'], i['stderr'])}; the "
                f"upper bound at T = {bd['rows'][-1]['steps']} minus L_{i['k']}: "
                f"{_pm(i['gap_to_upper'], i['gap_to_upper_stderr'])} nats (at most this far "
                "below log p(x), up to Monte Carlo error).",
            ]
        lines.append("")
    return lines


def _plot_annealing(results: dict[str, Any], path: pathlib.Path) -> None:
    """Estimates against gradient/decoder evaluations per example: L_K (K forward passes),
    AIS at each T; BDMC's two bounds on simulated data in a second panel."""
    a, bd = results["ais"], results.get("bdmc")
    fig, axes = plt.subplots(1, 2 if bd else 1, figsize=(10 if bd else 5.5, 3.8), squeeze=False)
    ax = axes[0, 0]
    ref = a["reference"]
    if ref:
        ax.errorbar(
            [r["k"] for r in ref],
            [r["mean"] for r in ref],
            yerr=[r["stderr"] for r in ref],
            marker="o",
            capsize=3,
            label="L_K (K decoder passes)",
        )
    rows = a["rows"]
    cost = [max(r["gradient_evaluations"], a["options"]["num_chains"]) for r in rows]
    ax.errorbar(
        cost,
        [r["mean"] for r in rows],
        yerr=[r["stderr"] for r in rows],
        marker="s",
        capsize=3,
        label="AIS (gradient evaluations)",
    )
    for c, r in zip(cost, rows):
        ax.annotate(
            f"T={r['steps']}",
            (c, r["mean"]),
            fontsize=7,
            xytext=(3, -9),
            textcoords="offset points",
        )
    if a.get("exact"):
        ax.axhline(a["exact"]["mean"], color="k", lw=1, label="exact log p(x)")
    ax.set_xscale("log")
    ax.set_xlabel("evaluations per example")
    ax.set_ylabel("mean estimate (nats)")
    ax.set_title(f"{results.get('title', '')}: {a['num_examples']} examples", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    if bd:
        ax = axes[0, 1]
        ts = [r["steps"] for r in bd["rows"]]
        for name, marker in (("lower", "v"), ("upper", "^")):
            ax.errorbar(
                ts,
                [r[name] for r in bd["rows"]],
                yerr=[r[f"{name}_stderr"] for r in bd["rows"]],
                marker=marker,
                capsize=3,
                label=f"BDMC {name} bound",
            )
        if bd.get("iwae"):
            i = bd["iwae"]
            ax.axhline(i["mean"], color="C2", ls="--", lw=1, label=f"L_{i['k']}")
        ax.set_xscale("log")
        ax.set_xlabel("T (intermediate distributions)")
        ax.set_ylabel("mean bound (nats)")
        ax.set_title(f"{bd['num_examples']} simulated examples", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_bounds(results: dict[str, Any], path: pathlib.Path) -> None:
    sweep = results["sweep"]
    ks = np.array([r["k"] for r in sweep["rows"]])
    mean = np.array([r["mean"] for r in sweep["rows"]])
    se = np.array([r["stderr"] for r in sweep["rows"]])
    fig, (ax, ax_gap) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax.errorbar(ks, mean, yerr=se, marker="o", capsize=3, label="L_K")
    best = sweep["best"]
    ax.axhline(best["mean"], color="C1", ls="--", lw=1, label=f"L_{best['k']}")
    if sweep.get("jvi"):
        j = sweep["jvi"]
        for order, color in ((1, "C2"), (2, "C4")):
            ax.axhline(
                j[f"order{order}"]["mean"],
                color=color,
                ls=":",
                lw=1.2,
                label=f"JVI-{order} (K={j['k']})",
            )
    if sweep.get("exact"):
        ax.axhline(sweep["exact"]["mean"], color="k", lw=1, label="exact log p(x)")
    ax.set_xscale("log")
    ax.set_xlabel("K")
    ax.set_ylabel("mean L_K (nats)")
    ax.set_title(results.get("title", ""), fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    key, name = (
        ("true_gap", "log p(x) − L_K")
        if sweep.get("exact")
        else ("gap_to_best", f"L_{best['k']} − L_K")
    )
    gap = np.array([r[key] for r in sweep["rows"]], np.float64)
    ok = gap > 0
    ax_gap.plot(ks[ok], gap[ok], marker="o", label=name)
    if ok.sum() >= 1:
        k0, g0 = ks[ok][-1], gap[ok][-1]  # the asymptote is at large K
        ax_gap.plot(ks, g0 * k0 / ks, color="gray", ls="--", lw=1, label="∝ 1/K")
    ax_gap.set_xscale("log")
    ax_gap.set_yscale("log")
    ax_gap.set_xlabel("K")
    ax_gap.set_ylabel("gap (nats)")
    ax_gap.set_title("gap against K", fontsize=10)
    ax_gap.legend(fontsize=7)
    ax_gap.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_snr(snr: dict[str, Any], path: pathlib.Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, part in zip(axes, ("encoder", "decoder")):
        for est in snr["estimators"]:
            ax.plot(snr["ks"], snr[part][est], marker="o", label=est)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("K")
        ax.set_ylabel("mean SNR")
        ax.set_title(f"{part} gradient SNR ({snr['bound']})", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _jsonable(results: dict[str, Any]) -> dict[str, Any]:
    out = dict(results)
    out["sweep"] = {k: v for k, v in results["sweep"].items() if k != "per_example"}
    if results.get("ais"):
        out["ais"] = {k: v for k, v in results["ais"].items() if k != "per_example"}
    return out


def write_report(results: dict[str, Any], outdir: str | pathlib.Path) -> dict[str, pathlib.Path]:
    """Writes ``tightness.md``, ``tightness.json``, ``bound_vs_k.png`` (and ``snr_vs_k.png``).

    Args:
      results: ``{'title': str, 'setup': [str], 'sweep': bound_sweep(...), 'snr':
        snr_sweep(...) or None}``, and optionally ``'ais': ais_sweep(...)``, ``'bdmc':
        bdmc_sweep(...) or None`` (:func:`jvae.diagnostics.annealed.annealing_report`).
      outdir: created if missing.

    Returns:
      the written paths by name.
    """
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {
        "md": outdir / "tightness.md",
        "json": outdir / "tightness.json",
        "bound_plot": outdir / "bound_vs_k.png",
    }
    paths["md"].write_text(_markdown(results))
    paths["json"].write_text(json.dumps(_jsonable(results), indent=2))
    _plot_bounds(results, paths["bound_plot"])
    if results.get("snr"):
        paths["snr_plot"] = outdir / "snr_vs_k.png"
        _plot_snr(results["snr"], paths["snr_plot"])
    if results.get("ais"):
        paths["ais_plot"] = outdir / "ais.png"
        _plot_annealing(results, paths["ais_plot"])
    return paths
