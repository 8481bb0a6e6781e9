"""Convolutions and the gated convolutional encoder and decoders: gradients equal to XLA's own
and canonical inside loops, the authors' layer sizes, images read from flattened rows, leading
axes handled (x once per example beside z per sample), the conditioning map's channel layout,
and one-line errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae.components.conditionals import GaussianConditional
from jvae.nn.conv import (
    ENCODER_CONVS_Z1,
    ConvBernoulli,
    ConvGaussian,
    ConvMap,
    conv2d,
    image_of,
)
from jvae.nn.mlp import apply_rows

INIT_KEY = jax.random.key(0, impl="rbg")  # RBG initialisers compile fast on CPU


def normal(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


@pytest.mark.parametrize(
    "x_shape,k_shape,stride",
    [
        ((2, 7, 8, 3), (3, 3, 3, 4), 1),
        ((2, 9, 10, 3), (3, 3, 3, 4), 2),
        ((1, 12, 11, 1), (7, 7, 1, 2), 2),
    ],
)
def test_conv2d_gradients_equal_xla_autodiff(x_shape, k_shape, stride):
    x, kernel = normal(x_shape, 1), normal(k_shape, 2)

    def xla(x, kernel):
        dims = ("NHWC", "HWIO", "NHWC")
        return jax.lax.conv_general_dilated(
            x, kernel, (stride, stride), "VALID", dimension_numbers=dims
        )

    y, pullback = jax.vjp(lambda x, k: conv2d(x, k, stride), x, kernel)
    y_ref, pullback_ref = jax.vjp(xla, x, kernel)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6)
    g = normal(y.shape, 3)
    for got, want in zip(pullback(g), pullback_ref(g)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv2d_gradients_stay_canonical_inside_a_loop():
    """Inside a loop body XLA's CPU backend runs only canonical (b01f_01io->b01f) convolutions
    fast; plain autodiff leaves the gradients' convolutions non-canonical there."""
    x, kernel = normal((4, 10, 10, 3), 1), normal((2, 3, 3, 5), 2)

    def step(i, carry):
        k, x = carry
        dk, dx = jax.grad(lambda k, x: jnp.sum(jnp.tanh(conv2d(x, k, 1))), argnums=(0, 1))(k, x)
        return k - 1e-3 * dk, x - 1e-3 * dx

    loop = jax.jit(lambda k, x: jax.lax.fori_loop(0, 3, step, (k, x)))
    hlo = loop.lower(kernel, x).compile().as_text()
    labels = {
        line.split("dim_labels=")[1].split(",")[0]
        for line in hlo.splitlines()
        if " convolution(" in line
    }
    assert labels == {"b01f_01io->b01f"}


@pytest.mark.parametrize("shape,features", [((28, 28), 294), ((64, 64), 1536)])
def test_encoder_has_the_authors_layers(shape, features):
    """convHVAE_2level.py's q(z2|x): 28x28 -> 7x7x6 = 294 features (64x64 -> 16x16x6)."""
    d = shape[0] * shape[1]
    params = jax.eval_shape(ConvGaussian(shape, 40).init, INIT_KEY, jnp.zeros((3, d)))["params"]
    kernels = [params[f"conv_{i}"]["h"]["kernel"].shape for i in range(5)]
    assert kernels == [(7, 7, 1, 32), (3, 3, 32, 32), (5, 5, 32, 64), (3, 3, 64, 64), (3, 3, 64, 6)]
    assert params["mean"]["kernel"].shape == (features, 40)


def test_data_branch_runs_once_per_example_and_broadcasts_over_samples():
    """q(z1 | x, z2) with x [B, D] beside z2 [K, B, d] equals the same net on x repeated K
    times, and on each (k, b) alone."""
    shape, d = (12, 12), 144
    enc = ConvGaussian(shape, 5, ENCODER_CONVS_Z1[:2], branches=((72,),), joint=(16,))
    cond = GaussianConditional(enc, (d, 3), 5)
    params = cond.init(INIT_KEY)
    x, z2 = normal((4, d), 1), normal((2, 4, 3), 2)
    distribution = jax.jit(cond.distribution)
    q = distribution(params, (x, z2))
    assert q.mean.shape == (2, 4, 5)
    assert bool(jnp.all((q.log_scale >= -3.0) & (q.log_scale <= 1.0)))  # log-var in [-6, 2]
    q_repeated = distribution(params, (jnp.broadcast_to(x, (2, 4, d)), z2))
    np.testing.assert_allclose(q.mean, q_repeated.mean, rtol=1e-5, atol=1e-6)
    q_one = distribution(params, (x[3:4], z2[1, 3:4]))
    np.testing.assert_allclose(q.log_scale[1, 3], q_one.log_scale[0], rtol=1e-5, atol=1e-6)


def test_decoder_rows_agree_with_one_example_at_a_time():
    shape, d = (8, 8), 64
    dec = ConvBernoulli(shape, ((d,),), (), ((4, 3, 1),))
    params = dec.init(INIT_KEY, jnp.zeros((1, 3)))["params"]
    z = normal((2, 5, 3))
    logits = apply_rows(dec, params, z)
    assert logits.shape == (2, 5, d)
    one = dec.apply({"params": params}, z[1, 2][None])
    np.testing.assert_allclose(logits[1, 2], one[0], rtol=1e-5, atol=1e-6)


def test_conditioning_map_keeps_one_channel_per_latent():
    """PixelHVAE's map: z1 and z2 each through a gated layer of H*W units, one channel each
    (the authors' cat((x, z1, z2), 1)): channel 0 does not depend on z2."""
    shape, d = (6, 6), 36
    net = ConvMap(shape, ((d,), (d,)))
    params = net.init(INIT_KEY, jnp.zeros((1, 3)), jnp.zeros((1, 2)))
    z1, z2 = normal((3,), 1), normal((2,), 2)
    assert net.apply(params, z1, z2).shape == (6, 6, 2)
    jac = jax.jacrev(lambda b: net.apply(params, z1, b))(z2)  # [6, 6, 2, 2]
    assert bool(jnp.all(jac[:, :, 0] == 0)) and bool(jnp.any(jac[:, :, 1] != 0))


def test_bad_shapes_raise_one_line_errors():
    with pytest.raises(ValueError, match="expected flattened 28x28 images"):
        image_of(jnp.zeros((2, 100)), (28, 28))
    with pytest.raises(ValueError, match="not a multiple of 6x6"):
        ConvMap((6, 6), ((30,),)).init(INIT_KEY, jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match="stride must be 1"):
        ConvMap((6, 6), ((36,),), (), ((4, 3, 2),)).init(INIT_KEY, jnp.zeros((1, 3)))
