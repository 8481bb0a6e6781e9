"""jvae's XLA options: they take effect, they change speed and not results, and they yield to
the user's own XLA_FLAGS and to other backends."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae import compiler
from jvae.diagnostics.nll import streamed_iwae
from jvae.models import iwae_mlp
from jvae.training.train import init_state, make_epoch, make_optimizer, make_train_step

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="CPU options")


def _dot_hlo(jit) -> str:
    a = jnp.ones((512, 200))
    b = jnp.ones((200, 784))
    return jit(lambda a, b: jnp.tanh(a @ b)).lower(a, b).compile().as_text()


def test_cpu_options_take_effect():
    assert compiler.compiler_options() == compiler.CPU_OPTIONS
    hlo = _dot_hlo(compiler.jit)
    assert "__ynn_fusion" not in hlo  # the product stays an XLA dot (Eigen)
    assert " dot(" in hlo


def test_user_xla_flags_and_other_backends_get_no_options(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=")
    assert compiler.compiler_options() == {}
    monkeypatch.delenv("XLA_FLAGS")
    assert compiler.compiler_options("gpu") == {}
    assert compiler.compiler_options("cpu") == compiler.CPU_OPTIONS


def test_training_and_evaluation_match_xla_defaults(grey_rows):
    """Same losses, parameters and bounds as ``jax.jit`` with XLA's defaults, to rounding."""
    model = iwae_mlp(1)
    opt = make_optimizer(4)
    state = init_state(jax.random.key(0), model, opt)
    x = (grey_rows[:200] > 0.5).astype(np.float32)
    epoch = make_epoch(make_train_step(model, opt, 5), 50)
    key = jax.random.key(1)
    (s_ours, m_ours), (s_xla, m_xla) = (
        jit(epoch)(key, state, jnp.asarray(grey_rows[:200])) for jit in (compiler.jit, jax.jit)
    )
    np.testing.assert_allclose(m_ours["loss"], m_xla["loss"], rtol=1e-5)
    # Four Adam steps of lr 1e-3 move each weight by up to 4e-3; the two compilations round
    # differently, and Adam's normalisation turns that into differences of about 1e-5 (up to
    # 5e-5 where a gradient is near 0), against steps of up to 4e-3.
    for a, b in zip(jax.tree.leaves(s_ours.params), jax.tree.leaves(s_xla.params), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)

    def bound(params, key, x):
        return streamed_iwae(lambda k, n: model.log_weights(params, k, x, n).total, key, 500, 100)

    ours, xla = (jit(bound)(s_ours.params, key, x) for jit in (compiler.jit, jax.jit))
    np.testing.assert_allclose(ours, xla, rtol=1e-5)
    assert np.all(np.isfinite(ours))


def _conv_vae(conv, transpose):
    """A small conv VAE on 8x8x1 images from the given convolution modules."""
    import flax.linen as nn

    from jvae.models import vae

    class Encoder(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.relu(conv(8, (3, 3), 2)(x)).reshape(x.shape[0], -1)
            return nn.Dense(4)(h), nn.Dense(4)(h)

    class Decoder(nn.Module):
        @nn.compact
        def __call__(self, z):
            h = nn.relu(nn.Dense(4 * 4 * 8)(z)).reshape(z.shape[0], 4, 4, 8)
            return transpose(1, (3, 3), 2)(h)

    return vae(Encoder(), Decoder(), event_shape=(8, 8, 1))


def test_epoch_warns_about_flax_convolutions_and_not_about_jvaes(recwarn):
    """Flax's Conv and ConvTranspose: their gradients (input and kernel of the encoder's conv,
    kernel of the decoder's transpose; the transpose's input gradient is a plain convolution)
    are not NHWC/HWIO, and tracing an epoch says so once, naming the fix. jvae.nn's: none."""
    import flax.linen as nn

    from jvae.nn import Conv, ConvTranspose

    models = {
        "flax": _conv_vae(
            lambda f, k, s: nn.Conv(f, k, s),
            lambda f, k, s: nn.ConvTranspose(f, k, (s, s), transpose_kernel=True),
        ),
        "jvae": _conv_vae(
            lambda f, k, s: Conv(f, k, s, "SAME"), lambda f, k, s: ConvTranspose(f, k, s, "SAME")
        ),
    }
    data = jnp.full((20, 8, 8, 1), 0.5)
    counts = {}
    for name, model in models.items():
        optimizer = make_optimizer(1e-3)
        step = make_train_step(model, optimizer, 2)
        state = init_state(jax.random.PRNGKey(0), model, optimizer)
        counts[name] = compiler.noncanonical_convolutions(
            step, jax.random.PRNGKey(1), state, data[:10]
        )
        jax.jit(make_epoch(step, 10)).lower(jax.random.PRNGKey(1), state, data)
    assert counts == {"flax": 3, "jvae": 0}
    warned = [w for w in recwarn if issubclass(w.category, compiler.SlowConvolutionWarning)]
    assert len(warned) == 1
    assert str(warned[0].message).startswith("3 convolutions of this step are not in NHWC/HWIO")
    assert "jvae.nn.Conv and jvae.nn.ConvTranspose" in str(warned[0].message)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(architecture="hvae", decoder="conv", likelihood="logistic"),
        dict(decoder="pixelcnn", receptive_field=2, pixelcnn_channels=8),
    ],
    ids=["hvae_conv_logistic", "pixelcnn"],
)
def test_bundled_conv_models_train_on_canonical_convolutions_only(kwargs):
    """Every convolution of the bundled conv models' training steps (forward and gradients,
    DReG's extra pass included) is NHWC/HWIO: none runs as a naive loop in the epoch's scan.
    (dSprites' conv nets, jvae.nn.dsprites, are matrix products: no convolution at all.)"""
    from jvae.models.build import build_model
    from jvae.models.spec import ModelSpec

    side = 28
    model = build_model(ModelSpec(**kwargs), (side, side, 1))
    optimizer = make_optimizer(1e-3)
    step = make_train_step(model, optimizer, 2, estimator="dreg")
    state = jax.eval_shape(lambda: init_state(jax.random.PRNGKey(0), model, optimizer))
    batch = jax.ShapeDtypeStruct((4, side, side, 1), jnp.float32)
    convolutions = jax.make_jaxpr(step)(jax.random.PRNGKey(1), state, batch).pretty_print()
    assert "conv_general_dilated" in convolutions
    assert compiler.noncanonical_convolutions(step, jax.random.PRNGKey(1), state, batch) == 0
