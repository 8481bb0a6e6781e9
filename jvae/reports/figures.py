"""PNG figures: image grids of samples and reconstructions, and line plots."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def image_grid(images: np.ndarray, columns: int, shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Tiles ``[n, h*w]`` images into one ``[rows*h, columns*w]`` array."""
    h, w = shape
    images = np.asarray(images).reshape(-1, h, w)
    rows = -(-images.shape[0] // columns)
    grid = np.ones((rows * h, columns * w), images.dtype)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    return grid


def save_grid(
    images: np.ndarray,
    path: str | pathlib.Path,
    columns: int,
    title: str,
    shape: tuple[int, int] = (28, 28),
) -> None:
    """Writes a grey-level grid of images (values in [0, 1]) as a PNG."""
    grid = image_grid(images, columns, shape)
    fig, ax = plt.subplots(figsize=(columns * 0.45, grid.shape[0] / grid.shape[1] * columns * 0.45))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def save_reconstructions(
    data: np.ndarray,
    recon: np.ndarray,
    path: str | pathlib.Path,
    title: str,
    shape: tuple[int, int] = (28, 28),
) -> None:
    """Alternating rows of data and their reconstructions (8 per row)."""
    n = (min(len(data), 32) // 8) * 8
    pairs = []
    for r in range(0, n, 8):
        pairs.extend([data[r : r + 8], recon[r : r + 8]])
    save_grid(np.concatenate(pairs), path, 8, title, shape)


def save_lines(
    x: np.ndarray,
    series: dict[str, np.ndarray],
    path: str | pathlib.Path,
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = False,
) -> None:
    """One line per entry of ``series`` against ``x``."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, y in series.items():
        ax.plot(x, y, marker="o", label=name)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
