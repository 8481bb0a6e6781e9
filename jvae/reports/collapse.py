"""The posterior-collapse figure: how much each model uses z (per-example KL) and what its
decoder makes of one z (several decoder samples beside the data)."""

from __future__ import annotations

import pathlib

import numpy as np

from jvae.reports.figures import image_grid, plt, show


def save_collapse_figure(
    rates: dict[str, np.ndarray],
    data: np.ndarray,
    decoded: dict[str, np.ndarray],
    path: str | pathlib.Path,
    image_shape: tuple[int, ...] = (28, 28),
) -> None:
    """Left: histograms of the per-example KL (nats) of each model. Right: for each model, each
    row is a data image, then decoder samples from one draw of z given that image.

    Args:
      rates: ``{model: [N]}`` KL per example.
      data: ``[B, D]`` images.
      decoded: ``{model: [S, B, D]}`` decoder samples (``S`` per image, one z per image).
      path: the PNG to write.
      image_shape: the event shape, ``(H, W[, C])``.
    """
    names = list(decoded)
    fig = plt.figure(figsize=(4.5 + 2.6 * len(names), 4.2))
    grid = fig.add_gridspec(1, 1 + len(names), width_ratios=[1.6] + [1.0] * len(names))
    ax = fig.add_subplot(grid[0])
    top = max(float(np.max(r)) for r in rates.values())
    bins = np.linspace(0.0, max(top, 1.0), 40)
    for name, rate in rates.items():
        ax.hist(rate, bins=bins, alpha=0.5, label=f"{name} (mean {np.mean(rate):.1f})")
    ax.set_xlabel("KL(q(z|x) || p(z)) per test image (nats)")
    ax.set_ylabel("test images")
    ax.set_title("how much each model uses z", fontsize=10)
    ax.legend(fontsize=7)
    for i, name in enumerate(names):
        samples = decoded[name]
        rows = [np.concatenate([data[b : b + 1], samples[:, b]]) for b in range(len(data))]
        tiles = image_grid(np.concatenate(rows), samples.shape[0] + 1, image_shape)
        sub = fig.add_subplot(grid[i + 1])
        show(sub, tiles)
        sub.set_axis_off()
        sub.set_title(f"{name}\ndata | samples of p(x|z)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
