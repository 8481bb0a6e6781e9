r"""q_EW (Cremer, Morris & Duvenaud 2017): the implicit posterior of importance resampling.

Draw :math:`z_1, \dots, z_K \sim q(z \mid x)` and keep :math:`z_k` with probability
:math:`w_k / \sum_j w_j`, :math:`w_k = p(x, z_k) / q(z_k \mid x)`. The kept draw has density

.. math::
    q_{EW}(z \mid x) = E_{z_2, \dots, z_K \sim q}\left[
        \frac{p(x, z)}{\frac1K \big(w(z) + \sum_{j=2}^K w_j\big)} \right],

which is q itself for K = 1 and tends to the true posterior :math:`p(z \mid x)` as K grows;
:math:`\mathcal L_K` is the ELBO of q_EW (the lecture's reading of the IWAE bound).

Here: :func:`importance_resample` (one draw by the weights), :func:`make_qew_sampler` (jitted,
batched draws of q_EW for any model), :func:`qew_log_density` (the density above on given points,
averaging over M sets of the other K - 1 draws) and, for 2-D latents, :func:`posterior_panels`:
density images of :math:`p(z \mid x)` (from :math:`p(x, z)` on a grid), q and q_EW for several
K, for a model (:func:`model_posterior_panels`) or a toy target with a known density
(:func:`toy_posterior`). The figure is :mod:`jvae.reports.posterior_figure`.

Reference: C. Cremer, Q. Morris and D. Duvenaud, "Reinterpreting importance-weighted
autoencoders", ICLR 2017 workshop track.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jvae import compiler
from jvae.distributions import DiagGaussian, diag_gaussian_mixture_log_prob
from jvae.models.model import Model

LogJoint = Callable[[jax.Array], jax.Array]


def importance_resample(rng_key: jax.Array, log_w: jax.Array, z: Any) -> Any:
    r"""One draw per column: index :math:`k` with probability :math:`w_k / \sum_j w_j`.

    Args:
      rng_key: key of the categorical draws.
      log_w: log-weights ``[K, ...]`` (a column of all ``-inf`` returns its first draw).
      z: the draws, a pytree of ``[K, ..., D]`` arrays (several latents are kept together).

    Returns:
      ``z`` without its sample axis, ``[..., D]`` per leaf.

    >>> import jax, jax.numpy as jnp
    >>> z = jnp.arange(3.0).reshape(3, 1, 1)
    >>> importance_resample(jax.random.PRNGKey(0), jnp.array([[-jnp.inf], [0.0], [-jnp.inf]]), z)
    Array([[1.]], dtype=float32)
    """
    index = jax.random.categorical(rng_key, log_w, axis=0)

    def pick(values: jax.Array) -> jax.Array:
        chex.assert_rank(values, log_w.ndim + 1)
        return jnp.take_along_axis(values, index[None, ..., None], axis=0)[0]

    return jax.tree.map(pick, z)


def _chunks(total: int, chunk: int) -> tuple[int, int]:
    chunk = max(1, min(chunk, total))
    return -(-total // chunk), chunk


def make_qew_sampler(
    model: Model, num_samples: int, num_draws: int, draws_per_chunk: int = 100
) -> Callable[[Any, jax.Array, jax.Array], dict[str, jax.Array]]:
    """Jitted ``(params, rng_key, x[B, D_x]) -> {name: [M, B, D_l]}``: ``num_draws`` (M)
    independent draws of q_EW per example, each from its own ``num_samples`` (K) draws of q.

    Draws are made ``draws_per_chunk`` at a time (``lax.map``), so memory is that many times
    K rows of the decoder whatever M. With K = 1 the draws are q's.
    """
    if num_samples < 1 or num_draws < 1:
        raise ValueError(f"need K >= 1 and M >= 1 draws; got K={num_samples}, M={num_draws}.")
    num_chunks, chunk = _chunks(num_draws, draws_per_chunk)

    def one_chunk(params: Any, key: jax.Array, x: jax.Array) -> dict[str, jax.Array]:
        k_q, k_pick = jax.random.split(key)
        terms, values = model.importance_samples(params, k_q, x, num_samples * chunk)
        log_w = terms.total.reshape(num_samples, chunk, -1)
        values = {n: v.reshape(num_samples, chunk, *v.shape[1:]) for n, v in values.items()}
        return importance_resample(k_pick, log_w, values)

    def sample(params: Any, rng_key: jax.Array, x: jax.Array) -> dict[str, jax.Array]:
        keys = jax.random.split(rng_key, num_chunks)
        draws = jax.lax.map(lambda k: one_chunk(params, k, x), keys)
        return {n: v.reshape(-1, *v.shape[2:])[:num_draws] for n, v in draws.items()}

    return compiler.jit(sample)


def qew_log_density(log_w: jax.Array, log_q: jax.Array, log_w_others: jax.Array) -> jax.Array:
    r""":math:`\log q_{EW}(z \mid x)` at points z from their log-weight and log q, with the
    expectation over the other K - 1 draws averaged over M sets of them:

    .. math:: \log q_{EW}(z) \approx \log w(z) + \log q(z) + \log K
              + \log \frac1M \sum_m \big(w(z) + S_m\big)^{-1},
              \quad S_m = \sum_{j=2}^K w_j^{(m)}.

    Args:
      log_w: :math:`\log w(z) = \log p(x, z) - \log q(z \mid x)`, ``[G]``.
      log_q: :math:`\log q(z \mid x)`, ``[G]``.
      log_w_others: log-weights of M sets of K - 1 draws of q, ``[M, K - 1]`` (``[M, 0]``
        for K = 1, where the result is ``log_q``).

    Returns:
      ``[G]``.

    >>> import jax.numpy as jnp
    >>> qew_log_density(jnp.array([0.3]), jnp.array([-1.0]), jnp.zeros((4, 0))).tolist()
    [-1.0]
    """
    chex.assert_rank([log_w, log_q, log_w_others], [1, 1, 2])
    k = log_w_others.shape[1] + 1
    if k == 1:
        log_s = jnp.full(log_w_others.shape[:1], -jnp.inf, log_w.dtype)
    else:
        log_s = jax.nn.logsumexp(log_w_others, axis=1)
    log_denominators = jnp.logaddexp(log_w[:, None], log_s[None, :])  # [G, M]
    log_mean_inverse = jax.nn.logsumexp(-log_denominators, axis=1) - math.log(log_s.shape[0])
    return log_w + log_q + math.log(k) + log_mean_inverse


def other_log_weights(
    rng_key: jax.Array,
    log_joint: LogJoint,
    q: DiagGaussian,
    num_samples: int,
    num_inner: int,
    inner_chunk: int = 100,
) -> jax.Array:
    """Log-weights of ``num_inner`` (M) sets of K - 1 fresh draws of ``q`` (a ``[D]``
    Gaussian), ``[M, K - 1]``, drawn ``inner_chunk`` sets at a time."""
    if num_samples == 1:
        return jnp.zeros((num_inner, 0), q.mean.dtype)
    num_chunks, chunk = _chunks(num_inner, inner_chunk)

    def one_chunk(key: jax.Array) -> jax.Array:
        z = q.sample(key, chunk * (num_samples - 1))
        return (log_joint(z) - q.log_prob(z)).reshape(chunk, num_samples - 1)

    sets = jax.lax.map(one_chunk, jax.random.split(rng_key, num_chunks))
    return sets.reshape(-1, num_samples - 1)[:num_inner]


class PosteriorPanels(NamedTuple):
    """Log-densities of one posterior on a ``[R, R]`` grid (rows: second coordinate).

    Attributes:
      extent: ``(z1_min, z1_max, z2_min, z2_max)`` of the grid (``imshow(origin='lower')``).
      log_true: :math:`\\log p(z \\mid x)`, :math:`p(x, z)` normalised on the grid.
      log_q: :math:`\\log q(z \\mid x)`.
      log_qew: :math:`\\log q_{EW}` per K, ``[len(ks), R, R]``.
      ks: the K of each ``log_qew`` image.
    """

    extent: tuple[float, float, float, float]
    log_true: np.ndarray
    log_q: np.ndarray
    log_qew: np.ndarray
    ks: tuple[int, ...]


def grid_points(extent: Sequence[float], resolution: int) -> jax.Array:
    """Cell centres of a ``resolution x resolution`` grid over ``extent``, ``[R*R, 2]`` (row
    major: the second coordinate is the row)."""
    x0, x1, y0, y1 = (float(e) for e in extent)
    u = x0 + (np.arange(resolution) + 0.5) * (x1 - x0) / resolution
    v = y0 + (np.arange(resolution) + 0.5) * (y1 - y0) / resolution
    zz1, zz2 = np.meshgrid(u, v)
    return jnp.asarray(np.stack([zz1.ravel(), zz2.ravel()], axis=-1), jnp.float32)


def panel_densities(
    rng_key: jax.Array,
    log_joint: LogJoint,
    q: DiagGaussian,
    points: jax.Array,
    ks: Sequence[int],
    num_inner: int,
    inner_chunk: int = 100,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(log p(x, z) [G], log q(z|x) [G], log q_EW [len(ks), G])`` at ``points[G, D]``; K
    uses the other draws of ``fold_in(rng_key, K)``."""
    log_p = log_joint(points)
    log_q = q.log_prob(points)
    qew = []
    for k in ks:
        others = other_log_weights(
            jax.random.fold_in(rng_key, k), log_joint, q, k, num_inner, inner_chunk
        )
        qew.append(qew_log_density(log_p - log_q, log_q, others))
    return log_p, log_q, jnp.stack(qew)


