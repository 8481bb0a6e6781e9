r"""Priors :math:`p(z)` over the top stochastic layer: standard normal, mixture of Gaussians,
VampPrior (Tomczak & Welling 2018) with learned or data pseudo-inputs.

A prior is any object with ``latent_size``, ``init(rng_key) -> params``,
``log_prob(params, z[..., D], encode=None) -> [...]`` and
``sample(params, rng_key, n, encode=None) -> [n, D]``. ``encode`` maps inputs ``u [C, D_x]``
to the posterior :math:`q(z \mid u)` computed with the model's encoder params: a VampPrior
reads it, other priors ignore it. The model decides which copy of the encoder params
``encode`` closes over, which is how the STL and DReG estimators give the prior's use of the
encoder the plain gradient (:mod:`jvae.estimators`).

Mixtures are evaluated by :func:`jvae.distributions.diag_gaussian_mixture_log_prob`: squared
distances as matrix products, never an ``[N, C, D]`` array.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from jvae.distributions import (
    DiagGaussian,
    diag_gaussian_mixture_log_prob,
    standard_normal_log_prob,
)

Params = Any
Encode = Callable[[jax.Array], DiagGaussian]


class Prior(Protocol):
    latent_size: int

    def init(self, rng_key: jax.Array) -> Params: ...

    def log_prob(self, params: Params, z: jax.Array, encode: Encode | None = None) -> jax.Array: ...

    def sample(
        self, params: Params, rng_key: jax.Array, n: int, encode: Encode | None = None
    ) -> jax.Array: ...


@dataclasses.dataclass(frozen=True)
class StandardNormal:
    r""":math:`p(z) = \mathcal N(0, I_D)`; no parameters."""

    latent_size: int

    def init(self, rng_key: jax.Array) -> Params:
        return {}

    def log_prob(self, params: Params, z: jax.Array, encode: Encode | None = None) -> jax.Array:
        return standard_normal_log_prob(z)

    def sample(
        self, params: Params, rng_key: jax.Array, n: int, encode: Encode | None = None
    ) -> jax.Array:
        return jax.random.normal(rng_key, (n, self.latent_size))


@dataclasses.dataclass(frozen=True)
class GaussianMixture:
    r""":math:`p(z) = \sum_c \pi_c \mathcal N(z; \mu_c, \mathrm{diag}\,\sigma_c^2)` with ``C``
    learnable components: means (initialised :math:`\mathcal N(0, I)`), log-scales (0) and
    mixture logits (0, i.e. uniform weights)."""

    latent_size: int
    num_components: int

    def __post_init__(self) -> None:
        _check_components(self.num_components)

    def init(self, rng_key: jax.Array) -> Params:
        c, d = self.num_components, self.latent_size
        return {
            "means": jax.random.normal(rng_key, (c, d)),
            "log_scales": jnp.zeros((c, d)),
            "logits": jnp.zeros((c,)),
        }

    def log_prob(self, params: Params, z: jax.Array, encode: Encode | None = None) -> jax.Array:
        log_mix = jax.nn.log_softmax(params["logits"])
        return diag_gaussian_mixture_log_prob(z, params["means"], params["log_scales"], log_mix)

    def sample(
        self, params: Params, rng_key: jax.Array, n: int, encode: Encode | None = None
    ) -> jax.Array:
        k_c, k_z = jax.random.split(rng_key)
        c = jax.random.categorical(k_c, params["logits"], shape=(n,))
        return DiagGaussian(params["means"][c], params["log_scales"][c]).draw(k_z)


@dataclasses.dataclass(frozen=True, eq=False)
class VampPrior:
    r"""The variational mixture of posteriors :math:`p(z) = \frac1C \sum_c q(z \mid u_c)`.

    Learned pseudo-inputs follow the authors' code: :math:`u_c = \mathrm{hardtanh}_{[0,1]}(W
    e_c)` (one-hot :math:`e_c`), so ``params['pseudo_inputs']`` holds :math:`W^\top` ``[C, D_x]``
    initialised :math:`\mathcal N(0.05, 0.01^2)` (their MNIST setting; the command-line default
    of -0.05 is overridden by their data loader) and clipped to [0, 1] when used. The "data"
    variant (``fixed_inputs``) uses given training images as :math:`u_c`, never updated: they
    are kept in the params (so a checkpoint is self-contained) under ``stop_gradient``.

    Attributes:
      latent_size: dimension of z.
      num_components: C.
      data_dim: the number of values in a pseudo-input (stored flattened, ``[C, D_x]``; the
        model reshapes them to the shape its encoder reads x in).
      fixed_inputs: ``[C, D_x]`` images for the "data" variant, else ``None``.
    """

    latent_size: int
    num_components: int
    data_dim: int
    fixed_inputs: np.ndarray | None = None
    init_mean: float = 0.05
    init_std: float = 0.01
    reads_encoder: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_components(self.num_components)
        if self.fixed_inputs is not None:
            shape = (self.num_components, self.data_dim)
            if np.shape(self.fixed_inputs) != shape:
                raise ValueError(
                    f"VampPrior data pseudo-inputs must have shape {list(shape)}; got "
                    f"{list(np.shape(self.fixed_inputs))}."
                )

    def init(self, rng_key: jax.Array) -> Params:
        if self.fixed_inputs is not None:
            return {"pseudo_inputs": jnp.asarray(self.fixed_inputs, jnp.float32)}
        shape = (self.num_components, self.data_dim)
        return {"pseudo_inputs": self.init_mean + self.init_std * jax.random.normal(rng_key, shape)}

    def pseudo_inputs(self, params: Params) -> jax.Array:
        """:math:`u_c`, ``[C, D_x]``."""
        u = params["pseudo_inputs"]
        if self.fixed_inputs is not None:
            return jax.lax.stop_gradient(u)
        return jnp.clip(u, 0.0, 1.0)

    def components(self, params: Params, encode: Encode | None) -> DiagGaussian:
        r""":math:`q(z \mid u_c)` for every c, ``[C, D]``."""
        if encode is None:
            raise ValueError("the VampPrior needs the model's encoder (encode=...).")
        return encode(self.pseudo_inputs(params))

    def log_prob(self, params: Params, z: jax.Array, encode: Encode | None = None) -> jax.Array:
        q = self.components(params, encode)
        log_mix = jnp.full((self.num_components,), -math.log(self.num_components))
        return diag_gaussian_mixture_log_prob(z, q.mean, q.log_scale, log_mix)

    def sample(
        self, params: Params, rng_key: jax.Array, n: int, encode: Encode | None = None
    ) -> jax.Array:
        k_c, k_z = jax.random.split(rng_key)
        q = self.components(params, encode)
        c = jax.random.randint(k_c, (n,), 0, self.num_components)
        return DiagGaussian(q.mean[c], q.log_scale[c]).draw(k_z)


def _check_components(c: int) -> None:
    if int(c) < 1:
        raise ValueError(f"a mixture prior needs num_components >= 1; got {c}.")
