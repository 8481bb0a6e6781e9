r"""Gated dense networks of Tomczak & Welling (2018), the VampPrior paper's HVAE.

A gated layer is :math:`h = (W_1 x + b_1) \odot \sigma(W_2 x + b_2)` (Dauphin et al. 2017);
weights are He-initialised, :math:`\mathcal N(0, 2/\text{fan-in})`, as the authors' ``he_init``
(biases start at zero). A network of several inputs runs each input through its own branch of
gated layers, concatenates the branches and applies joint gated layers: the authors'
:math:`q(z_1 \mid x, z_2)` and :math:`p(x \mid z_1, z_2)`. Inputs may have different leading
shapes (``x [B, D]`` beside ``z [K, B, d]``): each branch runs on its own rows, so the data
branch is computed once per example rather than once per sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jvae.nn.mlp import flatten_rows

he_normal = nn.initializers.variance_scaling(2.0, "fan_in", "normal")


class GatedDense(nn.Module):
    r""":math:`(W_1 x + b_1) \odot \mathrm{sigmoid}(W_2 x + b_2)`."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.Dense(self.features, kernel_init=he_normal, name="h")(x)
        g = nn.Dense(self.features, kernel_init=he_normal, name="g")(x)
        return h * jax.nn.sigmoid(g)


class GatedNet(nn.Module):
    """Per-input branches of gated layers, concatenated, then joint gated layers.

    Attributes:
      branches: widths of each input's gated layers (one tuple per input).
      joint: widths of the gated layers after the concatenation.
    """

    branches: Sequence[Sequence[int]]
    joint: Sequence[int] = ()

    @nn.compact
    def __call__(self, *inputs: jax.Array) -> jax.Array:
        if len(inputs) != len(self.branches):
            raise ValueError(f"GatedNet has {len(self.branches)} branches; got {len(inputs)}.")
        hs = []
        for i, (x, widths) in enumerate(zip(inputs, self.branches, strict=True)):
            for j, f in enumerate(widths):
                x = flatten_rows(x, GatedDense(f, name=f"branch{i}_{j}"))
            hs.append(x)
        lead = jnp.broadcast_shapes(*(h.shape[:-1] for h in hs))
        h = jnp.concatenate([jnp.broadcast_to(h, (*lead, h.shape[-1])) for h in hs], axis=-1)
        for j, f in enumerate(self.joint):
            h = flatten_rows(h, GatedDense(f, name=f"joint_{j}"))
        return h


class GatedGaussian(nn.Module):
    r"""Inputs -> :math:`(\mu, \log\sigma)` through a :class:`GatedNet` and two linear heads.

    The log-variance head is clipped to ``log_var_range`` (the authors' ``Hardtanh(-6, 2)``),
    so :math:`\log\sigma = \tfrac12 \mathrm{clip}(\cdot)`.
    """

    branches: Sequence[Sequence[int]]
    joint: Sequence[int]
    latent: int
    log_var_range: tuple[float, float] = (-6.0, 2.0)

    @nn.compact
    def __call__(self, *inputs: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = GatedNet(self.branches, self.joint, name="net")(*inputs)
        mean = flatten_rows(h, nn.Dense(self.latent, kernel_init=he_normal, name="mean"))
        log_var = flatten_rows(h, nn.Dense(self.latent, kernel_init=he_normal, name="log_var"))
        return mean, 0.5 * jnp.clip(log_var, *self.log_var_range)


class GatedBernoulli(nn.Module):
    """Inputs -> Bernoulli logits over ``out`` pixels through a :class:`GatedNet` and a linear
    head (the authors' sigmoid output, kept as logits for a stable log-likelihood)."""

    branches: Sequence[Sequence[int]]
    joint: Sequence[int]
    out: int

    @nn.compact
    def __call__(self, *inputs: jax.Array) -> jax.Array:
        h = GatedNet(self.branches, self.joint, name="net")(*inputs)
        return flatten_rows(h, nn.Dense(self.out, kernel_init=he_normal, name="logits"))


class GatedGaussianContext(nn.Module):
    r"""Inputs -> :math:`(\mu, \log\sigma, h)`: :class:`GatedGaussian` with a third linear
    head, the IAF context (Kingma et al. 2016) that every IAF step's MADE reads."""

    branches: Sequence[Sequence[int]]
    joint: Sequence[int]
    latent: int
    context: int
    log_var_range: tuple[float, float] = (-6.0, 2.0)

    @nn.compact
    def __call__(self, *inputs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        h = GatedNet(self.branches, self.joint, name="net")(*inputs)
        mean = flatten_rows(h, nn.Dense(self.latent, kernel_init=he_normal, name="mean"))
        log_var = flatten_rows(h, nn.Dense(self.latent, kernel_init=he_normal, name="log_var"))
        context = flatten_rows(h, nn.Dense(self.context, kernel_init=he_normal, name="context"))
        return mean, 0.5 * jnp.clip(log_var, *self.log_var_range), context
