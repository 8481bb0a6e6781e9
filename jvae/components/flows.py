r"""Gated autoregressive flows: the map that the IAF posterior and the AF prior share.

One step (Kingma et al. 2016, the numerically stable update of their Algorithm 1):

.. math::
    (m_t, s_t) = \mathrm{MADE}_t(x_{t-1}, h), \qquad \sigma_t = \mathrm{sigmoid}(s_t), \qquad
    x_t = \sigma_t \odot x_{t-1} + (1 - \sigma_t) \odot m_t,

.. math:: \log\left|\det \frac{\partial x_t}{\partial x_{t-1}}\right| = \sum_i \log\sigma_{t,i}.

:math:`m_{t,i}` and :math:`s_{t,i}` depend only on the variables before :math:`i` in step
:math:`t`'s ordering, so the Jacobian is triangular in that ordering with diagonal
:math:`\sigma_t`. Orderings alternate between natural and reversed from step to step. The gate's
bias starts at ``forget_bias`` (the paper advises starting :math:`s` clearly positive, about +1
or +2) and the MADE's output weights at a tenth of their usual scale (openai/iaf scales its
autoregressive outputs by 0.1), so every gate starts near :math:`\mathrm{sigmoid}(2) = 0.88`
and each step only slightly updates :math:`x`.

- :meth:`AutoregressiveFlow.forward` runs all variables at once: one MADE pass per step.
- :meth:`AutoregressiveFlow.inverse` is sequential over variables: pass :math:`i` solves
  position :math:`o_i` of the ordering, :math:`x_{o_i} \leftarrow (y_{o_i} - (1 - \sigma_{o_i}(x))
  m_{o_i}(x)) / \sigma_{o_i}(x)`, whose right side reads only the positions already solved, so
  ``D`` passes per step (in one ``lax.fori_loop``) are exact. Positions not yet solved keep
  :math:`y`'s finite values, so a gate near 0 cannot overflow them into NaN.
- :meth:`AutoregressiveFlow.pull_back` is the inverse at points the forward pass produced,
  whose pre-images are already known: it returns them, with the exact derivatives of the
  inverse (implicit function theorem). Its VJP solves :math:`J_t^\top u = v` with
  :math:`J_t` materialised by ``D`` JVPs and a triangular solve, i.e. ``O(D)`` MADE passes per
  step; the STL and DReG estimators need it for :math:`\nabla_z \log q(z)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.lax.linalg import triangular_solve

from jvae.nn.made import MADE

Params = Any


@dataclasses.dataclass(frozen=True)
class AutoregressiveFlow:
    """``num_steps`` gated autoregressive steps over ``latent_size`` variables.

    Attributes:
      latent_size: D.
      num_steps: T (0 is the identity).
      hidden: the hidden widths of each step's MADE.
      context_size: width of the context ``h`` every MADE reads (0: none).
      forget_bias: initial bias of the gate :math:`s`.
    """

    latent_size: int
    num_steps: int
    hidden: tuple[int, ...]
    context_size: int = 0
    forget_bias: float = 2.0

    def __post_init__(self) -> None:
        if self.latent_size < 1 or self.num_steps < 0 or self.context_size < 0:
            raise ValueError(
                "a flow needs latent_size >= 1, num_steps >= 0 and context_size >= 0; got "
                f"{self.latent_size}, {self.num_steps}, {self.context_size}."
            )
        if any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"MADE hidden widths must be positive; got {tuple(self.hidden)}.")

    def order(self, t: int) -> tuple[int, ...]:
        """Step ``t``'s ordering: natural for even ``t``, reversed for odd ``t``."""
        natural = tuple(range(self.latent_size))
        return natural if t % 2 == 0 else natural[::-1]

    def made(self, t: int) -> MADE:
        return MADE(self.order(t), tuple(self.hidden), 2, (0.0, self.forget_bias), 0.1)

    def init(self, rng_key: jax.Array) -> Params:
        """``{'step_t': MADE params}`` for each step."""
        x = jnp.zeros((1, self.latent_size), jnp.float32)
        h = jnp.zeros((1, self.context_size), jnp.float32) if self.context_size else None
        keys = jax.random.split(rng_key, max(self.num_steps, 1))
        return {
            f"step_{t}": self.made(t).init(keys[t], x, h)["params"] for t in range(self.num_steps)
        }

    def check_context(self, context: jax.Array | None) -> jax.Array | None:
        """``context``, after a one-line ``ValueError`` unless its width is ``context_size``."""
        if (context is None) != (self.context_size == 0) or (
            context is not None and context.shape[-1] != self.context_size
        ):
            got = None if context is None else context.shape[-1]
            raise ValueError(f"this flow reads a context of size {self.context_size}; got {got}.")
        return context

    def step(
        self, params: Params, t: int, x: jax.Array, context: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """Step ``t``: ``x [..., D] -> (y [..., D], log|det dy/dx| [...])``."""
        m, s = self.made(t).apply({"params": params[f"step_{t}"]}, x, self.check_context(context))
        gate = jax.nn.sigmoid(s)
        return gate * x + (1.0 - gate) * m, jnp.sum(jax.nn.log_sigmoid(s), axis=-1)

    def trajectory(
        self, params: Params, x: jax.Array, context: jax.Array | None = None
    ) -> tuple[list[jax.Array], jax.Array]:
        """``([x_0, ..., x_T], sum_t log|det dx_t/dx_{t-1}|)``."""
        self._check(x)
        path, log_det = [x], jnp.zeros(x.shape[:-1], x.dtype)
        for t in range(self.num_steps):
            y, ld = self.step(params, t, path[-1], context)
            path.append(y)
            log_det = log_det + ld
        return path, log_det

    def forward(
        self, params: Params, x: jax.Array, context: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """``x [..., D] -> (f(x), log|det df/dx| [...])``, one MADE pass per step."""
        path, log_det = self.trajectory(params, x, context)
        return path[-1], log_det

    def inverse(self, params: Params, y: jax.Array, context: jax.Array | None = None) -> jax.Array:
        """:math:`f^{-1}(y)`, ``[..., D]``: ``D`` sequential MADE passes per step."""
        self._check(y)
        x = y
        for t in reversed(range(self.num_steps)):
            x = self._step_inverse(params, t, x, context)
        return x

    def _step_inverse(
        self, params: Params, t: int, y: jax.Array, context: jax.Array | None
    ) -> jax.Array:
        made = self.made(t)
        context = self.check_context(context)
        order = jnp.asarray(self.order(t))
        positions = jnp.arange(self.latent_size)

        def fix_one_more_position(i: jax.Array, x: jax.Array) -> jax.Array:
            # Only position order[i] is updated: its (m, s) read the positions already solved.
            # The others keep y's finite values; a gate near 0 would send them to inf, and the
            # next pass's masked matmul (0 * inf) would turn every output into NaN.
            solving = positions == order[i]
            m, s = made.apply({"params": params[f"step_{t}"]}, x, context)
            gate = jnp.where(solving, jax.nn.sigmoid(s), 1.0)  # double where: finite gradients
            return jnp.where(solving, (y - (1.0 - gate) * m) / gate, x)

        return jax.lax.fori_loop(0, self.latent_size, fix_one_more_position, y)

    def pull_back(
        self,
        params: Params,
        y: jax.Array,
        path: Sequence[jax.Array],
        context: jax.Array | None = None,
    ) -> tuple[jax.Array, jax.Array]:
        r""":math:`(x_0, \log|\det \partial f / \partial x|(x_0))` for :math:`x_0 =
        f^{-1}(y)`, where ``path`` is the :meth:`trajectory` that produced ``y``.

        The values are the trajectory's (no sequential inverse is run); the derivatives with
        respect to ``y``, ``params`` and ``context`` are those of the exact inverse, so a
        density evaluated at :math:`x_0` has its exact gradient with respect to the point ``y``.
        """
        if len(path) != self.num_steps + 1:
            raise ValueError(f"pull_back needs the {self.num_steps + 1} points of a trajectory.")
        x, log_det = y, jnp.zeros(y.shape[:-1], y.dtype)
        for t in reversed(range(self.num_steps)):
            x = self._step_pull_back(params, t, x, path[t], context)
            log_det = log_det + self.step(params, t, x, context)[1]
        return x, log_det

    def _step_pull_back(
        self, params: Params, t: int, y: jax.Array, known: jax.Array, context: jax.Array | None
    ) -> jax.Array:
        def image(p: Params, x: jax.Array, c: jax.Array | None) -> jax.Array:
            return self.step(p, t, x, c)[0]

        @jax.custom_vjp
        def inverse(p: Params, y_: jax.Array, c: jax.Array | None, x: jax.Array) -> jax.Array:
            return x

        def inverse_fwd(p, y_, c, x):
            return x, (p, c, x)

        def inverse_bwd(residuals, v):
            # x = f^{-1}(y; p, c): dx/dy = J^{-1}, dx/d(p, c) = -J^{-1} df/d(p, c).
            p, c, x = residuals
            u = self._solve_transposed(p, t, x, c, v)
            _, vjp = jax.vjp(lambda p_, c_: image(p_, x, c_), p, c)
            dp, dc = vjp(-u)
            return dp, u, dc, jnp.zeros_like(x)

        inverse.defvjp(inverse_fwd, inverse_bwd)
        return inverse(params, y, context, known)

    def _solve_transposed(
        self, params: Params, t: int, x: jax.Array, context: jax.Array | None, v: jax.Array
    ) -> jax.Array:
        """:math:`u = J^{-\\top} v` with :math:`J = \\partial f_t / \\partial x` at ``x``."""
        d = self.latent_size
        _, jvp = jax.linearize(lambda x_: self.step(params, t, x_, context)[0], x)
        basis = jnp.broadcast_to(
            jnp.eye(d, dtype=x.dtype).reshape(d, *([1] * (x.ndim - 1)), d), (d, *x.shape)
        )
        jac = jnp.moveaxis(jax.vmap(jvp)(basis), 0, -1)  # [..., output, input]
        # Lower triangular in the natural ordering (even t), upper in the reversed one.
        u = triangular_solve(jac, v[..., None], left_side=True, lower=t % 2 == 0, transpose_a=True)
        return u[..., 0]

    def _check(self, x: jax.Array) -> None:
        if x.ndim < 1 or x.shape[-1] != self.latent_size:
            raise ValueError(
                f"the flow is over {self.latent_size} variables; got an array of shape "
                f"{tuple(x.shape)} (the last axis must be {self.latent_size})."
            )
