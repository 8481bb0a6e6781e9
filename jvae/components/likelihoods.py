r"""Likelihoods :math:`p(x \mid \text{parents})` of the data given latent values.

A likelihood is any object with ``data_dim``, ``init(rng_key) -> params``,
``log_prob(params, x[B, D], inputs) -> [K, B]`` (``x`` broadcast against the inputs' sample
axis; an autoregressive likelihood also reads ``x`` itself, by teacher forcing),
``sample(params, rng_key, inputs) -> [..., D]`` and ``mean(params, rng_key, inputs) ->
[..., D]``: the image to show for given latents, the mean where it is cheap, a sample where
the mean is intractable (autoregressive decoders).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jvae.components.pixels import BernoulliPixels, LogisticPixels, PixelModel
from jvae.distributions import bernoulli_log_prob
from jvae.nn.mlp import BernoulliMLP, apply_rows
from jvae.nn.pixelcnn import GatedPixelCNN, field_radius, receptive_field

Params = Any


class Likelihood(Protocol):
    data_dim: int

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


@dataclasses.dataclass(frozen=True)
class Bernoulli:
    r"""Factorised Bernoulli pixels, :math:`\log p(x \mid u) = \sum_d x_d \ell_d -
    \mathrm{softplus}(\ell_d)` with logits :math:`\ell = f(u)` from a network of the parents.

    Attributes:
      module: ``(*parents) -> logits [..., data_dim]``.
      input_sizes: the size of each parent's last axis.
      data_dim: number of pixels.
    """

    module: nn.Module
    input_sizes: tuple[int, ...]
    data_dim: int

    def init(self, rng_key: jax.Array) -> Params:
        dummies = [jnp.zeros((1, d), jnp.float32) for d in self.input_sizes]
        return self.module.init(rng_key, *dummies)["params"]

    def logits(self, params: Params, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return apply_rows(self.module, params, *inputs)

    def log_prob(self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return bernoulli_log_prob(self.logits(params, inputs), x)

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
        """``params`` with the output layer's bias replaced by ``bias [data_dim]`` (the logits
        the decoder gives when its last hidden layer is zero); a :class:`BernoulliMLP` only."""
        self.check_output_bias()
        chex.assert_shape(bias, (self.data_dim,))
        mlp = params["mlp"]
        last = f"dense_{len(mlp) - 1}"
        return {**params, "mlp": {**mlp, last: {**mlp[last], "bias": jnp.asarray(bias)}}}


def data_mean_logits(images: np.ndarray, clip: float = 1e-3) -> np.ndarray:
    r"""Per-pixel :math:`\operatorname{logit}(\bar x_d)`, :math:`\bar x_d` the mean of pixel
    ``d`` over ``images [N, D]`` (grey levels are the binarisation's probabilities) clipped to
    ``[clip, 1 - clip]``.

    As the output bias of a Bernoulli decoder it starts the model at the best factorised
    distribution that ignores z, as Burda et al.'s code does (``get_train_bias_np``): from a
    zero bias the IWAE paper's 2-layer chain trains far more slowly, its first passes spent on
    the mean image (``--decoder-bias``; MNIST loss after 10 passes 108.0 against 127.9).
    """
    if images.ndim != 2:
        raise ValueError(f"data_mean_logits needs finite images [N, D]; got shape {images.shape}.")
    if not np.all(np.isfinite(images)):
        raise ValueError("data_mean_logits needs finite images; these hold NaN or inf values.")
    mean = np.clip(images.astype(np.float64).mean(axis=0), clip, 1.0 - clip)
    return (np.log(mean) - np.log1p(-mean)).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class DiscretizedLogistic:
    r"""Factorised 8-bit pixels, each a discretised logistic (:mod:`jvae.components.pixels`)
    whose location and log-scale a network computes from the parents.

    Attributes:
      module: ``(*parents) -> (loc, log_scale)``, each ``[..., data_dim]``
        (:class:`jvae.nn.conv.ConvLogistic`).
      input_sizes: the size of each parent's last axis.
      data_dim: number of pixels.
      pixels: the per-pixel distribution (its log-scale floor).
    """

    module: nn.Module
    input_sizes: tuple[int, ...]
    data_dim: int
    pixels: LogisticPixels = LogisticPixels()

    def init(self, rng_key: jax.Array) -> Params:
        dummies = [jnp.zeros((1, d), jnp.float32) for d in self.input_sizes]
        return self.module.init(rng_key, *dummies)["params"]

    def outputs(self, params: Params, inputs: tuple[jax.Array, ...]) -> jax.Array:
        """``[..., data_dim, 2]``: location and raw log-scale per pixel."""
        return jnp.stack(apply_rows(self.module, params, *inputs), axis=-1)

    def log_prob(self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return jnp.sum(self.pixels.log_prob(self.outputs(params, inputs), x), axis=-1)

    def sample(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array:
        return self.pixels.sample(rng_key, self.outputs(params, inputs))

    def mean(self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return self.pixels.mean(self.outputs(params, inputs))


@dataclasses.dataclass(frozen=True)
class PixelCNN:
    r"""Autoregressive pixels, :math:`p(x \mid u) = \prod_{i} p(x_i \mid x_{<i}, c(u))` in raster
    order, from a :class:`jvae.nn.pixelcnn.GatedPixelCNN` over the image and a conditioning map
    :math:`c(u)` of the parents (van den Oord et al. 2016; PixelVAE, Gulrajani et al. 2016).

    ``log_prob`` reads x by teacher forcing: one parallel pass over the ``[K, B]`` images (the
    first layer's convolutions of x run on the ``B`` examples and broadcast over K). ``sample``
    runs pixel by pixel in one ``lax.fori_loop`` over rows and columns: per row, the vertical
    stack on the rows its receptive field reaches (``radius + 1`` rows, so a small field samples
    fast); per pixel, the horizontal stack on that row alone. ``mean`` is a sample: the mean of
    an autoregressive decoder is intractable.

    Attributes:
      conditioner: ``(*parents) -> c [..., H, W, C_c]`` (:class:`jvae.nn.conv.ConvMap`).
      network: the PixelCNN; its ``out_channels`` must equal ``pixels.channels``.
      input_sizes: the size of each parent's last axis.
      image_shape: ``(H, W)``.
      pixels: :class:`BernoulliPixels` for binary images, :class:`LogisticPixels` for 8-bit ones.
    """

    conditioner: nn.Module
    network: GatedPixelCNN
    input_sizes: tuple[int, ...]
    image_shape: tuple[int, int]
    pixels: PixelModel = BernoulliPixels()

    def __post_init__(self) -> None:
        if self.network.out_channels != self.pixels.channels:
            raise ValueError(
                f"{type(self.pixels).__name__} needs {self.pixels.channels} outputs per pixel; "
                f"the PixelCNN has out_channels={self.network.out_channels}."
            )
        self.receptive_field()

    @property
    def data_dim(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    def receptive_field(self) -> frozenset[tuple[int, int]]:
        """Offsets ``(row, col)`` of the pixels each conditional reads
        (:func:`jvae.nn.pixelcnn.receptive_field`)."""
        net = self.network
        return receptive_field(net.num_layers, net.kernel_size, net.first_kernel_size)

    def init(self, rng_key: jax.Array) -> Params:
        key_c, key_n = jax.random.split(rng_key)
        dummies = [jnp.zeros((1, d), jnp.float32) for d in self.input_sizes]
        params_c = self.conditioner.init(key_c, *dummies)["params"]
        cond = self.conditioner.apply({"params": params_c}, *dummies)
        image = jnp.zeros((1, *self.image_shape, 1), jnp.float32)
        return {"conditioner": params_c, "network": self.network.init(key_n, image, cond)["params"]}

    def condition(self, params: Params, inputs: tuple[jax.Array, ...]) -> jax.Array:
        """The conditioning map ``[..., H, W, C_c]`` of the parents."""
        return self.conditioner.apply({"params": params["conditioner"]}, *inputs)

    def log_prob(self, params: Params, x: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        image = jnp.reshape(x, (*x.shape[:-1], *self.image_shape, 1))
        out = self.network.apply(
            {"params": params["network"]}, image, self.condition(params, inputs)
        )
        return jnp.sum(self.pixels.log_prob(out, image[..., 0]), axis=(-2, -1))

    def sample_with_log_prob(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> tuple[jax.Array, jax.Array]:
        """Images ``[..., D]`` drawn pixel by pixel, and the sum of the log-probabilities of the
        drawn values, ``[...]`` (equal to ``log_prob`` of the images, by construction)."""
        height, width = self.image_shape
        cond = self.condition(params, inputs)
        lead = cond.shape[:-3]
        cond = jnp.reshape(cond, (-1, *cond.shape[-3:]))
        radius = field_radius(self.receptive_field())
        rows = min(radius + 1, height)

        def apply(method: Any, *args: Any) -> Any:
            return self.network.apply({"params": params["network"]}, *args, method=method)

        def row(i: jax.Array, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            start = jnp.clip(i - radius, 0, height - rows)
            window = [jax.lax.dynamic_slice_in_dim(a, start, rows, 1) for a in (carry[0], cond)]
            context = [
                jax.lax.dynamic_slice_in_dim(c, i - start, 1, 1)
                for c in apply(GatedPixelCNN.vertical, *window)
            ]

            def pixel(j: jax.Array, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, ...]:
                x, log_p = carry
                x_row = jax.lax.dynamic_slice_in_dim(x, i, 1, 1)
                out = apply(GatedPixelCNN.horizontal, x_row, context)[:, 0]
                out_j = jax.lax.dynamic_index_in_dim(out, j, 1, keepdims=False)
                value = self.pixels.sample(jax.random.fold_in(rng_key, i * width + j), out_j)
                x = x.at[:, i, j, 0].set(value)
                return x, log_p + self.pixels.log_prob(out_j, value)

            return jax.lax.fori_loop(0, width, pixel, carry)

        n = cond.shape[0]
        init = (jnp.zeros((n, height, width, 1), cond.dtype), jnp.zeros((n,), cond.dtype))
        x, log_p = jax.lax.fori_loop(0, height, row, init)
        return jnp.reshape(x, (*lead, height * width)), jnp.reshape(log_p, lead)

    def sample(
        self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]
    ) -> jax.Array:
        return self.sample_with_log_prob(params, rng_key, inputs)[0]

    def mean(self, params: Params, rng_key: jax.Array, inputs: tuple[jax.Array, ...]) -> jax.Array:
        return self.sample(params, rng_key, inputs)
