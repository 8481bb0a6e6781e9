r"""Rate and distortion of a trained model, per example: how much a model uses its latents.

.. math:: R(x) = E_{q(z|x)}\big[\log q(z \mid x) - \log p(z)\big] = \mathrm{KL}(q(z|x) \,\|\,
          p(z)), \qquad D(x) = -E_{q(z|x)} \log p(x \mid z),

estimated from ``K`` draws of the log-weight terms (Monte Carlo, so it works for every posterior,
prior and decoder; summed over stochastic layers). A decoder that ignores z drives the rate to
zero: posterior collapse (Bowman et al. 2016; Chen et al. 2017). ELBO = -(R + D).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jvae import compiler
from jvae.diagnostics import memory
from jvae.models.model import Model


def make_rate_evaluator(
    model: Model, num_samples: int
) -> Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
    """Jitted ``(params, rng_key, x[B, D]) -> (rate [B], distortion [B])`` from
    ``num_samples`` draws."""

    @compiler.jit
    def evaluate(params: Any, rng_key: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        terms = model.log_weights(params, rng_key, x, num_samples)
        rate = jnp.mean(terms.log_posterior - terms.log_prior, axis=0)
        return rate, -jnp.mean(terms.log_likelihood, axis=0)

    return evaluate


def rate_distortion(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    data: np.ndarray,
    num_samples: int = 10,
    batch_size: int | None = None,
    *,
    memory_bytes: int | None = None,
) -> dict[str, np.ndarray]:
    """Per-example rate (KL) and distortion (negative reconstruction) over ``data[N, D]``, in
    nats: ``{'rate': [N], 'distortion': [N]}``. The batch (all ``num_samples`` draws at once)
    is planned within ``memory_bytes`` (:func:`jvae.diagnostics.memory.plan_evaluation`)
    unless ``batch_size`` pins it. Batch ``j`` uses ``fold_in(rng_key, j)``; the last batch is
    padded, so the evaluator compiles once."""
    data = np.asarray(data)
    dtype = jax.dtypes.canonicalize_dtype(data.dtype)

    def compile_at(batch: int, _: int) -> jax.stages.Compiled:
        x = jax.ShapeDtypeStruct((batch, *data.shape[1:]), dtype)
        return make_rate_evaluator(model, num_samples).lower(params, rng_key, x).compile()

    plan, evaluate = memory.plan_evaluation(
        compile_at,
        len(data),
        num_samples,
        memory_bytes,
        batch_size=batch_size,
        chunk_size=num_samples,
    )
    batch_size = plan.batch_size
    rates, distortions = [], []
    for j, start in enumerate(range(0, len(data), batch_size)):
        x = data[start : start + batch_size]
        m = len(x)
        if m < batch_size:
            x = np.concatenate([x, np.zeros((batch_size - m, *x.shape[1:]), x.dtype)])
        rate, distortion = evaluate(params, jax.random.fold_in(rng_key, j), jnp.asarray(x))
        rates.append(np.asarray(rate, np.float64)[:m])
        distortions.append(np.asarray(distortion, np.float64)[:m])
    return {"rate": np.concatenate(rates), "distortion": np.concatenate(distortions)}
