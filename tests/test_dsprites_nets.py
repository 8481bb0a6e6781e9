"""The beta-VAE papers' dSprites networks: the strided (transposed) convolutions written as
matrix products equal XLA's convolution and its definition (float64 loops) and are each other's
adjoint; the models have the papers' layer sizes and [K, B] log-weights (the experiment's smoke
test, tests/test_experiments.py, trains them)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jvae.models.dsprites_vae import burgess_conv, higgins_mlp
from jvae.nn.dsprites import conv_stride2, conv_transpose_stride2
from jvae.run.spec import RunSpec


def _transpose_reference(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """PyTorch's ConvTranspose2d(kernel 4, stride 2, padding 1) by its definition:
    ``y[o] += x[i] w[k]`` for ``o = 2 i - 1 + k`` in both spatial axes (float64)."""
    n, h, wd, _ = x.shape
    y = np.zeros((n, 2 * h, 2 * wd, w.shape[-1]))
    for i in range(h):
        for j in range(wd):
            for k in range(4):
                for l in range(4):
                    o, p = 2 * i - 1 + k, 2 * j - 1 + l
                    if 0 <= o < 2 * h and 0 <= p < 2 * wd:
                        y[:, o, p] += x[:, i, j] @ w[k, l]
    return y


def test_strided_convolutions_match_xla_and_their_definition():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 8, 6, 3)).astype(np.float32)
    w = rng.normal(size=(4, 4, 3, 5)).astype(np.float32)
    want = jax.lax.conv_general_dilated(
        x, w, (2, 2), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    np.testing.assert_allclose(conv_stride2(jnp.asarray(x), jnp.asarray(w)), want, atol=1e-5)
    y = conv_transpose_stride2(jnp.asarray(x), jnp.asarray(w))
    assert y.shape == (2, 16, 12, 5)
    ref = _transpose_reference(x.astype(np.float64), w.astype(np.float64))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_the_transposed_convolution_is_the_adjoint():
    """<conv(x), y> = <x, conv^T(y)>: autodiff's pullback of the convolution is the transposed
    convolution with the kernel's channel axes swapped."""
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(2, 8, 8, 3)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(4, 4, 3, 5)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(2, 4, 4, 5)), jnp.float32)
    _, pullback = jax.vjp(lambda x: conv_stride2(x, w), x)
    (want,) = pullback(y)
    got = conv_transpose_stride2(y, jnp.swapaxes(w, 2, 3))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_models_have_the_papers_sizes_and_log_weights():
    x = jnp.zeros((3, 64, 64, 1))
    for build, sizes in (
        (higgins_mlp, {"q0": 4096 * 1200 + 1200 * 1200 + 2 * 1200 * 10}),
        (burgess_conv, {"q0": 16 * 32 + 3 * 16 * 32 * 32 + 512 * 256 + 256 * 256 + 256 * 20}),
    ):
        model = build()
        params = jax.eval_shape(model.init, jax.random.PRNGKey(0))
        kernels = [
            leaf.size for path, leaf in jax.tree_util.tree_leaves_with_path(params["encoder"])
            if "kernel" in jax.tree_util.keystr(path)
        ]  # fmt: skip
        assert sum(kernels) == sizes["q0"] and model.latent_sizes == (10,)
        log_weights = functools.partial(model.log_weights, num_samples=2)
        terms = jax.eval_shape(log_weights, params, jax.random.PRNGKey(1), x)
        assert [t.shape for t in terms] == [(2, 3)] * 3
    with pytest.raises(ValueError, match="reads 64x64 grey images"):
        burgess_conv(event_shape=(28, 28, 1))
    for options in (dict(layers=2), dict(posterior="iaf")):
        with pytest.raises(ValueError, match="fixed depth|one Gaussian latent"):
            RunSpec.from_preset("smoke", architecture="burgess-conv", **options)