def _panels(
    densities: tuple[jax.Array, jax.Array, jax.Array],
    extent: Sequence[float],
    resolution: int,
    ks: Sequence[int],
) -> PosteriorPanels:
    log_p, log_q, log_qew = (np.asarray(a, np.float64) for a in densities)
    x0, x1, y0, y1 = (float(e) for e in extent)
    log_cell = math.log((x1 - x0) * (y1 - y0) / resolution**2)
    m = np.max(log_p)
    log_true = log_p - (m + np.log(np.sum(np.exp(log_p - m)))) - log_cell
    shape = (resolution, resolution)
    return PosteriorPanels(
        (x0, x1, y0, y1),
        log_true.reshape(shape),
        log_q.reshape(shape),
        log_qew.reshape(len(ks), *shape),
        tuple(int(k) for k in ks),
    )


def model_log_joint(model: Model, params: Any, x: jax.Array) -> LogJoint:
    """``z[..., D] -> log p(x, z) [...]`` for one example ``x[*event_shape]`` of a model with one
    stochastic layer (its likelihood and prior)."""
    parts = model.parts
    if parts is None or len(parts.latents) != 1:
        raise ValueError(
            "log p(x, z) on a grid needs a model assembled from parts with one stochastic layer."
        )

    def log_joint(z: jax.Array) -> jax.Array:
        rows = z.reshape(-1, 1, z.shape[-1])
        dec = params["decoder"][parts.likelihood_key]
        log_lik = parts.likelihood.log_prob(dec, x[None], (rows,))[:, 0]
        return (log_lik + model.log_prior(params, rows[:, 0])).reshape(z.shape[:-1])

    return log_joint


