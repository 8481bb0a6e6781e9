"""PNG figures: image grids of samples and reconstructions, and line plots."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def picture(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """One example of event ``shape`` (``(H, W)``, ``(H, W, C)`` or ``(D,)``, in any
    flattening) as an array ``imshow`` draws: ``[H, W]`` grey, ``[H, W, 3]`` colour (clipped
    to [0, 1]), a ``[1, D]`` strip for a vector."""
    shape = (1, *shape) if len(shape) == 1 else tuple(shape)
    out = np.asarray(image).reshape(shape)
    if out.ndim == 3 and out.shape[-1] == 1:
        out = out[..., 0]
    return np.clip(out, 0.0, 1.0) if out.ndim == 3 else out


def show(ax: plt.Axes, image: np.ndarray) -> None:
    """``imshow`` of a :func:`picture`, grey levels on [0, 1]."""
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")


def image_grid(images: np.ndarray, columns: int, shape: tuple[int, ...] = (28, 28)) -> np.ndarray:
    """Tiles ``n`` examples of event ``shape`` (:func:`picture`) into one ``[rows*h,
    columns*w(, C)]`` array."""
    tiles = [picture(img, shape) for img in np.asarray(images).reshape(-1, int(np.prod(shape)))]
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    grid = np.ones((rows * h, columns * w, *tiles[0].shape[2:]), tiles[0].dtype)
    for i, img in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    return grid


def save_grid(
    images: np.ndarray,
    path: str | pathlib.Path,
    columns: int,
    title: str,
    shape: tuple[int, ...] = (28, 28),
) -> None:
    """Writes a grid of examples of event ``shape`` (values in [0, 1]) as a PNG."""
    grid = image_grid(images, columns, shape)
    fig, ax = plt.subplots(figsize=(columns * 0.45, grid.shape[0] / grid.shape[1] * columns * 0.45))
    show(ax, grid)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def save_reconstructions(
    data: np.ndarray,
    recon: np.ndarray,
    path: str | pathlib.Path,
    title: str,
    shape: tuple[int, ...] = (28, 28),
) -> None:
    """Alternating rows of data and their reconstructions (:func:`reconstruction_rows`)."""
    images, columns = reconstruction_rows(data, recon)
    save_grid(images, path, columns, title, shape)


def reconstruction_rows(data: np.ndarray, recon: np.ndarray) -> tuple[np.ndarray, int]:
    """``(images, columns)``: rows of ``columns = min(8, n)`` examples alternating with their
    reconstructions, for the first whole rows of up to 32 examples."""
    columns = min(len(data), 8)
    if columns == 0:
        raise ValueError("reconstructions need at least one example.")
    n = (min(len(data), 32) // columns) * columns
    pairs = []
    for r in range(0, n, columns):
        pairs.extend([data[r : r + columns], recon[r : r + columns]])
    return np.concatenate(pairs), columns


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
