r"""The KL of each latent dimension over training (Burgess et al. 2018, figure 3: under
controlled capacity the dimensions switch on one at a time as :math:`C` grows), from a run's
``metrics.jsonl``."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np

from jvae.reports.figures import plt


def read_records(path: str | pathlib.Path) -> list[dict[str, Any]]:
    """The epoch records of a ``metrics.jsonl`` (none if the file is missing)."""
    path = pathlib.Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def save_kl_per_dim(records: list[dict[str, Any]], path: str | pathlib.Path, title: str) -> bool:
    """Plots each dimension's epoch-mean KL (nats) against the step, the total, and the
    capacity :math:`C` where the run had one; returns ``False`` (and writes nothing) when the
    records hold no ``kl_per_dim``."""
    rows = [r for r in records if "kl_per_dim" in r]
    if not rows:
        return False
    steps = np.asarray([r["step"] for r in rows])
    kl = np.asarray([r["kl_per_dim"] for r in rows])  # [epochs, d]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    order = np.argsort(-kl[-1], kind="stable")
    colours = plt.get_cmap("tab10" if kl.shape[1] <= 10 else "tab20")
    marker = "o" if len(rows) <= 30 else None  # a short run's epochs stay visible
    for rank, j in enumerate(order):
        colour = colours(rank % colours.N)
        ax.plot(steps, kl[:, j], color=colour, lw=1.2, marker=marker, ms=3, label=f"z{j}")
    ax.plot(steps, kl.sum(axis=1), color="black", lw=1.5, marker=marker, ms=3, label="total")
    if all("capacity" in r for r in rows):
        capacity = [r["capacity"] for r in rows]
        ax.plot(steps, capacity, "k--", lw=1, marker=marker, ms=3, label="capacity C")
    ax.set_xlabel("training step")
    ax.set_ylabel("KL (nats, epoch mean)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return True