def check_2d_latent(model: Model) -> None:
    """One-line ``ValueError`` unless the model has one 2-D latent."""
    if model.latent_sizes != (2,):
        raise ValueError(
            f"the q_EW density images need one 2-D latent (train with --latent-size 2); this "
            f"model's latents are {'+'.join(map(str, model.latent_sizes))}-dimensional."
        )


def model_posterior_panels(
    model: Model,
    params: Any,
    rng_key: jax.Array,
    images: np.ndarray,
    ks: Sequence[int] = (1, 5, 50),
    resolution: int = 80,
    num_inner: int = 1000,
) -> list[PosteriorPanels]:
    r"""True posterior, q and q_EW images for each row of ``images[B, D_x]`` (2-D latent).

    The grid is chosen per image in two passes: :math:`p(x, z)` on q's mean
    :math:`\pm \max(8\sigma, 0.5)`, then the union of q's mean :math:`\pm 4\sigma` and the
    grid posterior's mean :math:`\pm 4` standard deviations.
    """
    check_2d_latent(model)
    ks = tuple(int(k) for k in ks)

    def q_of(p: Any, x: jax.Array) -> DiagGaussian:
        q = model.posterior_distribution(p, x[None])
        return DiagGaussian(q.mean[0], q.log_scale[0])

    log_joint_at = compiler.jit(lambda p, x, z: model_log_joint(model, p, x)(z))
    densities = compiler.jit(
        lambda p, key, x, z: panel_densities(
            key, model_log_joint(model, p, x), q_of(p, x), z, ks, num_inner
        )
    )
    out = []
    for i, image in enumerate(np.asarray(images, np.float32)):
        x = jnp.asarray(image)
        q = q_of(params, x)
        mean, scale = np.asarray(q.mean, np.float64), np.exp(np.asarray(q.log_scale, np.float64))
        half = max(8.0 * float(np.max(scale)), 0.5)
        coarse = (mean[0] - half, mean[0] + half, mean[1] - half, mean[1] + half)
        points = grid_points(coarse, resolution)
        log_p = np.asarray(log_joint_at(params, x, points), np.float64)
        w = np.exp(log_p - np.max(log_p))
        w /= np.sum(w)
        pts = np.asarray(points, np.float64)
        p_mean = w @ pts
        p_sd = np.sqrt(w @ np.square(pts - p_mean))
        low = np.minimum(mean - 4.0 * scale, p_mean - 4.0 * p_sd)
        high = np.maximum(mean + 4.0 * scale, p_mean + 4.0 * p_sd)
        extent = (low[0], high[0], low[1], high[1])
        dens = densities(params, jax.random.fold_in(rng_key, i), x, grid_points(extent, resolution))
        out.append(_panels(dens, extent, resolution, ks))
    return out


