r"""Sweeps in one program: S models that differ only in scalars, trained side by side.

A sweep over a scalar hyperparameter (the KL weight :math:`\beta`, :math:`C_{\max}`,
:math:`\lambda`, :math:`\gamma`) or the seed trains S models whose programs are the same up to
those values. Instead of S runs, one ``jax.vmap`` of the epoch over

- the swept values, ``{name: [S]}``, passed as traced scalars to the function that builds the
  train step (so the objective closes over them),
- the members' keys ``[S]`` (one seed each: initialisation, data order, draws), and
- their train states (every leaf gains a leading axis ``[S, ...]``),

with the data shared, is jitted once: matrix products become batched products and the
per-step overhead is paid once for S models. ``--sweep kl-weight=1,2,4,8`` gives four members;
several ``--sweep`` options give their Cartesian product (e.g. betas x seeds).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jvae.objectives.spec import TRACEABLE
from jvae.training.train import TrainState

# Fields a sweep may vary: they enter a run only as scalars of the objective, or as the seed of
# its keys, so every member compiles to the same program.
SWEEPABLE = (*TRACEABLE, "seed")
Epoch = Callable[[jax.Array, TrainState, jax.Array], tuple[TrainState, dict]]


def parse_sweep(specs: Sequence[str]) -> list[dict[str, float | int]]:
    """The members of ``['kl-weight=1,2,4', 'seed=0,1']``: one dict of field values each, the
    Cartesian product of the options in the order given (the last varies fastest).

    >>> parse_sweep(["kl-weight=1,4", "seed=0,1"])
    [{'kl_weight': 1.0, 'seed': 0}, {'kl_weight': 1.0, 'seed': 1}, {'kl_weight': 4.0, 'seed': 0}, {'kl_weight': 4.0, 'seed': 1}]
    """  # noqa: E501
    axes: dict[str, list[float | int]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        field = name.strip().replace("-", "_")
        if not sep or field not in SWEEPABLE:
            raise ValueError(
                f"--sweep {spec!r}: expected NAME=V1,V2,... with NAME one of "
                f"{[s.replace('_', '-') for s in SWEEPABLE]}."
            )
        if field in axes:
            raise ValueError(f"--sweep names {name} twice; give all its values in one option.")
        cast = int if field == "seed" else float
        try:
            axes[field] = [cast(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"--sweep {spec!r}: values must be numbers.") from None
        if len(set(axes[field])) != len(axes[field]) or not axes[field]:
            raise ValueError(f"--sweep {spec!r}: give distinct values.")
    if not axes:
        raise ValueError("a sweep needs at least one --sweep NAME=V1,V2,...")
    return grid(axes)


def grid(axes: dict[str, Sequence[float | int]]) -> list[dict[str, float | int]]:
    """The Cartesian product of ``{field: values}`` as member dicts (the last field varies
    fastest).

    >>> grid({"kl_weight": [1.0, 4.0], "seed": [0]})
    [{'kl_weight': 1.0, 'seed': 0}, {'kl_weight': 4.0, 'seed': 0}]
    """
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def member_name(values: dict[str, float | int]) -> str:
    """A folder name for a member, ``'kl_weight=4,seed=1'``.

    >>> member_name({"kl_weight": 4.0, "seed": 1})
    'kl_weight=4,seed=1'
    """
    return ",".join(f"{k}={v:g}" for k, v in values.items())


def stack(trees: Sequence[Any]) -> Any:
    """Pytrees of the same structure stacked along a new leading axis."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def unstack(tree: Any, size: int) -> list[Any]:
    """The ``size`` members of a stacked pytree, as host (numpy) pytrees."""
    host = jax.device_get(tree)
    return [jax.tree.map(lambda leaf, i=i: np.asarray(leaf[i]), host) for i in range(size)]


def make_swept_epoch(
    epoch_for: Callable[[dict[str, jax.Array]], Epoch],
) -> Callable[[dict[str, jax.Array], jax.Array, TrainState, jax.Array], tuple[TrainState, dict]]:
    """``swept(values, keys, states, data) -> (states, metrics)``: the epoch of every member.

    ``epoch_for(values)`` builds one member's epoch from its swept scalars (a dict of scalar
    arrays, traced inside the sweep); it is vmapped over ``values`` ``{name: [S]}``, ``keys``
    ``[S]``, and ``states`` (leading axis S), with ``data`` shared. The returned metrics have
    a leading axis S. Jit the result (the states can be donated).
    """

    def member(values: dict[str, jax.Array], key: jax.Array, state: TrainState, data: jax.Array):
        return epoch_for(values)(key, state, data)

    return jax.vmap(member, in_axes=(0, 0, 0, None))
