"""Convolutions and the gated convolutional encoder and decoders: gradients equal to XLA's own
and canonical inside loops, the authors' layer sizes, images in their natural shape (any
channels), the 28x28x1 networks unchanged (saved numbers), leading axes handled (x once per
example beside z per sample), the heads' layouts, and one-line errors."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jvae import bounds
from jvae.components.conditionals import GaussianConditional
from jvae.components.likelihoods import Bernoulli, DiscretizedLogistic
from jvae.components.posteriors import GaussianPosterior
from jvae.components.priors import StandardNormal
from jvae.models.model import DATA, Latent, ModelParts, assemble
from jvae.nn.conv import (
    ENCODER_CONVS_Z1,
    ConvBernoulli,
    ConvDecoder,
    ConvGaussian,
    ConvLogistic,
    ConvMap,
)
from jvae.nn.convolution import Conv, ConvTranspose, conv2d, conv_transpose2d
from jvae.training.train import init_state, make_train_step

INIT_KEY = jax.random.key(0, impl="rbg")  # RBG initialisers compile fast on CPU


def normal(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def grey(shape, seed):
    return jnp.asarray(np.floor(np.random.default_rng(seed).uniform(size=shape) * 256) / 256)


@pytest.mark.parametrize(
    "x_shape,k_shape,stride,padding",
    [
        ((2, 7, 8, 3), (3, 3, 3, 4), 1, ((1, 1), (1, 1))),
        ((2, 9, 10, 3), (3, 3, 3, 4), 2, ((1, 1), (1, 1))),
        ((1, 12, 11, 1), (7, 7, 1, 2), 2, ((0, 0), (0, 0))),  # last row and column unread
        ((2, 8, 9, 2), (5, 5, 2, 3), 2, ((2, 2), (2, 2))),
        ((1, 6, 7, 2), (2, 3, 2, 2), 1, ((1, 0), (2, 0))),  # one-sided, as the PixelCNN's
        ((3, 10, 10, 4), (2, 2, 4, 3), 1, ((2, -1), (2, -1))),  # crops, as the PixelCNN's
        ((2, 9, 8, 2), (3, 3, 2, 2), 2, ((-1, 3), (1, -2))),
    ],
)
def test_conv2d_gradients_equal_xla_autodiff(x_shape, k_shape, stride, padding):
    x, kernel = normal(x_shape, 1), normal(k_shape, 2)

    def xla(x, kernel):
        dims = ("NHWC", "HWIO", "NHWC")
        return jax.lax.conv_general_dilated(
            x, kernel, (stride, stride), padding, dimension_numbers=dims
        )

    y, pullback = jax.vjp(lambda x, k: conv2d(x, k, stride, padding), x, kernel)
    y_ref, pullback_ref = jax.vjp(xla, x, kernel)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6)
    g = normal(y.shape, 3)
    for got, want in zip(pullback(g), pullback_ref(g)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "x_shape,k_shape,stride,padding",
    [
        ((2, 9, 10, 3), (3, 3, 3, 4), 2, ((1, 1), (1, 1))),
        ((1, 8, 8, 2), (3, 3, 2, 5), 2, ((0, 1), (0, 1))),  # 4x4 -> 8x8, a 'SAME' stride 2
        ((1, 12, 11, 1), (7, 7, 1, 2), 2, ((0, 0), (0, 0))),  # rows no window reads
        ((2, 9, 8, 2), (3, 3, 2, 2), 2, ((-1, 3), (1, -2))),
        ((2, 7, 8, 3), (2, 3, 3, 2), 1, ((1, 0), (2, 0))),
    ],
)
def test_conv_transpose2d_is_the_adjoint_of_conv2d_with_xla_gradients(
    x_shape, k_shape, stride, padding
):
    """conv_transpose2d(y) = J^T y for J = conv2d(., kernel) from x_shape images (against
    jax.vjp of XLA's convolution), and its gradients in y and in the kernel equal XLA's
    autodiff of that pullback."""
    x, kernel = normal(x_shape, 1), normal(k_shape, 2)

    def xla(x, kernel):
        dims = ("NHWC", "HWIO", "NHWC")
        return jax.lax.conv_general_dilated(
            x, kernel, (stride, stride), padding, dimension_numbers=dims
        )

    def pullback_ref(y, kernel):
        return jax.vjp(lambda x: xla(x, kernel), x)[1](y)[0]

    y = normal(xla(x, kernel).shape, 3)
    got, pullback = jax.vjp(
        lambda y, k: conv_transpose2d(y, k, stride, padding, x_shape[1:3]), y, kernel
    )
    want, pullback_want = jax.vjp(pullback_ref, y, kernel)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    g = normal(x_shape, 4)
    for got, want in zip(pullback(g), pullback_want(g)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_conv_transpose2d_names_the_sizes_that_fit():
    with pytest.raises(ValueError, match="gives 5 positions, not the input's 4: choose a size "
                       "from 8 to 9"):  # fmt: skip
        conv_transpose2d(jnp.ones((1, 4, 4, 3)), jnp.ones((3, 3, 2, 3)), 2, ((0, 1),) * 2, (10, 8))
    with pytest.raises(ValueError, match="padding 'FULL': use 'SAME', 'VALID'"):
        Conv(4, (3, 3), padding="FULL").init(INIT_KEY, jnp.ones((1, 5, 5, 1)))


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("kernel", [3, 4])
def test_conv_modules_equal_flax_with_same_padding(stride, kernel):
    """Conv is flax.linen.Conv, ConvTranspose is flax.linen.ConvTranspose(transpose_kernel=True),
    both with their default 'SAME' padding, on the same parameters, odd sizes included."""
    import flax.linen as nn

    x = normal((2, 9, 8, 3), 1)
    ours, flax_conv = Conv(5, (kernel, kernel), stride), nn.Conv(5, (kernel,) * 2, stride)
    params = flax_conv.init(INIT_KEY, x)
    np.testing.assert_allclose(ours.apply(params, x), flax_conv.apply(params, x), atol=1e-5)
    y = x[:, :5, :3]
    ours = ConvTranspose(5, (kernel, kernel), stride)
    flax_transpose = nn.ConvTranspose(
        5, (kernel,) * 2, (stride,) * 2, padding="SAME", transpose_kernel=True
    )
    params = ours.init(INIT_KEY, y)
    got, want = ours.apply(params, y), flax_transpose.apply(params, y)
    assert got.shape == (2, 5 * stride, 3 * stride, 5)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_negative_padding_crops_before_xla_sees_it():
    """XLA's CPU convolution miscomputes this shape when handed padding (-1, 1) itself (jax
    0.10.2); conv2d crops first."""
    x, kernel = normal((1, 10, 10, 4), 1), normal((1, 2, 4, 1), 2)
    want = jax.lax.conv_general_dilated(
        x[:, :, 1:], kernel, (1, 1), ((0, 0), (0, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    got = jax.jit(conv2d, static_argnums=(2, 3))(x, kernel, 1, ((0, 0), (-1, 1)))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_conv2d_gradients_stay_canonical_inside_a_loop():
    """Inside a loop body XLA's CPU backend runs only canonical (b01f_01io->b01f) convolutions
    fast; plain autodiff leaves the gradients' convolutions non-canonical there. Those of
    conv2d and conv_transpose2d stay canonical."""
    x, kernel = normal((4, 10, 10, 3), 1), normal((2, 3, 3, 5), 2)
    strided = normal((3, 3, 5, 4), 3)

    def loss(k, x, strided):
        h = jnp.tanh(conv2d(x, k, 1, ((0, 1), (1, 1))))
        h = jnp.tanh(conv2d(h, strided, 2, ((1, 1), (1, 1))))
        return jnp.sum(jnp.tanh(conv_transpose2d(h, strided, 2, ((1, 1), (1, 1)), (9, 10))))

    def step(i, carry):
        grads = jax.grad(loss, argnums=(0, 1, 2))(*carry)
        return tuple(a - 1e-3 * g for a, g in zip(carry, grads))

    loop = jax.jit(lambda *carry: jax.lax.fori_loop(0, 3, step, carry))
    hlo = loop.lower(kernel, x, strided).compile().as_text()
    labels = {
        line.split("dim_labels=")[1].split(",")[0]
        for line in hlo.splitlines()
        if " convolution(" in line
    }
    assert labels == {"b01f_01io->b01f"}


@pytest.mark.parametrize(
    "shape,features", [((28, 28, 1), 294), ((64, 64, 1), 1536), ((32, 32, 3), 384)]
)
def test_encoder_has_the_authors_layers(shape, features):
    """convHVAE_2level.py's q(z2|x): 28x28 -> 7x7x6 = 294 features (64x64 -> 16x16x6); a
    colour image's first kernel reads its C channels."""
    x = jnp.zeros((3, *shape))
    params = jax.eval_shape(ConvGaussian(40).init, INIT_KEY, x)["params"]
    kernels = [params[f"conv_{i}"]["h"]["kernel"].shape for i in range(5)]
    c = shape[2]
    assert kernels == [(7, 7, c, 32), (3, 3, 32, 32), (5, 5, 32, 64), (3, 3, 64, 64), (3, 3, 64, 6)]
    assert params["mean"]["kernel"].shape == (features, 40)