def toy_posterior() -> tuple[LogJoint, DiagGaussian, tuple[float, float, float, float]]:
    r"""A 2-D posterior with a known density and a Gaussian q that misses half of it:
    :math:`p(z \mid x) = 0.45\,\mathcal N((-1, -0.5), \mathrm{diag}(0.5^2, 0.9^2)) +
    0.55\,\mathcal N((1.2, 0.8), \mathrm{diag}(0.7^2, 0.4^2))` (normalised, so
    :math:`p(x) = 1`), :math:`q = \mathcal N((0.8, 0.5), \mathrm{diag}(0.8^2, 0.7^2))`.

    Returns:
      ``(log_density, q, extent)``: ``z[..., 2] -> [...]``, q, and a plotting box.
    """
    means = jnp.array([[-1.0, -0.5], [1.2, 0.8]])
    log_scales = jnp.log(jnp.array([[0.5, 0.9], [0.7, 0.4]]))
    log_mix = jnp.log(jnp.array([0.45, 0.55]))

    def log_density(z: jax.Array) -> jax.Array:
        return diag_gaussian_mixture_log_prob(z, means, log_scales, log_mix)

    q = DiagGaussian(jnp.array([0.8, 0.5]), jnp.log(jnp.array([0.8, 0.7])))
    return log_density, q, (-3.5, 3.5, -3.5, 3.5)


def toy_posterior_panels(
    rng_key: jax.Array,
    ks: Sequence[int] = (1, 5, 50),
    resolution: int = 80,
    num_inner: int = 1000,
) -> PosteriorPanels:
    """The panels of :func:`toy_posterior` (whose ``log_true`` is also normalised on the
    grid, like a model's)."""
    log_density, q, extent = toy_posterior()
    ks = tuple(int(k) for k in ks)
    densities = compiler.jit(lambda key, z: panel_densities(key, log_density, q, z, ks, num_inner))(
        rng_key, grid_points(extent, resolution)
    )
    return _panels(densities, extent, resolution, ks)
