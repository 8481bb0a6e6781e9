r"""A hand-written JAX epoch of the IWAE paper's 1-layer model: the reference jvae's scanned
epoch is timed against (``bench_overhead.py``).

Plain JAX, no jvae code on the step's path: the 784-200-200-50 tanh encoder with linear
heads :math:`(\mu, \log\sigma)`, :math:`z_k = \mu + \sigma \odot \epsilon_k`, a standard
normal prior, the mirrored 50-200-200-784 decoder giving Bernoulli logits :math:`\ell`,

.. math:: \log w_k = \sum_d \big(x_d \ell_{kd} - \mathrm{softplus}(\ell_{kd})\big)
          + \log \mathcal N(z_k; 0, I) - \log \mathcal N(z_k; \mu, \sigma^2),
          \qquad \mathcal L_K = \log \tfrac1K \textstyle\sum_k w_k,

the loss :math:`-\frac1B \sum_b \mathcal L_K(x_b)` differentiated by ``jax.grad``
(reparameterisation), Adam (0.9, 0.999, eps 1e-4) at the IWAE paper's learning rates
(:math:`10^{-3 - i/7}` for :math:`3^i` passes), a fresh ``jax.random.bernoulli``
binarisation of every batch, and one ``lax.scan`` over a permutation of the data. The
parameters start from jvae's ``iwae_mlp(1).init`` (same initialisation), laid out as plain
``(W, b)`` pairs by :func:`from_jvae`.

    python benchmarks/reference_scan.py     # one epoch of 600 x 100 random grey images
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

LOG_2PI = math.log(2.0 * math.pi)
Params = dict[str, tuple[jax.Array, jax.Array]]


def from_jvae(params: Any) -> Params:
    """jvae's 1-layer ``iwae_mlp`` params as ``{layer: (W, b)}`` (the same arrays)."""
    enc, dec = params["encoder"]["q0"], params["decoder"]["p0"]["mlp"]
    pair = lambda layer: (layer["kernel"], layer["bias"])  # noqa: E731
    return {
        "e0": pair(enc["dense_0"]),
        "e1": pair(enc["dense_1"]),
        "mean": pair(enc["mean"]),
        "log_scale": pair(enc["log_scale"]),
        "d0": pair(dec["dense_0"]),
        "d1": pair(dec["dense_1"]),
        "d2": pair(dec["dense_2"]),
    }


def _dense(p: tuple[jax.Array, jax.Array], h: jax.Array) -> jax.Array:
    return h @ p[0] + p[1]


def iwae_loss(params: Params, eps: jax.Array, x: jax.Array) -> jax.Array:
    """``-mean_b L_K(x_b)`` for binary ``x[B, 784]`` and noise ``eps[K, B, 50]``."""
    h = jnp.tanh(_dense(params["e1"], jnp.tanh(_dense(params["e0"], x))))
    mu, log_s = _dense(params["mean"], h), _dense(params["log_scale"], h)
    z = mu + jnp.exp(log_s) * eps  # [K, B, 50]
    log_q = jnp.sum(-0.5 * jnp.square(eps) - log_s - 0.5 * LOG_2PI, axis=-1)
    log_p = jnp.sum(-0.5 * jnp.square(z) - 0.5 * LOG_2PI, axis=-1)
    k, b, d = z.shape
    g = jnp.tanh(_dense(params["d1"], jnp.tanh(_dense(params["d0"], z.reshape(k * b, d)))))
    logits = _dense(params["d2"], g).reshape(k, b, -1)
    log_lik = jnp.sum(x * logits - jax.nn.softplus(logits), axis=-1)
    log_w = log_lik + log_p - log_q
    bound = jax.nn.logsumexp(log_w, axis=0) - math.log(k)
    return -jnp.mean(bound)


def paper_learning_rate(steps_per_epoch: int, base_lr: float = 1e-3) -> optax.Schedule:
    """:math:`10^{-i/7}` times ``base_lr`` after :math:`\\sum_{j<i} 3^j` passes."""
    passes = np.cumsum([3**i for i in range(8)])[:-1]
    boundaries = jnp.asarray(passes * steps_per_epoch, jnp.int32)
    rates = jnp.asarray([base_lr * 10.0 ** (-i / 7.0) for i in range(8)], jnp.float32)
    return lambda count: rates[jnp.sum(count >= boundaries)]


def make_epoch(num_samples: int, batch_size: int, steps_per_epoch: int):
    """``epoch(key, (params, opt_state, step), data[N, 784]) -> (carry, mean loss)``."""
    optimizer = optax.adam(paper_learning_rate(steps_per_epoch), b1=0.9, b2=0.999, eps=1e-4)
    grad_fn = jax.value_and_grad(iwae_loss)

    def epoch(key: jax.Array, carry: tuple, data: jax.Array) -> tuple[tuple, jax.Array]:
        steps = data.shape[0] // batch_size
        perm_key = jax.random.fold_in(key, -1 - carry[2] // steps)
        perm = jax.random.permutation(perm_key, data.shape[0])
        order = perm[: steps * batch_size].reshape(steps, batch_size)

        def body(c: tuple, idx: jax.Array) -> tuple[tuple, jax.Array]:
            params, opt_state, step = c
            k_bin, k_eps = jax.random.split(jax.random.fold_in(key, step))
            x = jax.random.bernoulli(k_bin, data[idx]).astype(jnp.float32)
            eps = jax.random.normal(k_eps, (num_samples, batch_size, 50))
            loss, grads = grad_fn(params, eps, x)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, step + 1), loss

        carry, losses = jax.lax.scan(body, carry, order)
        return carry, jnp.mean(losses)

    return epoch, optimizer


def init_carry(params: Params, optimizer: optax.GradientTransformation) -> tuple:
    return params, optimizer.init(params), jnp.zeros((), jnp.int32)


if __name__ == "__main__":
    import time

    from jvae.models import iwae_mlp

    params = from_jvae(iwae_mlp(1).init(jax.random.key(0)))
    epoch, opt = make_epoch(1, 100, 600)
    data = jnp.floor(jax.random.uniform(jax.random.key(1), (60_000, 784)) * 256) / 256
    fn = jax.jit(epoch)
    carry, loss = fn(jax.random.key(2), init_carry(params, opt), data)
    t = time.perf_counter()
    carry, loss = jax.block_until_ready(fn(jax.random.key(3), carry, data))
    print(f"loss {float(loss):.2f}, {600 / (time.perf_counter() - t):.1f} steps/s")
