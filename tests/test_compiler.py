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