def summary(a):
    """Sum, sum of squares, a cosine-weighted sum (order-sensitive) and the sum of |a|."""
    a = np.asarray(a, np.float64).ravel()
    return np.array([a.sum(), (a * a).sum(), (a * np.cos(np.arange(a.size))).sum(), abs(a).sum()])


def assert_numbers(a, saved):
    np.testing.assert_allclose(summary(a), saved, rtol=1e-5, atol=1e-5 * saved[3])


def num_params(params):
    return len(jax.tree.leaves(params)), sum(math.prod(p.shape) for p in jax.tree.leaves(params))


def test_28x28_networks_are_unchanged():
    """For 28x28x1 images the encoders and decoders have the parameters and give the numbers
    of the networks before natural shapes (saved from git 47feaa8 with the same key and
    inputs; then x was read from [B, 784] and decoders returned [..., 784])."""
    x, z, z1, z2 = (
        grey((2, 28, 28, 1), 6),
        normal((2, 5), 8),
        normal((2, 4), 9),
        normal((3, 2, 5), 7),
    )

    def run(module, *inputs):
        params = jax.jit(module.init)(INIT_KEY, *inputs)
        return params, jax.jit(module.apply)(params, *inputs)

    params, (mean, log_scale) = run(ConvGaussian(8), x)
    assert num_params(params) == (24, 209724) and mean.shape == (2, 8)
    assert_numbers(mean, [0.121499809, 0.150671824, -0.0827550345, 1.20833844])
    assert_numbers(log_scale, [0.388904014, 0.0266046329, 0.0634537501, 0.499709868])

    params, (mean, log_scale) = run(ConvGaussian(8, ENCODER_CONVS_Z1, ((294,),), (300,)), x, z2)
    assert num_params(params) == (32, 498652) and mean.shape == (3, 2, 8)
    assert_numbers(mean, [-2.54344377, 8.73653454, -1.1537001, 14.3543529])
    assert_numbers(log_scale, [-0.0906304891, 2.24157705, -0.684076679, 7.53604582])

    params, logits = run(ConvBernoulli((28, 28, 1), ((300,),), (784,)), z)
    assert num_params(params) == (26, 698481) and logits.shape == (2, 28, 28, 1)
    assert_numbers(logits, [96.4236007, 75.5184398, -6.70230977, 245.950951])

    params, (loc, log_scale) = run(ConvLogistic((28, 28, 1), ((300,), (300,)), (784,)), z, z1)
    assert num_params(params) == (30, 1171946) and loc.shape == log_scale.shape == (2, 28, 28, 1)
    assert_numbers(loc, [9.02364352, 45.7052089, 1.54668905, 193.555318])
    assert_numbers(log_scale, [13.1107017, 50.3212415, -5.62771184, 207.095173])

    params, out = run(ConvMap((6, 6), ((36,), (36,))), z, z1)
    assert num_params(params) == (8, 792) and out.shape == (2, 6, 6, 2)
    assert_numbers(out, [8.92866584, 71.5886455, 4.7852922770, 68.7034184])


