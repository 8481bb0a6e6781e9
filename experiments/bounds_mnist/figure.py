"""The objectives' trade-off in one picture: the model's test NLL against the encoder's
test -ELBO, one point per objective (Rainforth et al. 2018: tighter bounds train a better
model p and a worse inference network q)."""

from __future__ import annotations

import pathlib

from jvae.reports.figures import plt


def tradeoff(rows: dict[str, dict], path: pathlib.Path) -> None:
    """``rows``: objective name -> row JSON (``nll``, ``elbo``, ``active_units``)."""
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    for i, (name, row) in enumerate(rows.items()):
        ax.scatter(-row["elbo"], row["nll"], color=f"C{i}", s=40)
        units = "+".join(map(str, row["active_units"]))
        ax.annotate(
            f"{name} ({units} AU)",
            (-row["elbo"], row["nll"]),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=8,
        )
    ax.set_xlabel("test -ELBO, L_1 (nats): the encoder q")
    ax.set_ylabel("test NLL (nats): the model p")
    ax.set_title("objectives at equal k and budget (lower is better)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.margins(0.25)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
