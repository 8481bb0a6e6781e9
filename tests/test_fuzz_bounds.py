"""Property tests: every bound and weight function on log-weights with -inf, huge and tiny values.

Shapes come from a few buckets (K in {1, 3, 64}, B = 4) and one jitted function
evaluates every bound, its gradient and its DReG weights, so each shape compiles once.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jvae import bounds, estimators

SPECIAL = [-np.inf, 1e30, -1e30, 1e-30, -1e-30, 0.0, 1e4, -1e4]
KS, BS = (1, 3, 64), (4,)


def _bounds(k: int) -> dict:
    """name -> (bound, minimum number of finite entries per column for a finite value)."""
    m = {1: 1, 3: 3, 64: 8}[k]
    out = {
        "iwae": (bounds.iwae, 1),
        "elbo": (bounds.elbo, k),
        "miwae": (functools.partial(bounds.miwae, num_groups=m), None),
        "ciwae0": (functools.partial(bounds.ciwae, beta=0.0), 1),
        "ciwae": (functools.partial(bounds.ciwae, beta=0.3), k),
    }
    for a in (-1.0, 0.5, 1.0 - 1e-6):
        out[f"renyi{a}"] = (functools.partial(bounds.renyi, alpha=a), 1 if a < 1 else k)
    for order in (1, 2):
        if k > order:
            out[f"jackknife{order}"] = (functools.partial(bounds.jackknife, order=order), order + 1)
    return out


@functools.cache
def _evaluate(k: int):
    table = _bounds(k)

    @jax.jit
    def evaluate(lw: jax.Array) -> dict:
        out = {}
        for name, (fn, _) in table.items():
            out[name] = fn(lw)
            safe = lambda x, fn=fn: jnp.sum(jnp.where(jnp.isfinite(fn(x)), fn(x), 0.0))  # noqa: E731
            out[name + "/grad"] = jax.grad(safe)(lw)
            if not name.startswith("jackknife"):
                out[name + "/dreg"] = estimators.dreg_weights(fn, lw)
        out["weights"] = bounds.normalized_weights(lw)
        out["ess"] = bounds.effective_sample_size(lw)
        return out

    return table, evaluate


@st.composite
def log_weights(draw) -> np.ndarray:
    k, b = draw(st.sampled_from(KS)), draw(st.sampled_from(BS))
    values = st.one_of(
        st.sampled_from(SPECIAL), st.floats(-100.0, 100.0, width=32, allow_subnormal=False)
    )
    flat = draw(st.lists(values, min_size=k * b, max_size=k * b))
    return np.asarray(flat, np.float32).reshape(k, b)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(log_weights())
def test_bounds_finite_never_nan(lw):
    k, b = lw.shape
    table, evaluate = _evaluate(k)
    out = {name: np.asarray(v) for name, v in evaluate(jnp.asarray(lw)).items()}
    n_finite = np.isfinite(lw).sum(axis=0)
    for name, (fn, min_finite) in table.items():
        value = out[name]
        assert not np.any(np.isnan(value)), name
        if name == "miwae":
            m = fn.keywords["num_groups"]
            ok = np.isfinite(lw.reshape(m, k // m, b)).any(axis=1).all(axis=0)
        else:
            ok = n_finite >= min_finite
        assert np.all(np.isfinite(value[ok])), name
        assert np.all(value[n_finite == 0] == -np.inf), name
        if name.startswith("jackknife"):  # too few non-zero weights: falls back to L_K
            few = ~ok
            np.testing.assert_array_equal(value[few], out["iwae"][few], err_msg=name)
        elif name != "miwae":
            assert np.all(value[~ok] == -np.inf), name
        assert np.all(np.isfinite(out[name + "/grad"])), name
        if name + "/dreg" in out:
            assert np.all(np.isfinite(out[name + "/dreg"])), name
    has = n_finite > 0
    w = out["weights"]
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=0)[has], 1.0, rtol=1e-5)
    assert np.all(out["ess"][has] >= 1 - 1e-4) and np.all(out["ess"] <= k * (1 + 1e-5))
    # K = 1: IWAE is the ELBO, exactly.
    if k == 1:
        np.testing.assert_array_equal(out["iwae"], out["elbo"])