def test_data_branch_runs_once_per_example_and_broadcasts_over_samples():
    """q(z1 | x, z2) with x [B, H, W, C] beside z2 [K, B, d] equals the same net on x repeated
    K times, and on each (k, b) alone."""
    shape = (12, 12, 2)
    enc = ConvGaussian(5, ENCODER_CONVS_Z1[:2], branches=((72,),), joint=(16,))
    cond = GaussianConditional(enc, (shape, 3), 5)
    params = jax.jit(cond.init)(INIT_KEY)
    x, z2 = normal((4, *shape), 1), normal((2, 4, 3), 2)
    distribution = jax.jit(cond.distribution)
    q = distribution(params, (x, z2))
    assert q.mean.shape == (2, 4, 5)
    assert bool(jnp.all((q.log_scale >= -3.0) & (q.log_scale <= 1.0)))  # log-var in [-6, 2]
    q_repeated = distribution(params, (jnp.broadcast_to(x, (2, 4, *shape)), z2))
    np.testing.assert_allclose(q.mean, q_repeated.mean, rtol=1e-5, atol=1e-6)
    q_one = distribution(params, (x[3:4], z2[1, 3:4]))
    np.testing.assert_allclose(q.log_scale[1, 3], q_one.log_scale[0], rtol=1e-5, atol=1e-6)


