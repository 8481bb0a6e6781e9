"""Checks of a model's parts when it is built: the graph, and the shapes against the data.

:func:`check_graph` checks the graph (unique names, every latent's parents drawn before it, a
conditional for every latent but the top one); :func:`data_shapes` reads the shape each
posterior reads x in (the event shape, or its flattening for an MLP); :func:`check_part_shapes`
initialises and applies every part to one abstract example (``jax.eval_shape``: nothing runs or
compiles) and names the part that does not fit, in one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from jvae.nn.mlp import as_shape

if TYPE_CHECKING:
    from jvae.models.model import Latent, ModelParts

DATA = "x"  # the data's name in a model's graph


def data_shapes(parts: ModelParts, event_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """The shape in which each posterior reading x declares it (its ``input_sizes`` entry for
    x): the event shape itself, or its flattening ``(D,)`` for a network of vectors (an MLP).
    One-line ``ValueError`` for any other shape."""
    size, shapes = math.prod(event_shape), {}
    for lat in parts.latents:
        if DATA not in lat.posterior_parents:
            continue
        declared = getattr(lat.posterior, "input_sizes", None)
        shape = tuple(event_shape)
        if declared is not None:
            shape = as_shape(declared[lat.posterior_parents.index(DATA)])
        if shape not in (tuple(event_shape), (size,)):
            raise ValueError(
                f"q({lat.name} | {', '.join(lat.posterior_parents)}) reads x of shape {shape}, "
                f"but the data have event shape {tuple(event_shape)} ({size} values): size its "
                f"network's input as {tuple(event_shape)} or ({size},)."
            )
        shapes[lat.name] = shape
    likelihood_shape = getattr(parts.likelihood, "event_shape", None)
    if likelihood_shape is not None and as_shape(likelihood_shape) != tuple(event_shape):
        raise ValueError(
            f"the likelihood {type(parts.likelihood).__name__} models x of shape "
            f"{as_shape(likelihood_shape)}, but the data have event shape {tuple(event_shape)}: "
            "build it with event_shape equal to the data's."
        )
    return shapes


def check_part_shapes(
    parts: ModelParts, event_shape: tuple[int, ...], x_shapes: dict[str, tuple[int, ...]]
) -> None:
    """Initialises and applies every part to one abstract example (``jax.eval_shape``: nothing
    runs or compiles) and raises a one-line ``ValueError`` naming the part whose inputs or
    outputs do not fit the data's event shape or the latents' sizes."""
    sizes = {lat.name: lat.posterior.latent_size for lat in parts.latents}

    def value(name: str, lat_name: str = "") -> jax.Array:
        if name == DATA:
            return jnp.zeros((1, *(x_shapes.get(lat_name) or event_shape)), jnp.float32)
        return jnp.zeros((1, 1, sizes[name]), jnp.float32)

    def check(
        label: str, reads: Sequence[str], fn: Callable[[jax.Array], Any], expect: Any
    ) -> None:
        shapes = {n: (1, *event_shape) if n == DATA else (1, 1, sizes[n]) for n in reads}
        try:  # the key is made inside the trace: a concrete key would compile a program
            out = jax.eval_shape(lambda: fn(jax.random.PRNGKey(0)))
        except Exception as error:  # re-raised in one line naming the part
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ValueError(f"{label} fails on inputs {shapes}: {first}") from error
        got = jax.tree.map(lambda a: tuple(a.shape), out)
        if got != expect:
            raise ValueError(f"{label} gives shapes {got} on inputs {shapes}; expected {expect}.")

    for lat in parts.latents:
        post, reads = lat.posterior, lat.posterior_parents
        data_only = set(reads) == {DATA}

        def draw(
            key: jax.Array, post: Any = post, lat: Latent = lat, data_only: bool = data_only
        ) -> Any:
            inputs = tuple(value(n, lat.name) for n in lat.posterior_parents)
            return post.sample(post.init(key), key, inputs, 1 if data_only else None)

        label = f"the posterior q({lat.name} | {', '.join(reads)})"
        check(label, reads, draw, ((1, 1, sizes[lat.name]), (1, 1)))
        if lat.conditional is not None:
            cond = lat.conditional

            def mean(key: jax.Array, cond: Any = cond, lat: Latent = lat) -> Any:
                inputs = tuple(value(n) for n in lat.conditional_parents)
                return cond.distribution(cond.init(key), inputs).mean

            label = f"the conditional p({lat.name} | {', '.join(lat.conditional_parents)})"
            check(label, lat.conditional_parents, mean, (1, 1, sizes[lat.name]))
    lik = parts.likelihood

    def log_prob_and_mean(key: jax.Array) -> Any:
        inputs = tuple(value(n) for n in parts.likelihood_parents)
        params = lik.init(key)
        x = jnp.zeros((1, *event_shape), jnp.float32)
        return lik.log_prob(params, x, inputs), lik.mean(params, key, inputs)

    label = f"the likelihood p(x | {', '.join(parts.likelihood_parents)})"
    check(label, parts.likelihood_parents, log_prob_and_mean, ((1, 1), (1, 1, *event_shape)))


def check_graph(parts: ModelParts) -> None:
    """One-line ``ValueError`` for an inconsistent graph of parts."""
    names = [lat.name for lat in parts.latents]
    if not names:
        raise ValueError("a model needs at least one latent.")
    if len(set(names)) != len(names) or DATA in names:
        raise ValueError(f"latent names must be unique and not {DATA!r}; got {names}.")
    if sorted(parts.inference_order) != sorted(names):
        raise ValueError(
            f"inference_order {parts.inference_order} must list every latent {names} once."
        )
    drawn = {DATA}
    for name in parts.inference_order:
        lat = parts.latents[names.index(name)]
        missing = [p for p in lat.posterior_parents if p not in drawn]
        if missing or not lat.posterior_parents:
            raise ValueError(
                f"q({name} | {', '.join(lat.posterior_parents)}) reads {missing or 'nothing'} "
                "before it is drawn: reorder inference_order."
            )
        drawn.add(name)
    for lat in parts.latents[:-1]:
        if lat.conditional is None or not set(lat.conditional_parents) <= set(names):
            raise ValueError(
                f"latent {lat.name} is not the top one: it needs a conditional p({lat.name} | "
                "latents)."
            )
    if parts.latents[-1].conditional is not None:
        raise ValueError(f"the top latent {names[-1]} has the prior, not a conditional.")
    if not set(parts.likelihood_parents) <= set(names):
        raise ValueError(f"the likelihood reads {parts.likelihood_parents}, not all latents.")
