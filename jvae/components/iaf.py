r"""The inverse autoregressive flow posterior (Kingma et al. 2016, Algorithm 1).

.. math::
    (\mu, \log\sigma, h) = \mathrm{NN}(u), \qquad z_0 = \mu + \sigma \odot \epsilon, \qquad
    z_t = \sigma_t \odot z_{t-1} + (1 - \sigma_t) \odot m_t \quad (t = 1..T),

.. math::
    \log q(z_T \mid u) = \log \mathcal N(z_0; \mu, \mathrm{diag}\,\sigma^2)
    - \sum_{t=1}^T \sum_i \log \sigma_{t,i},

with :math:`(m_t, s_t)` from a MADE on :math:`(z_{t-1}, h)`
(:class:`jvae.components.flows.AutoregressiveFlow`). The encoder's extra output :math:`h` is
the context every step reads. Follows the paper's Algorithm 1; openai/iaf's
released code uses the affine form :math:`z \leftarrow (z - 0.1 m) / e^{0.1 s}` with one step
per layer instead, which this module does not copy.

With ``stop_q`` (STL, DReG) the log-density is that of the posterior with its params under
``stop_gradient``, evaluated at the reparameterised :math:`z_T`: the flow is pulled back
through its exact inverse (:meth:`~jvae.components.flows.AutoregressiveFlow.pull_back`), so
:math:`\nabla_\phi \log q_{\mathrm{sg}(\phi)}(z_T(\phi)) = \nabla_z \log q(z_T) \cdot \partial
z_T / \partial \phi` exactly; values are unchanged.

This posterior is not Gaussian, so it has no ``distribution`` method: a VampPrior cannot mix
it and ELBO surgery refuses it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jvae.components.flows import AutoregressiveFlow
from jvae.distributions import DiagGaussian
from jvae.nn.mlp import apply_parts, dummy_inputs

Params = Any


@dataclasses.dataclass(frozen=True)
class IAFPosterior:
    r"""A diagonal Gaussian followed by ``flow.num_steps`` IAF steps.

    Attributes:
      module: ``(*parents) -> (mean, log_scale, context)``, e.g.
        :class:`jvae.nn.mlp.GaussianContextMLP`; ``(mean, log_scale)`` for a flow without
        context.
      input_sizes: each parent's size, or its shape past the row axis (an image).
      flow: the IAF steps over the latent (``flow.context_size`` = the module's context width).
      mean_samples: draws behind the Monte Carlo :math:`E_q[z]` of :meth:`mean` (the flow has no
        closed form); with the default 1000 its variance :math:`\mathrm{Var}_q[z_d] / 1000` is
        ten times below the active-unit threshold 0.01 when :math:`\mathrm{Var}_q[z_d] \le 1`.
      mean_chunk: draws per chunk of that estimate (bounds memory).
    """

    module: nn.Module
    input_sizes: tuple[int | tuple[int, ...], ...]
    flow: AutoregressiveFlow
    mean_samples: int = 1000
    mean_chunk: int = 100

    def __post_init__(self) -> None:
        if min(self.mean_chunk, self.mean_samples) < 1 or self.mean_samples % self.mean_chunk:
            raise ValueError(
                f"mean_samples ({self.mean_samples}) must be a positive multiple of mean_chunk "
                f"({self.mean_chunk})."
            )

    @property
    def latent_size(self) -> int:
        return self.flow.latent_size

    def init(self, rng_key: jax.Array) -> Params:
        """``{'net': module params, 'flow': flow params}``."""
        k_net, k_flow = jax.random.split(rng_key)
        dummies = dummy_inputs(self.input_sizes)
        net = self.module.init(k_net, *dummies)["params"]
        base, context = self._base(net, tuple(dummies))
        if base.mean.shape[-1] != self.latent_size:
            raise ValueError(
                f"the encoder gives {base.mean.shape[-1]} latent dimensions; the flow is over "
                f"{self.latent_size}."
            )
        self.flow.check_context(context)
        return {"net": net, "flow": self.flow.init(k_flow)}

    def _base(
        self, net: Params, inputs: tuple[jax.Array, ...]
    ) -> tuple[DiagGaussian, jax.Array | None]:
        mean, log_scale, *context = apply_parts(self.module, net, self.input_sizes, inputs)
        return DiagGaussian(mean, log_scale), (context[0] if context else None)

    def sample(
        self,
        params: Params,
        rng_key: jax.Array,
        inputs: tuple[jax.Array, ...],
        num_samples: int | None = None,
        stop_q: bool = False,
    ) -> tuple[jax.Array, jax.Array]:
        """``(z [K, *lead, D], log q [K, *lead])``; with ``num_samples=None`` one draw per row
        of ``inputs`` (which then carry the sample axis)."""
        base, context = self._base(params["net"], inputs)
        z0 = base.draw(rng_key) if num_samples is None else base.sample(rng_key, num_samples)
        path, log_det = self.flow.trajectory(params["flow"], z0, context)
        z = path[-1]
        if stop_q:
            frozen = jax.lax.stop_gradient(params)
            base, context = self._base(frozen["net"], inputs)
            z0, log_det = self.flow.pull_back(frozen["flow"], z, path, context)
        return z, base.log_prob(z0) - log_det

    def mean(self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        """:math:`E_q[z]`, ``[..., D]``: exact without flow steps, else the average of
        ``mean_samples`` draws."""
        base_mean = self._base(params["net"], inputs)[0].mean
        if self.flow.num_steps == 0:
            return base_mean

        def add_chunk(total: jax.Array, key: jax.Array) -> tuple[jax.Array, None]:
            z, _ = self.sample(params, key, inputs, self.mean_chunk)
            return total + jnp.sum(z, axis=0), None

        keys = jax.random.split(rng_key, self.mean_samples // self.mean_chunk)
        total, _ = jax.lax.scan(add_chunk, jnp.zeros_like(base_mean), keys)
        return total / self.mean_samples
