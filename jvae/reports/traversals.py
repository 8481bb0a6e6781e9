r"""Latent traversals: one image encoded, each latent dimension swept while the others stay put.

Row :math:`j` decodes :math:`z = \mu(x)` with :math:`z_j` replaced by
:math:`\bar\mu_j + t\, s_j`, :math:`t` from -3 to 3, where :math:`\bar\mu_j` and
:math:`s_j^2 = \mathrm{Var}_x[\mu_j(x)] + E_x[\sigma_j^2(x)]` are the mean and variance of the
aggregate posterior over reference images (about 0 and 1 under a standard normal prior; a
collapsed dimension has :math:`s_j \approx 1` and changes nothing). Rows are sorted by the
dimension's average KL (most informative first) and labelled with it, as in Higgins et al.
2017's and Burgess et al. 2018's figures. Needs one Gaussian latent of x that the likelihood
reads (the dSprites and 1-layer IWAE models).
"""

from __future__ import annotations

import pathlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jvae.models.model import DATA, Model
from jvae.objectives.kl import gaussian_kl_per_dim
from jvae.reports.figures import image_grid, plt, show


class Traversal(NamedTuple):
    """Decoded traversals of one image.

    Attributes:
      images: ``[d, steps, D]`` likelihood means, rows in ``order``.
      offsets: ``[steps]`` the swept values in aggregate-posterior stds, -span .. span.
      values: ``[d, steps]`` the swept values of each dimension.
      order: ``[d]`` latent dimensions, by decreasing ``kl``.
      kl: ``[d]`` average KL of each dimension (nats) over the reference images, in ``order``.
    """

    images: np.ndarray
    offsets: np.ndarray
    values: np.ndarray
    order: np.ndarray
    kl: np.ndarray


def supports_traversals(model: Model) -> bool:
    """Whether the model has one Gaussian latent of x alone that the likelihood reads."""
    parts = model.parts
    if parts is None or len(parts.latents) != 1:
        return False
    latent = parts.latents[0]
    gaussian = hasattr(latent.posterior, "distribution")
    return (
        gaussian
        and latent.posterior_parents == (DATA,)
        and parts.likelihood_parents == (latent.name,)
    )


def latent_traversal(
    model: Model,
    params: Any,
    image: np.ndarray,
    reference: np.ndarray,
    steps: int = 9,
    span: float = 3.0,
) -> Traversal:
    """Traversals of ``image`` ``[*event_shape]`` over ``span`` aggregate-posterior stds of
    the ``reference`` images ``[n, *event_shape]`` (see the module docstring)."""
    if not supports_traversals(model):
        raise ValueError("latent traversals need one Gaussian latent of x that the decoder reads.")
    parts = model.parts
    offsets = jnp.linspace(-span, span, steps)

    def traverse(params: Any, image: jax.Array, reference: jax.Array) -> tuple[jax.Array, ...]:
        q_ref = model.posterior_distribution(params, reference)
        centre = jnp.mean(q_ref.mean, axis=0)
        spread = jnp.var(q_ref.mean, axis=0) + jnp.mean(jnp.exp(2 * q_ref.log_scale), axis=0)
        kl = jnp.mean(gaussian_kl_per_dim(q_ref), axis=0)
        mu = model.posterior_distribution(params, image[None]).mean[0]
        d = mu.shape[-1]
        values = centre[:, None] + offsets[None, :] * jnp.sqrt(spread)[:, None]  # [d, steps]
        z = jnp.broadcast_to(mu, (d, steps, d))
        z = jnp.where(jnp.eye(d, dtype=bool)[:, None, :], values[:, :, None], z)
        decoder = params["decoder"][parts.likelihood_key]
        return parts.likelihood.mean(decoder, jax.random.PRNGKey(0), (z,)), values, kl

    images, values, kl = jax.device_get(
        jax.jit(traverse)(
            params, jnp.asarray(image, jnp.float32), jnp.asarray(reference, jnp.float32)
        )
    )
    order = np.argsort(-kl, kind="stable")
    return Traversal(images[order], np.asarray(offsets), values[order], order, kl[order])


def save_traversals(
    traversal: Traversal,
    path: str | pathlib.Path,
    title: str,
    shape: tuple[int, ...],
    max_rows: int = 16,
) -> None:
    """One row per dimension (labelled ``z_j`` and its KL), one column per swept value; the
    ``max_rows`` most informative dimensions when there are more (a 50-D MNIST model)."""
    total = traversal.images.shape[0]
    if total > max_rows:
        rows = slice(0, max_rows)
        traversal = traversal._replace(
            images=traversal.images[rows],
            values=traversal.values[rows],
            order=traversal.order[rows],
            kl=traversal.kl[rows],
        )
        title = f"{title}, top {max_rows} of {total} dimensions by KL"
    d, steps = traversal.images.shape[:2]
    grid = image_grid(traversal.images.reshape(d * steps, -1), steps, shape)
    height, width = grid.shape[0] // d, grid.shape[1] // steps
    fig, ax = plt.subplots(figsize=(steps * 0.7 + 1.2, d * 0.7 * height / width + 0.6))
    show(ax, grid)
    ax.set_yticks((np.arange(d) + 0.5) * height)
    ax.set_yticklabels([f"z{j} ({k:.2f})" for j, k in zip(traversal.order, traversal.kl)])
    ax.set_xticks((np.arange(steps) + 0.5) * width)
    ax.set_xticklabels([f"{v:+.1f}" for v in traversal.offsets], fontsize=7)
    ax.tick_params(axis="y", labelsize=7, length=0)
    ax.set_xlabel("swept value, aggregate-posterior stds", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
