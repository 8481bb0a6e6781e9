"""The bound-tightness report: ``tightness.md``, ``tightness.json``, ``bound_vs_k.png`` and
``snr_vs_k.png`` from the results of :mod:`jvae.diagnostics.tightness`."""

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
    return "\n".join(lines)


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
    return out


def write_report(results: dict[str, Any], outdir: str | pathlib.Path) -> dict[str, pathlib.Path]:
    """Writes ``tightness.md``, ``tightness.json``, ``bound_vs_k.png`` (and ``snr_vs_k.png``).

    Args:
      results: ``{'title': str, 'setup': [str], 'sweep': bound_sweep(...), 'snr':
        snr_sweep(...) or None}``.
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
    return paths
