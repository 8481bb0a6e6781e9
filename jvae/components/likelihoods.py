r"""Likelihoods :math:`p(x \mid \text{parents})` of the data given latent values.

A likelihood is any object with ``event_shape`` (the shape of one example: ``(H, W, C)`` or
``(D,)``), ``data_kind`` (what data it models: ``'binary'``, values in [0, 1] read as
probabilities of binary pixels and binarised while training; ``'8bit'``, values in [0, 1] on
256 levels; ``'real'``, any finite values), ``init(rng_key) -> params``,
``log_prob(params, x[B, *event_shape], inputs) -> [K, B]`` (``x`` broadcast against the inputs'
sample axis; an autoregressive likelihood also reads ``x`` itself, by teacher forcing),
``sample(params, rng_key, inputs) -> [..., *event_shape]`` and ``mean(params, rng_key, inputs)
-> [..., *event_shape]``: the example to show for given latents, the mean where it is cheap, a
sample where the mean is intractable (autoregressive decoders).

A network's raw output ``[..., prod(event_shape) * P]`` (an MLP) or ``[..., *event_shape, P]``
(a conv net) is read as ``[..., *event_shape, P]`` by
:func:`jvae.components.pixels.shaped_outputs`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Protocol

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jvae.components.pixels import LogisticPixels, leading_shape, raw_outputs, shaped_outputs
from jvae.distributions import bernoulli_log_prob
from jvae.nn.mlp import BernoulliMLP, apply_rows, as_shape, dummy_inputs

Params = Any


class Likelihood(Protocol):
    event_shape: tuple[int, ...]
    data_kind: str

    def init(self, rng_key: jax.Array) -> Params: ...

    def log_prob(
        self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array: ...

    def sample(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array: ...

    def mean(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array: ...


def flat_events(a: jax.Array, event_shape: tuple[int, ...]) -> jax.Array:
    """``a [..., *event_shape]`` as ``[..., prod(event_shape)]`` (a sum over its last axis is
    then the same reduction, in the same order, as on flattened data)."""
    return jnp.reshape(a, (*a.shape[: a.ndim - len(event_shape)], -1))


def _sum_event(values: jax.Array, event_shape: tuple[int, ...]) -> jax.Array:
    return jnp.sum(flat_events(values, event_shape), axis=-1)


@dataclasses.dataclass(frozen=True)
class Bernoulli:
    r"""Factorised Bernoulli pixels, :math:`\log p(x \mid u) = \sum_d x_d \ell_d -
    \mathrm{softplus}(\ell_d)` with logits :math:`\ell = f(u)` from a network of the parents.

    Attributes:
      module: ``(*parents) -> logits``, ``[..., prod(event_shape)]`` or ``[..., *event_shape]``.
      input_sizes: the size of each parent's last axis.
      event_shape: the shape of one example (an ``int`` ``D`` means ``(D,)``).
    """

    module: nn.Module
    input_sizes: tuple[int, ...]
    event_shape: tuple[int, ...]
    data_kind: ClassVar[str] = "binary"

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_shape", as_shape(self.event_shape))

    def init(self, rng_key: jax.Array) -> Params:
        return self.module.init(rng_key, *dummy_inputs(self.input_sizes))["params"]

    def logits(self, params: Params, inputs: tuple[jax.Array, ...]) -> jax.Array:
        """``[..., *event_shape]``."""
        return raw_outputs(self.module, params, inputs, self.event_shape)

    def log_prob(self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        logits = flat_events(self.logits(params, inputs), self.event_shape)
        return bernoulli_log_prob(logits, flat_events(x, self.event_shape))

    def sample(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array:
        probs = self.mean(params, rng_key, inputs)
        return jax.random.bernoulli(rng_key, probs).astype(probs.dtype)

    def mean(self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return jax.nn.sigmoid(self.logits(params, inputs))

    def check_output_bias(self) -> None:
        """One-line ``ValueError`` unless :meth:`with_output_bias` applies (a
        :class:`BernoulliMLP` decoder)."""
        if not isinstance(self.module, BernoulliMLP):
            raise ValueError(
                f"the output bias can be set on a BernoulliMLP decoder only, not on a "
                f"{type(self.module).__name__}; use the MLP decoder or decoder_bias='zero'."
            )

    def with_output_bias(self, params: Params, bias: jax.Array) -> Params:
        """``params`` with the output layer's bias replaced by ``bias [prod(event_shape)]`` (the
        logits the decoder gives when its last hidden layer is zero); a :class:`BernoulliMLP`
        only."""
        self.check_output_bias()
        chex.assert_shape(bias, (math.prod(self.event_shape),))
        mlp = params["mlp"]
        last = f"dense_{len(mlp) - 1}"
        return {**params, "mlp": {**mlp, last: {**mlp[last], "bias": jnp.asarray(bias)}}}


def data_mean_logits(images: np.ndarray, clip: float = 1e-3) -> np.ndarray:
    r"""Per-value :math:`\operatorname{logit}(\bar x_d)`, ``[prod(event_shape)]``, with
    :math:`\bar x_d` the mean of value ``d`` over ``images [N, *event_shape]`` (grey levels are
    the binarisation's probabilities) clipped to ``[clip, 1 - clip]``.

    As the output bias of a Bernoulli decoder it starts the model at the best factorised
    distribution that ignores z, as Burda et al.'s code does (``get_train_bias_np``): from a
    zero bias the IWAE paper's 2-layer chain trains far more slowly, its first passes spent on
    the mean image (``--decoder-bias``; MNIST loss after 10 passes 108.0 against 127.9).
    """
    if images.ndim < 2:
        raise ValueError(f"data_mean_logits needs images [N, *event_shape]; got {images.shape}.")
    if not np.all(np.isfinite(images)):
        raise ValueError("data_mean_logits needs finite images; these hold NaN or inf values.")
    flat = images.reshape(len(images), -1).astype(np.float64)
    mean = np.clip(flat.mean(axis=0), clip, 1.0 - clip)
    return (np.log(mean) - np.log1p(-mean)).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class DiscretizedLogistic:
    r"""Factorised 8-bit values, each a discretised logistic (:mod:`jvae.components.pixels`)
    whose location and log-scale a network computes from the parents.

    Attributes:
      module: ``(*parents) -> (loc, log_scale)``, each ``[..., prod(event_shape)]`` or
        ``[..., *event_shape]`` (:class:`jvae.nn.conv.ConvLogistic`), or one output of both,
        ``[..., *event_shape, 2]`` or ``[..., 2 * prod(event_shape)]``.
      input_sizes: the size of each parent's last axis.
      event_shape: the shape of one example.
      pixels: the per-value distribution (its log-scale floor).
    """

    module: nn.Module
    input_sizes: tuple[int, ...]
    event_shape: tuple[int, ...]
    pixels: LogisticPixels = LogisticPixels()
    data_kind: ClassVar[str] = "8bit"

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_shape", as_shape(self.event_shape))

    def init(self, rng_key: jax.Array) -> Params:
        return self.module.init(rng_key, *dummy_inputs(self.input_sizes))["params"]

    def outputs(self, params: Params, inputs: tuple[jax.Array, ...]) -> jax.Array:
        """``[..., *event_shape, 2]``: location and raw log-scale per value."""
        lead, out = leading_shape(inputs), apply_rows(self.module, params, *inputs)
        if isinstance(out, (tuple, list)):  # (loc, log_scale)
            return jnp.stack([shaped_outputs(o, lead, self.event_shape) for o in out], axis=-1)
        return shaped_outputs(out, lead, (*self.event_shape, 2))

    def log_prob(self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        log_p = self.pixels.log_prob(self.outputs(params, inputs), x)
        return _sum_event(log_p, self.event_shape)

    def sample(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array:
        return self.pixels.sample(rng_key, self.outputs(params, inputs))

    def mean(self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return self.pixels.mean(self.outputs(params, inputs))
