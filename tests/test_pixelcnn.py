"""PixelCNN decoder: exact receptive field (closed form and autodiff) with colour values ordered
within a pixel, the grey-level network unchanged (saved numbers), sampling that agrees with
teacher forcing and draws from the model's conditionals, and the PixelHVAE training under
IWAE (K=5) + DReG with one compilation."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jvae import bounds
from jvae.components.conditionals import GaussianConditional
from jvae.components.pixelcnn_likelihood import PixelCNN
from jvae.components.pixels import BernoulliPixels, LogisticPixels
from jvae.components.posteriors import GaussianPosterior
from jvae.components.priors import StandardNormal
from jvae.models.model import DATA, Latent, ModelParts, assemble
from jvae.nn.conv import ConvGaussian, ConvMap
from jvae.nn.gated import GatedGaussian
from jvae.nn.pixelcnn import (
    GatedPixelCNN,
    field_radius,
    largest_useful_radius,
    layers_for_radius,
    receptive_field,
)
from jvae.training.train import init_state, make_train_step

# Initialisers draw with RBG keys: XLA compiles their random ops several times faster than
# threefry's on CPU.
INIT_KEY = jax.random.key(0, impl="rbg")
CONFIGS = [(1, 3, None), (2, 3, None), (3, 3, 5), (4, 5, 7)]


def closed_form_field(radius: int) -> set[tuple[int, int]]:
    above = {(a, b) for a in range(-radius, 0) for b in range(-radius, radius + 1)}
    return above | {(0, b) for b in range(-radius, 0)}


@pytest.mark.parametrize("layers,kernel,first", CONFIGS)
def test_receptive_field_is_the_causal_window(layers, kernel, first):
    radius = (first or kernel) // 2 + (layers - 1) * (kernel // 2)
    field = receptive_field(layers, kernel, first)
    assert field == closed_form_field(radius)
    assert len(field) == 2 * radius * (radius + 1) and field_radius(field) == radius


@pytest.mark.parametrize("radius,kernel,first", [(1, 3, None), (6, 3, None), (27, 5, 7), (9, 5, 3)])
def test_layers_for_radius_reach_it_exactly(radius, kernel, first):
    layers = layers_for_radius(radius, kernel, first)
    assert field_radius(receptive_field(layers, kernel, first)) == radius


def _sees_every_earlier_pixel(field: frozenset, height: int, width: int) -> bool:
    """Whether, for every pixel of the image, ``field`` reaches every pixel before it."""
    for i in range(height):
        for j in range(width):
            seen = {(i + a, j + b) for a, b in field}
            earlier = {(r, c) for r in range(height) for c in range(width) if (r, c) < (i, j)}
            if not earlier <= seen:
                return False
    return True


@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (4, 7), (8, 3)])
@pytest.mark.parametrize("kernel,first", [(3, None), (5, None), (3, 5), (5, 7)])
def test_largest_useful_radius_is_the_first_to_see_every_earlier_pixel(shape, kernel, first):
    useful = largest_useful_radius(shape, kernel, first)
    layers = layers_for_radius(useful, kernel, first)
    assert _sees_every_earlier_pixel(receptive_field(layers, kernel, first), *shape)
    if layers > 1:  # one layer less does not
        assert not _sees_every_earlier_pixel(receptive_field(layers - 1, kernel, first), *shape)


def pixelcnn_likelihood(layers, pixels, shape=(8, 8, 1), latent=3, channels=6):
    """A PixelCNN likelihood of one latent, its map of one channel per parent."""
    net = GatedPixelCNN(layers, channels, out_channels=pixels.channels, image_channels=shape[2])
    return PixelCNN(ConvMap(shape, ((shape[0] * shape[1],),)), net, (latent,), shape, pixels)


def test_a_field_beyond_the_image_is_refused_where_the_likelihood_is_built():
    """A radius past max(H, W) - 1 builds layers that see nothing new (and used to compile for
    minutes at --receptive-field 100): refused, naming the largest useful radius and its
    layers."""
    assert largest_useful_radius((8, 5)) == 7
    assert pixelcnn_likelihood(7, BernoulliPixels(), (8, 5, 3)).network.num_layers == 7
    with pytest.raises(
        ValueError, match=r"radius 8, 8 layers\) reaches past 8x5 images: radius 7 "
    ):
        pixelcnn_likelihood(8, BernoulliPixels(), (8, 5, 3))


def test_bad_pixelcnn_configurations_raise():
    cond = ConvMap((4, 4), ((16,),))
    with pytest.raises(ValueError, match="receptive-field radius 4"):
        layers_for_radius(4, 5, 7)
    with pytest.raises(ValueError, match="odd and at least 3"):
        PixelCNN(cond, GatedPixelCNN(2, 2, 4), (3,), (4, 4, 1))
    with pytest.raises(ValueError, match="odd and at least 3"):
        receptive_field(2, 4)
    with pytest.raises(ValueError, match="at least one layer"):
        receptive_field(0)
    with pytest.raises(ValueError, match="out_channels=1"):
        PixelCNN(cond, GatedPixelCNN(1, 2), (3,), (4, 4, 1), LogisticPixels())
    with pytest.raises(ValueError, match="channels=4 must be a multiple of image_channels=3"):
        GatedPixelCNN(1, 4, image_channels=3)
    with pytest.raises(ValueError, match="set image_channels=3"):
        PixelCNN(cond, GatedPixelCNN(1, 6), (3,), (4, 4, 3))
    with pytest.raises(ValueError, match=r"event_shape \(H, W, C\); got \(4, 4\)"):
        PixelCNN(cond, GatedPixelCNN(1, 6), (3,), (4, 4))
    lik = pixelcnn_likelihood(1, BernoulliPixels(), (4, 4, 1))
    params = jax.eval_shape(lik.init, INIT_KEY)
    with pytest.raises(ValueError, match=r"x has shape \(2, 16\); .* \[B, H, W, C\]"):
        jax.eval_shape(lik.log_prob, params, jnp.zeros((2, 16)), (jnp.zeros((1, 2, 3)),))


def expected_support(field, height, width, colours):
    """``[i, j, c, i', j', c']``: output (i, j, c) reads input (i', j', c') exactly where
    (i' - i, j' - j) is in the field (any c') or (i', j') = (i, j) and c' < c."""
    support = np.zeros((height, width, colours) * 2, bool)
    for i in range(height):
        for j in range(width):
            for a, b in field:
                if 0 <= i + a < height and 0 <= j + b < width:
                    support[i, j, :, i + a, j + b, :] = True
            for c in range(colours):
                support[i, j, c, i, j, :c] = True
    return support


@pytest.mark.parametrize(
    "layers,kernel,first,size,colours",
    [(1, 3, None, 8, 1), (4, 5, 7, 12, 1), (1, 3, None, 6, 3), (2, 3, 5, 7, 3)],
)
def test_gradient_support_is_exactly_the_autoregressive_order(layers, kernel, first, size, colours):
    """d out(i, j, c, :) / d x(i', j', c') is nonzero exactly on the earlier pixels of the field
    and the earlier values c' < c of the pixel itself, for every output of an image (so at
    every border too): the P outputs of value c never see value c."""
    net = GatedPixelCNN(layers, 2 * colours, kernel, first, out_channels=2, image_channels=colours)
    rng = np.random.default_rng(layers * 10 + kernel + colours)
    x = jnp.asarray(rng.uniform(size=(size, size, colours)), jnp.float32)
    cond = jnp.asarray(rng.normal(size=(size, size, 3)), jnp.float32)
    params = jax.jit(net.init)(INIT_KEY, x, cond)
    jac = jax.jit(jax.jacrev(lambda im: net.apply(params, im, cond)))(x)  # [i, j, c, P, i', j', c']
    support = np.asarray(jnp.any(jac != 0, axis=3))
    field = receptive_field(layers, kernel, first)
    np.testing.assert_array_equal(support, expected_support(field, size, size, colours))


def grey(shape, seed):
    return jnp.asarray(np.floor(np.random.default_rng(seed).uniform(size=shape) * 256) / 256)


def normal(shape, seed):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def summary(a):
    """Sum, sum of squares, a cosine-weighted sum (order-sensitive) and the sum of |a|."""
    a = np.asarray(a, np.float64).ravel()
    return np.array([a.sum(), (a * a).sum(), (a * np.cos(np.arange(a.size))).sum(), abs(a).sum()])


def num_params(params):
    return len(jax.tree.leaves(params)), sum(math.prod(p.shape) for p in jax.tree.leaves(params))


def test_grey_network_is_unchanged():
    """With C = 1 the network has the parameters and outputs of the grey-level PixelCNN before
    colour (numbers saved from git 47feaa8 with the same key and inputs)."""
    numbers = [16.7307743, 17.0267715, -2.81132234, 37.4321972]
    x, cond = grey((2, 7, 6, 1), 1), normal((2, 7, 6, 3), 2)
    net = GatedPixelCNN(3, 4, 3, 5, out_channels=2)
    params = jax.jit(net.init)(INIT_KEY, x, cond)
    out = jax.jit(net.apply)(params, x, cond)
    assert out.shape == (2, 7, 6, 1, 2) and num_params(params) == (35, 1150)
    np.testing.assert_allclose(summary(out), numbers, rtol=1e-6, atol=1e-6 * numbers[3])


@pytest.mark.parametrize(
    "pixels,sizes,log_prob,sample,sample_log_prob",
    [
        (
            BernoulliPixels(),
            (29, 877),
            [-25.1580296, -25.1117573, -24.9074593, -25.1839619, -24.8449593, -24.7624626],
            [100.0, 100.0, 10.1912474, 100.0],
            [-24.6653175, -25.2112064, -24.8098507, -24.431181, -24.1446209, -24.5836411],
        ),
        (
            LogisticPixels(),
            (29, 882),
            [-245.452667, -254.085083, -251.587921, -245.667099, -252.681, -251.848114],
            [82.6289062, 71.8191071, -0.00417722895, 82.6289062],
            [-94.696907, -80.4380493, -74.0648346, -110.257095, -116.245819, -108.063049],
        ),
    ],
)
def test_grey_likelihood_is_unchanged(pixels, sizes, log_prob, sample, sample_log_prob):
    """C = 1: the same parameters, log-probabilities and draws (same key) as the likelihood
    before colour (numbers saved from git 47feaa8)."""
    lik = PixelCNN(
        ConvMap((6, 6), ((36,),)),
        GatedPixelCNN(2, 4, out_channels=pixels.channels),
        (3,),
        (6, 6, 1),
        pixels,
    )
    params = jax.jit(lik.init)(INIT_KEY)
    assert num_params(params) == sizes
    assert lik.data_kind == ("binary" if isinstance(pixels, BernoulliPixels) else "8bit")
    x = grey((3, 6, 6, 1), 3)
    x = (x > 0.5).astype(jnp.float32) if isinstance(pixels, BernoulliPixels) else x
    z = normal((2, 3, 3), 4)
    np.testing.assert_allclose(jax.jit(lik.log_prob)(params, x, (z,)).ravel(), log_prob, rtol=1e-6)
    drawn, drawn_log_p = jax.jit(lik.sample_with_log_prob)(params, jax.random.PRNGKey(5), (z,))
    assert drawn.shape == (2, 3, 6, 6, 1)
    np.testing.assert_allclose(summary(drawn), sample, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(drawn_log_p.ravel(), sample_log_prob, rtol=1e-6)


@pytest.mark.parametrize(
    "pixels,layers,shape,support",
    [
        (LogisticPixels(), 4, (5, 5, 1), jnp.arange(256) / 256),  # radius 4: the whole image
        (BernoulliPixels(), 2, (5, 4, 3), jnp.array([0.0, 1.0])),  # 3-row windows; R, G, B
    ],
)
def test_sampler_agrees_with_teacher_forcing(pixels, layers, shape, support):
    """The log-probability accumulated while sampling equals teacher forcing's, and the draws
    follow the teacher-forced conditionals: with m_i, s_i^2 the mean and variance of value i
    given the drawn prefix, the x_i - m_i are martingale increments, so over N images
    sum (x_i - m_i) / sqrt(sum s_i^2) is about N(0, 1). A sampler that read the wrong pixel,
    value, row or stack would drift. Both compile once."""
    lik = pixelcnn_likelihood(layers, pixels, shape)
    params = jax.jit(lik.init)(INIT_KEY)
    z = normal((20, 10, 3), 1)
    chex.clear_trace_counter()
    sampler = jax.jit(chex.assert_max_traces(lik.sample_with_log_prob, n=1))
    sampler(params, jax.random.PRNGKey(3), (z,))
    x, log_p = sampler(params, jax.random.PRNGKey(2), (z,))
    assert x.shape == (20, 10, *shape) and log_p.shape == (20, 10)
    assert bool(jnp.all(jnp.isin(x, support)))
    x, z = x.reshape(200, *shape), z.reshape(200, 3)

    def forced(params, x, z):  # log_prob [1, 200], and each value's conditional [200, ..., support]
        out = lik.outputs(params, x, (z,))
        probs = jnp.exp(pixels.log_prob(out[..., None, :], support))
        return lik.log_prob(params, x, (z[None],)), probs

    forced = jax.jit(chex.assert_max_traces(forced, n=1))
    forced_log_p, probs = forced(params, x, z)
    assert forced_log_p.shape == (1, 200)
    np.testing.assert_allclose(log_p.reshape(200), forced_log_p[0], rtol=1e-5)
    forced(params, x[::-1], z)  # no second trace
    np.testing.assert_allclose(jnp.sum(probs, axis=-1), 1.0, rtol=1e-4)
    mean = jnp.sum(probs * support, axis=-1)
    var = jnp.sum(probs * support**2, axis=-1) - mean**2
    assert float(jnp.mean(var)) > 1e-3  # the conditionals are not degenerate
    score = jnp.sum(x - mean) / jnp.sqrt(jnp.sum(var))
    assert abs(float(score)) < 4.0


SHAPE, Z = (12, 12, 1), 4
SMALL_CONVS = ((4, 3, 2), (2, 3, 1))  # 12x12 -> 6x6x2 = 72 features


def encoder(latent=Z, branches=(), joint=(), sizes=(SHAPE,)):
    module = ConvGaussian(latent, SMALL_CONVS, branches, joint)
    return GaussianPosterior(GaussianConditional(module, sizes, latent))


def pixel_hvae():
    """The PixelHVAE ladder: q(z2|x) q(z1|x,z2), p(z2) p(z1|z2) p(x|z1,z2), 8-bit pixels."""
    d = SHAPE[0] * SHAPE[1]
    p_x = PixelCNN(
        ConvMap(SHAPE, ((d,), (d,))),
        GatedPixelCNN(2, 4, out_channels=2),
        (Z, Z),
        SHAPE,
        LogisticPixels(),
    )
    p_z1 = GaussianConditional(GatedGaussian(((8,),), (), Z), (Z,), Z)
    q_z1 = encoder(Z, ((8,),), (8,), (SHAPE, Z))
    parts = ModelParts(
        latents=(
            Latent("z1", q_z1, (DATA, "z2"), "q_z1", p_z1, ("z2",), "p_z1"),
            Latent("z2", encoder(), (DATA,), "q_z2"),
        ),
        inference_order=("z2", "z1"),
        prior=StandardNormal(Z),
        likelihood=p_x,
        likelihood_parents=("z1", "z2"),
        likelihood_key="p_x",
    )
    return assemble(parts, SHAPE)


@pytest.fixture(scope="module")
def small_images() -> np.ndarray:
    """8 grey 12x12x1 blobs on the 1/256 grid."""
    rng = np.random.default_rng(0)
    centres = rng.uniform(3, 9, size=(8, 2))
    yy, xx = np.mgrid[0:12, 0:12]
    d2 = (yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2
    return (np.floor(np.exp(-d2 / 6.0) * 255) / 256)[..., None].astype(np.float32)


def test_pixel_hvae_trains_with_iwae_dreg_and_compile_once(small_images):
    model = pixel_hvae()
    optimizer = optax.adam(1e-3)
    step = make_train_step(model, optimizer, 5, bounds.iwae, "dreg")
    chex.clear_trace_counter()
    step = jax.jit(chex.assert_max_traces(step, n=1))
    key = jax.random.PRNGKey(0)
    state = init_state(INIT_KEY, model, optimizer)
    batch = jnp.asarray(small_images)
    losses = []
    for t in range(2):
        state, metrics = step(jax.random.fold_in(key, t), state, batch)
        losses.append(float(metrics["loss"]))
    assert np.isfinite(losses).all() and int(state.skipped) == 0
    images = jax.jit(model.sample, static_argnums=2)(state.params, key, 2)
    assert images.shape == (2, *SHAPE) and bool(jnp.all((images >= 0) & (images <= 1)))
