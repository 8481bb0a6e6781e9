"""PixelCNN decoder: exact receptive field (closed form and autodiff), sampling that agrees with
teacher forcing and draws from the model's conditionals, and VAEs with the new decoders training
under IWAE (K=5) + DReG with one compilation."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jvae import bounds
from jvae.components.conditionals import GaussianConditional
from jvae.components.likelihoods import Bernoulli, DiscretizedLogistic, PixelCNN
from jvae.components.pixels import BernoulliPixels, LogisticPixels
from jvae.components.posteriors import GaussianPosterior
from jvae.components.priors import StandardNormal
from jvae.models.conv_models import image_decoder
from jvae.models.model import DATA, Latent, ModelParts, assemble
from jvae.nn.conv import ConvBernoulli, ConvGaussian, ConvLogistic, ConvMap
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


def test_a_field_beyond_the_image_is_refused_where_the_decoder_is_built():
    """A radius past max(H, W) - 1 builds layers that see nothing new (and used to compile for
    minutes at --receptive-field 100): refused, naming the largest useful value."""
    assert largest_useful_radius((28, 28)) == 27
    decoder = image_decoder("pixelcnn", "bernoulli", (4,), (28, 28), receptive_field=27)
    assert decoder.network.num_layers == 27
    with pytest.raises(
        ValueError, match=r"^receptive_field=28 exceeds the largest useful value 27"
    ):
        image_decoder("pixelcnn", "bernoulli", (4,), (28, 28), receptive_field=28)
    with pytest.raises(ValueError, match="receptive_field=100 .* value 7 for 8x5 images"):
        image_decoder("pixelcnn", "logistic", (4,), (8, 5), receptive_field=100)


def test_bad_pixelcnn_configurations_raise():
    with pytest.raises(ValueError, match="receptive-field radius 4"):
        layers_for_radius(4, 5, 7)
    with pytest.raises(ValueError, match="odd and at least 3"):
        PixelCNN(ConvMap((4, 4), ((16,),)), GatedPixelCNN(2, 2, 4), (3,), (4, 4))
    with pytest.raises(ValueError, match="odd and at least 3"):
        receptive_field(2, 4)
    with pytest.raises(ValueError, match="at least one layer"):
        receptive_field(0)
    with pytest.raises(ValueError, match="out_channels=1"):
        PixelCNN(ConvMap((4, 4), ((16,),)), GatedPixelCNN(1, 2), (3,), (4, 4), LogisticPixels())


@pytest.mark.parametrize("layers,kernel,first", CONFIGS)
def test_gradient_support_is_exactly_the_receptive_field(layers, kernel, first):
    """d out(i, j) / d x(i', j') is nonzero exactly where (i' - i, j' - j) is in the field,
    for every output pixel of a 12x12 image (so at every border too)."""
    size = 12
    net = GatedPixelCNN(layers, 4, kernel, first, out_channels=2)
    rng = np.random.default_rng(layers * 10 + kernel)
    x = jnp.asarray(rng.uniform(size=(size, size, 1)), jnp.float32)
    cond = jnp.asarray(rng.normal(size=(size, size, 3)), jnp.float32)
    params = net.init(INIT_KEY, x, cond)
    jac = jax.jacrev(lambda im: net.apply(params, im[..., None], cond))(x[..., 0])
    support = np.asarray(jnp.any(jac != 0, axis=2))  # [i, j, i', j']
    field = receptive_field(layers, kernel, first)
    expected = np.zeros_like(support)
    for i in range(size):
        for j in range(size):
            for a, b in field:
                if 0 <= i + a < size and 0 <= j + b < size:
                    expected[i, j, i + a, j + b] = True
    np.testing.assert_array_equal(support, expected)


def pixelcnn_likelihood(layers, pixels, shape=(8, 8), latent=3, channels=8):
    d = shape[0] * shape[1]
    net = GatedPixelCNN(layers, channels, out_channels=pixels.channels)
    return PixelCNN(ConvMap(shape, ((2 * d,),)), net, (latent,), shape, pixels)


@pytest.mark.parametrize(
    "pixels,layers,support",
    [
        (BernoulliPixels(), 2, jnp.array([0.0, 1.0])),  # radius 2: samples on 3-row windows
        (LogisticPixels(), 9, jnp.arange(256) / 256),  # radius 9 > 8 rows: the whole image
    ],
)
def test_sampler_agrees_with_teacher_forcing(pixels, layers, support):
    """The log-probability accumulated while sampling equals teacher forcing's, and the draws
    follow the teacher-forced conditionals: with m_i, s_i^2 the mean and variance of pixel i
    given the drawn prefix, the x_i - m_i are martingale increments, so over N images
    sum (x_i - m_i) / sqrt(sum s_i^2) is about N(0, 1). A sampler that read the wrong pixel,
    row or stack would drift."""
    lik = pixelcnn_likelihood(layers, pixels)
    params = lik.init(INIT_KEY)
    z = jnp.asarray(np.random.default_rng(1).normal(size=(20, 10, 3)), jnp.float32)
    chex.clear_trace_counter()
    sampler = jax.jit(chex.assert_max_traces(lik.sample_with_log_prob, n=1))
    sampler(params, jax.random.PRNGKey(3), (z,))
    x, log_p = sampler(params, jax.random.PRNGKey(2), (z,))
    assert x.shape == (20, 10, 64) and log_p.shape == (20, 10)
    assert bool(jnp.all(jnp.isin(x, support)))
    x, z = x.reshape(200, 64), z.reshape(200, 3)
    forced = jax.jit(lik.log_prob)(params, x, (z[None],))
    np.testing.assert_allclose(log_p.reshape(200), forced[0], rtol=1e-5)

    image = x.reshape(200, 8, 8, 1)

    @jax.jit
    def conditionals(params, image, z):  # [200, 8, 8, support]
        out = lik.network.apply({"params": params["network"]}, image, lik.condition(params, (z,)))
        return jnp.exp(pixels.log_prob(out[..., None, :], support))

    probs = conditionals(params, image, z)
    np.testing.assert_allclose(jnp.sum(probs, axis=-1), 1.0, rtol=1e-4)
    mean = jnp.sum(probs * support, axis=-1)
    var = jnp.sum(probs * support**2, axis=-1) - mean**2
    assert float(jnp.mean(var)) > 1e-3  # the conditionals are not degenerate
    score = jnp.sum(image[..., 0] - mean) / jnp.sqrt(jnp.sum(var))
    assert abs(float(score)) < 4.0


@pytest.fixture(scope="module")
def small_images() -> np.ndarray:
    """24 grey 12x12 blobs on the 1/256 grid."""
    rng = np.random.default_rng(0)
    centres = rng.uniform(3, 9, size=(24, 2))
    yy, xx = np.mgrid[0:12, 0:12]
    d2 = (yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2
    return (np.floor(np.exp(-d2 / 6.0) * 255) / 256).reshape(24, 144).astype(np.float32)


SHAPE, D, Z = (12, 12), 144, 4
SMALL_CONVS = ((4, 3, 2), (2, 3, 1))  # 12x12 -> 6x6x2 = 72 features


def encoder(latent=Z, branches=(), joint=(), sizes=(D,)):
    module = ConvGaussian(SHAPE, latent, SMALL_CONVS, branches, joint)
    return GaussianPosterior(GaussianConditional(module, sizes, latent))


def one_layer(likelihood):
    parts = ModelParts(
        latents=(Latent("z", encoder(), (DATA,), "q_z"),),
        inference_order=("z",),
        prior=StandardNormal(Z),
        likelihood=likelihood,
        likelihood_parents=("z",),
        likelihood_key="p_x",
    )
    return assemble(parts, D, SHAPE)


def pixel_hvae():
    """The PixelHVAE ladder: q(z2|x) q(z1|x,z2), p(z2) p(z1|z2) p(x|z1,z2), 8-bit pixels."""
    p_x = PixelCNN(
        ConvMap(SHAPE, ((D,), (D,))),
        GatedPixelCNN(2, 4, out_channels=2),
        (Z, Z),
        SHAPE,
        LogisticPixels(),
    )
    p_z1 = GaussianConditional(GatedGaussian(((8,),), (), Z), (Z,), Z)
    parts = ModelParts(
        latents=(
            Latent(
                "z1", encoder(Z, ((8,),), (8,), (D, Z)), (DATA, "z2"), "q_z1", p_z1, ("z2",), "p_z1"
            ),
            Latent("z2", encoder(), (DATA,), "q_z2"),
        ),
        inference_order=("z2", "z1"),
        prior=StandardNormal(Z),
        likelihood=p_x,
        likelihood_parents=("z1", "z2"),
        likelihood_key="p_x",
    )
    return assemble(parts, D, SHAPE)


def conv_bernoulli():
    return one_layer(Bernoulli(ConvBernoulli(SHAPE, ((D,),), (), ((4, 3, 1),)), (Z,), D))


def conv_logistic():
    return one_layer(DiscretizedLogistic(ConvLogistic(SHAPE, ((D,),), (), ((4, 3, 1),)), (Z,), D))


def pixelcnn_bernoulli():
    return one_layer(PixelCNN(ConvMap(SHAPE, ((D,),)), GatedPixelCNN(2, 4), (Z,), SHAPE))


# builder, and whether the batch is binarised (8-bit likelihoods see the grey levels)
MODELS = {
    "conv_bernoulli": (conv_bernoulli, True),
    "conv_logistic": (conv_logistic, False),
    "pixelcnn_bernoulli": (pixelcnn_bernoulli, True),
    "pixel_hvae_logistic": (pixel_hvae, False),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_new_decoders_train_with_iwae_dreg_and_compile_once(name, small_images):
    build, binarize = MODELS[name]
    model = build()
    optimizer = optax.adam(1e-3)
    step = make_train_step(model, optimizer, 5, bounds.iwae, "dreg", binarize=binarize)
    chex.clear_trace_counter()
    step = jax.jit(chex.assert_max_traces(step, n=1))
    key = jax.random.PRNGKey(0)
    state = init_state(INIT_KEY, model, optimizer)
    batch = jnp.asarray(small_images[:8])
    losses = []
    for t in range(2):
        state, metrics = step(jax.random.fold_in(key, t), state, batch)
        losses.append(float(metrics["loss"]))
    assert np.isfinite(losses).all() and int(state.skipped) == 0
    images = jax.jit(model.sample, static_argnums=2)(state.params, key, 2)
    assert images.shape == (2, D) and bool(jnp.all((images >= 0) & (images <= 1)))
