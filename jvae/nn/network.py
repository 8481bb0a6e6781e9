"""Any ``init``/``apply`` pair as a network jvae's parts can call.

jvae's parts call a network as a Flax linen module: ``module.init(rng_key, *inputs)['params']``
and ``module.apply({'params': params}, *inputs)``. :class:`Network` gives that face to a pair of
plain functions, so a network written with Flax NNX, Equinox, Haiku (transformed) or by hand
fits too:

>>> import jax, jax.numpy as jnp
>>> net = Network(lambda key, x: {"w": jnp.ones((x.shape[-1], 2))}, lambda p, x: x @ p["w"])
>>> params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))["params"]
>>> net.apply({"params": params}, jnp.ones((4, 3))).shape
(4, 2)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax


@dataclasses.dataclass(frozen=True)
class Network:
    """A network from ``init_fn(rng_key, *inputs) -> params`` and ``apply_fn(params, *inputs)
    -> outputs``; inputs arrive with a leading row axis, ``[N, *shape]``.

    Attributes:
      init_fn: makes the params (a pytree) for example inputs of one row.
      apply_fn: the forward pass.
    """

    init_fn: Callable[..., Any]
    apply_fn: Callable[..., Any]

    def init(self, rng_key: jax.Array, *inputs: jax.Array) -> dict[str, Any]:
        return {"params": self.init_fn(rng_key, *inputs)}

    def apply(self, variables: dict[str, Any], *inputs: jax.Array) -> Any:
        return self.apply_fn(variables["params"], *inputs)


def as_network(net: Any) -> Any:
    """A Flax linen module or anything with ``init``/``apply`` as it is; an ``(init_fn,
    apply_fn)`` pair as a :class:`Network`; one-line ``TypeError`` otherwise."""
    if hasattr(net, "init") and hasattr(net, "apply"):
        return net
    if isinstance(net, tuple) and len(net) == 2 and all(callable(f) for f in net):
        return Network(*net)
    raise TypeError(
        f"a network must be a Flax linen module or an (init_fn, apply_fn) pair; got "
        f"{type(net).__name__}."
    )
