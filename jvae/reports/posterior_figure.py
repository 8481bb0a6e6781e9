"""The q_EW figure (as in Cremer et al. 2017): per example, density images of the true
posterior, of q and of q_EW for several K side by side (from
:func:`jvae.diagnostics.importance_resampling.model_posterior_panels` or
:func:`~jvae.diagnostics.importance_resampling.toy_posterior_panels`)."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import numpy as np

from jvae.diagnostics.importance_resampling import PosteriorPanels
from jvae.reports.figures import picture, plt, show


def save_posterior_figure(
    panels: Sequence[PosteriorPanels],
    path: str | pathlib.Path,
    title: str,
    images: np.ndarray | None = None,
    image_shape: tuple[int, ...] = (28, 28),
) -> pathlib.Path:
    """One row per example: its image (when ``images`` is given), then
    :math:`p(z \\mid x)`, q and q_EW for each K on the same axes. Writes a PNG; returns the path.
    """
    path = pathlib.Path(path)
    ks = panels[0].ks
    columns = (images is not None) + 2 + len(ks)
    fig, axes = plt.subplots(
        len(panels), columns, figsize=(1.9 * columns, 1.9 * len(panels) + 0.4), squeeze=False
    )
    names = ["true p(z|x)", "q(z|x)"] + [f"q_EW, K={k}" for k in ks]
    for row, (ax_row, p) in enumerate(zip(axes, panels)):
        if images is not None:
            show(ax_row[0], picture(images[row], image_shape))
            ax_row[0].set_axis_off()
            if row == 0:
                ax_row[0].set_title("x", fontsize=9)
        densities = [p.log_true, p.log_q, *p.log_qew]
        for ax, name, log_density in zip(ax_row[columns - len(densities) :], names, densities):
            ax.imshow(np.exp(log_density), origin="lower", extent=p.extent, aspect="auto")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
