"""The sandwich figure: every estimate of every model against the evaluations it spent, relative
to that model's L_Kmax (test images: L_K and AIS; simulated images: BDMC's two bounds)."""

from __future__ import annotations

import pathlib
from typing import Any

from jvae.reports.figures import plt


def save_sandwich_figure(
    rows: dict[str, dict[str, Any]], labels: dict[str, str], path: pathlib.Path
) -> None:
    """Left: L_K − L_Kmax and AIS − L_Kmax (paired means over the test images) against
    evaluations per example. Right: the BDMC lower and upper bounds minus L_Kmax of the same
    simulated images against T; the truth lies between the two curves, so the upper curve
    bounds how far L_Kmax sits below log p(x)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (name, row) in enumerate(rows.items()):
        colour = f"C{i}"
        best = {b["k"]: b["mean"] for b in row["bounds"]}[row["best_k"]]
        ks = [b["k"] for b in row["bounds"]]
        left.plot(ks, [b["mean"] - best for b in row["bounds"]], "-o", ms=3, color=colour,
                  label=f"{labels[name]}: L_K")  # fmt: skip
        cost = [
            max(a["gradient_evaluations"], row["ais_options"]["num_chains"]) for a in row["ais"]
        ]
        left.errorbar(
            cost,
            [a["minus_best"] for a in row["ais"]],
            yerr=[a["minus_best_stderr"] for a in row["ais"]],
            fmt="--s",
            ms=4,
            capsize=2,
            color=colour,
            label=f"{labels[name]}: AIS",
        )
        bd = row["bdmc"]
        if bd and bd["iwae"]:
            steps = [b["steps"] for b in bd["rows"]]
            ref = bd["iwae"]["mean"]
            right.plot(steps, [b["upper"] - ref for b in bd["rows"]], "-^", color=colour,
                       label=f"{labels[name]}: upper")  # fmt: skip
            right.plot(steps, [b["lower"] - ref for b in bd["rows"]], ":v", color=colour,
                       label=f"{labels[name]}: lower")  # fmt: skip
    left.set_xscale("log")
    left.set_xlabel("evaluations per example (L_K: forward passes; AIS: gradients)")
    left.set_ylabel("estimate − L_Kmax (nats)")
    left.set_title("test images", fontsize=10)
    right.set_xscale("log")
    right.axhline(0.0, color="k", lw=0.8)
    right.set_xlabel("T (intermediate distributions)")
    right.set_ylabel("bound − L_Kmax of the same images (nats)")
    right.set_title("simulated images: BDMC sandwich", fontsize=10)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