def test_decoder_heads_agree_and_rows_are_examples():
    """With the same parameters, ConvBernoulli's logits are ConvDecoder's P = 1 numbers and
    ConvLogistic's (loc, log_scale) its P = 2 pair; leading axes [K, B] give each example's
    output alone."""
    shape = (6, 5, 3)
    z = normal((2, 4, 3), 1)
    make = dict(image_shape=shape, branches=((60,),), convs=((4, 3, 1),))
    two = ConvDecoder(per_value=2, **make)
    params = jax.jit(two.init)(INIT_KEY, z)
    out = jax.jit(two.apply)(params, z)
    assert out.shape == (2, 4, *shape, 2)
    loc, log_scale = jax.jit(ConvLogistic(**make).apply)(params, z)
    np.testing.assert_array_equal(loc, out[..., 0])
    np.testing.assert_array_equal(log_scale, out[..., 1])
    one = ConvDecoder(per_value=1, **make)
    params = jax.jit(one.init)(INIT_KEY, z)
    logits = jax.jit(ConvBernoulli(**make).apply)(params, z)
    np.testing.assert_array_equal(logits, jax.jit(one.apply)(params, z)[..., 0])
    alone = ConvBernoulli(**make).apply(params, z[1, 2][None])
    np.testing.assert_allclose(logits[1, 2], alone[0], rtol=1e-5, atol=1e-6)


def test_conditioning_map_keeps_one_channel_per_latent():
    """PixelHVAE's map: z1 and z2 each through a gated layer of H*W units, one channel each
    (the authors' cat((x, z1, z2), 1)): channel 0 does not depend on z2."""
    shape, d = (6, 6, 3), 36
    net = ConvMap(shape, ((d,), (d,)))
    params = net.init(INIT_KEY, jnp.zeros((1, 3)), jnp.zeros((1, 2)))
    z1, z2 = normal((3,), 1), normal((2,), 2)
    assert net.apply(params, z1, z2).shape == (6, 6, 2)
    jac = jax.jacrev(lambda b: net.apply(params, z1, b))(z2)  # [6, 6, 2, 2]
    assert bool(jnp.all(jac[:, :, 0] == 0)) and bool(jnp.any(jac[:, :, 1] != 0))


def test_bad_shapes_raise_one_line_errors():
    with pytest.raises(
        ValueError, match=r"ConvGaussian reads images \[..., H, W, C\]; got .*\(2, 784\)"
    ):
        jax.eval_shape(ConvGaussian(4).init, INIT_KEY, jnp.zeros((2, 784)))
    with pytest.raises(
        ValueError, match=r"ConvBernoulli needs image_shape \(H, W, C\); got \(28, 28\)"
    ):
        ConvBernoulli((28, 28), ((784,),))
    with pytest.raises(ValueError, match="ConvDecoder needs image_shape"):
        ConvDecoder((28, 28), ((784,),), 3)
    with pytest.raises(ValueError, match="not a multiple of 6x6"):
        ConvMap((6, 6, 1), ((30,),)).init(INIT_KEY, jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match="stride must be 1"):
        ConvMap((6, 6), ((36,),), (), ((4, 3, 2),)).init(INIT_KEY, jnp.zeros((1, 3)))


SHAPE, Z = (12, 12, 3), 4
SMALL_CONVS = ((4, 3, 2), (2, 3, 1))  # 12x12 -> 6x6x2 = 72 features


def one_layer(likelihood):
    module = ConvGaussian(Z, SMALL_CONVS)
    parts = ModelParts(
        latents=(
            Latent(
                "z", GaussianPosterior(GaussianConditional(module, (SHAPE,), Z)), (DATA,), "q_z"
            ),
        ),
        inference_order=("z",),
        prior=StandardNormal(Z),
        likelihood=likelihood,
        likelihood_parents=("z",),
        likelihood_key="p_x",
    )
    return assemble(parts, SHAPE)


def conv_decoder(cls):
    return cls(SHAPE, ((144,),), (), ((4, 3, 1),))


@pytest.mark.parametrize(
    "build",
    [
        lambda: one_layer(Bernoulli(conv_decoder(ConvBernoulli), (Z,), SHAPE)),
        lambda: one_layer(DiscretizedLogistic(conv_decoder(ConvLogistic), (Z,), SHAPE)),
    ],
    ids=["bernoulli", "logistic"],
)
def test_conv_decoders_on_colour_images_train_with_iwae_dreg_and_compile_once(build):
    model = build()
    optimizer = optax.adam(1e-3)
    step = make_train_step(model, optimizer, 5, bounds.iwae, "dreg")
    chex.clear_trace_counter()
    step = jax.jit(chex.assert_max_traces(step, n=1))
    state = init_state(INIT_KEY, model, optimizer)
    key = jax.random.PRNGKey(0)
    batch = grey((6, *SHAPE), 0)
    for t in range(2):
        state, metrics = step(jax.random.fold_in(key, t), state, batch)
        assert np.isfinite(float(metrics["loss"]))
    images = jax.jit(model.sample, static_argnums=2)(state.params, key, 2)
    assert images.shape == (2, *SHAPE) and bool(jnp.all((images >= 0) & (images <= 1)))
