"""Active units (Burda et al. 2015, section 5.2): latent dimensions whose posterior mean varies
with the data."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jvae import compiler
from jvae.models.model import Model


def active_units(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    data: np.ndarray | jax.Array,
    threshold: float = 0.01,
    num_samples: int = 100,
    batch_size: int = 1000,
) -> list[dict[str, Any]]:
    r"""Active units per stochastic layer (Burda et al. 2015, section 5.2).

    Unit :math:`u` of layer :math:`l` is active when :math:`A_u = \mathrm{Cov}_x\big(
    E_{q(z_l|x)}[z_{l,u}]\big) > 0.01`. Upper-layer means average over ``num_samples`` draws
    of the layers below.

    Returns:
      one dict per layer: ``{'active': int, 'variances': [D_l] numpy array}``.
    """
    means_fn = compiler.jit(lambda p, k, x: model.posterior_means(p, k, x, num_samples))
    data = np.asarray(data)
    chunks: list[list[np.ndarray]] = [[] for _ in model.latent_sizes]
    for j, start in enumerate(range(0, data.shape[0], batch_size)):
        means = means_fn(params, jax.random.fold_in(rng_key, j), data[start : start + batch_size])
        for layer, m in enumerate(means):
            chunks[layer].append(np.asarray(m, np.float64))
    out = []
    for layer_chunks in chunks:
        variances = np.var(np.concatenate(layer_chunks), axis=0)
        out.append({"active": int(np.sum(variances > threshold)), "variances": variances})
    return out
