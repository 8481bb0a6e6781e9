"""Active units (Burda et al. 2015, section 5.2): latent dimensions whose posterior mean varies
with the data."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jvae import compiler
from jvae.diagnostics import memory
from jvae.models.model import Model


def active_units(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    data: np.ndarray | jax.Array,
    threshold: float = 0.01,
    num_samples: int = 100,
    batch_size: int | None = None,
    *,
    memory_bytes: int | None = None,
) -> list[dict[str, Any]]:
    r"""Active units per stochastic layer (Burda et al. 2015, section 5.2).

    Unit :math:`u` of layer :math:`l` is active when :math:`A_u = \mathrm{Cov}_x\big(
    E_{q(z_l|x)}[z_{l,u}]\big) > 0.01`. Upper-layer means average over ``num_samples`` draws
    of the layers below. The batch is planned within ``memory_bytes``
    (:func:`jvae.diagnostics.memory.plan_evaluation`) unless ``batch_size`` pins it.

    Returns:
      one dict per layer: ``{'active': int, 'variances': [D_l] numpy array}``.
    """
    data = np.asarray(data)
    dtype = jax.dtypes.canonicalize_dtype(data.dtype)
    means = compiler.jit(lambda p, k, x: model.posterior_means(p, k, x, num_samples))

    def compile_at(batch: int, _: int) -> jax.stages.Compiled:
        x = jax.ShapeDtypeStruct((batch, *data.shape[1:]), dtype)
        return means.lower(params, rng_key, x).compile()

    plan, means_fn = memory.plan_evaluation(
        compile_at,
        data.shape[0],
        num_samples,
        memory_bytes,
        batch_size=batch_size,
        chunk_size=num_samples,
    )
    batch_size = plan.batch_size
    chunks: list[list[np.ndarray]] = [[] for _ in model.latent_sizes]
    for j, start in enumerate(range(0, data.shape[0], batch_size)):
        x = data[start : start + batch_size]
        m = x.shape[0]
        if m < batch_size:  # padded: the compiled function takes one shape
            x = np.concatenate([x, np.zeros((batch_size - m, *x.shape[1:]), x.dtype)])
        for layer, mean in enumerate(means_fn(params, jax.random.fold_in(rng_key, j), x)):
            chunks[layer].append(np.asarray(mean, np.float64)[:m])
    out = []
    for layer_chunks in chunks:
        variances = np.var(np.concatenate(layer_chunks), axis=0)
        out.append({"active": int(np.sum(variances > threshold)), "variances": variances})
    return out
