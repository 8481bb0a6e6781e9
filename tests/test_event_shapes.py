"""Batches of ``[B, *event_shape]``: the bundled datasets' models keep their numbers, and a
model checks every part's shapes against the data when it is built."""

from __future__ import annotations

import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae.components.conditionals import GaussianConditional
from jvae.components.likelihoods import Bernoulli
from jvae.components.posteriors import GaussianPosterior
from jvae.components.priors import StandardNormal
from jvae.models.build import build_model
from jvae.models.model import DATA, Latent, ModelParts, assemble
from jvae.models.spec import ModelSpec
from jvae.nn.mlp import BernoulliMLP, GaussianMLP

# Log-weights [3 terms, K=4, B=3] of each model for params from PRNGKey(1), draws from
# PRNGKey(2) and the stored x, computed with flattened [B, D] batches by commit 47feaa8
# (before event shapes), for images of 28x28 (MNIST, Omniglot) and 64x64 (dSprites).
BEFORE = pathlib.Path(__file__).parent / "data" / "log_weights_before_event_shapes.npz"
CASES = {
    "iwae_l1": dict(),
    "iwae_l2": dict(layers=2),
    "hvae_vamp": dict(architecture="hvae", prior="vamp", components=5),
    "iwae_iaf_mog": dict(posterior="iaf", prior="mog", components=3),
    "conv_bernoulli": dict(decoder="conv"),
    "conv_logistic": dict(decoder="conv", likelihood="logistic"),
    "pixelcnn": dict(decoder="pixelcnn", receptive_field=2, pixelcnn_channels=8),
    "hvae_conv": dict(architecture="hvae", decoder="conv"),
    "higgins": dict(architecture="higgins-mlp"),
    "burgess": dict(architecture="burgess-conv"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bundled_models_give_the_log_weights_of_flattened_batches(name: str) -> None:
    before = np.load(BEFORE)
    kwargs = CASES[name]
    side = 64 if kwargs.get("architecture", "").startswith(("higgins", "burgess")) else 28
    model = build_model(ModelSpec(**kwargs), (side, side, 1))
    params = model.init(jax.random.PRNGKey(1))
    x = before[f"{name}_x"].reshape(-1, side, side, 1)
    terms = model.log_weights(params, jax.random.PRNGKey(2), jnp.asarray(x), 4)
    got = np.stack([np.asarray(t) for t in terms])
    np.testing.assert_allclose(got, before[name], rtol=2e-6, atol=2e-4)


def _one_latent(encoder_input: object, decoder_shape: object, event_shape: tuple[int, ...]):
    posterior = GaussianPosterior(GaussianConditional(GaussianMLP((8,), 2), (encoder_input,), 2))
    likelihood = Bernoulli(BernoulliMLP((8,), 12), (2,), decoder_shape)
    parts = ModelParts(
        (Latent("z", posterior, (DATA,), "q"),), ("z",), StandardNormal(2), likelihood, ("z",), "p"
    )
    return assemble(parts, event_shape)


def test_a_vector_network_reads_an_image_flattened_and_gives_the_same_numbers() -> None:
    image = _one_latent(12, (2, 3, 2), (2, 3, 2))
    vector = _one_latent(12, 12, 12)
    params = image.init(jax.random.PRNGKey(0))
    x = (jax.random.uniform(jax.random.PRNGKey(1), (5, 12)) < 0.5).astype(jnp.float32)
    a = image.log_weights(params, jax.random.PRNGKey(2), x.reshape(5, 2, 3, 2), 3)
    b = vector.log_weights(params, jax.random.PRNGKey(2), x, 3)
    for got, want in zip(a, b):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert image.sample(params, jax.random.PRNGKey(3), 4).shape == (4, 2, 3, 2)
    assert image.reconstruct(params, jax.random.PRNGKey(3), x.reshape(5, 2, 3, 2)).shape == (
        5,
        2,
        3,
        2,
    )


@pytest.mark.parametrize(
    ("encoder_input", "decoder_shape", "message"),
    [
        (10, (2, 3, 2), "reads x of shape (10,), but the data have event shape (2, 3, 2)"),
        ((3, 2, 2), (2, 3, 2), "reads x of shape (3, 2, 2)"),
        (12, (3, 4), "models x of shape (3, 4), but the data have event shape (2, 3, 2)"),
    ],
)
def test_a_part_whose_shapes_do_not_fit_the_data_is_refused_in_one_line(
    encoder_input: object, decoder_shape: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        _one_latent(encoder_input, decoder_shape, (2, 3, 2))
    assert "\n" not in str(info.value)


class _WrongWidth(nn.Module):
    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        return nn.Dense(7)(z)


def test_a_decoder_of_the_wrong_output_size_is_named_when_the_model_is_built() -> None:
    posterior = GaussianPosterior(GaussianConditional(GaussianMLP((8,), 2), (12,), 2))
    parts = ModelParts(
        (Latent("z", posterior, (DATA,), "q"),),
        ("z",),
        StandardNormal(2),
        Bernoulli(_WrongWidth(), (2,), 12),
        ("z",),
        "p",
    )
    with pytest.raises(
        ValueError, match=r"the likelihood p\(x \| z\) fails .*gives \(7,\)"
    ) as info:
        assemble(parts, 12)
    assert "\n" not in str(info.value)
