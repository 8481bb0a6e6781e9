"""ELBO surgery: the chunked aggregate posterior, every term against float64 quadrature and
closed forms on 2-D latents, average KL = MI + marginal KL, 0 <= MI <= log N at both ends,
every prior, one compilation, 8-device sharding, and the ``jvae surgery`` and
``jvae posterior-figure`` commands."""

from __future__ import annotations

import functools
import json
import math
import os
import pathlib
import subprocess
import sys

import _workers
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from jvae import cli
from jvae.components.priors import GaussianMixture, StandardNormal, VampPrior
from jvae.diagnostics import surgery
from jvae.distributions import DiagGaussian, diag_gaussian_mixture_log_prob
from jvae.models import chain_vae, iwae_mlp, linear_gaussian
from jvae.run.spec import RunSpec
from jvae.run.train import build_model
from jvae.training.checkpoint import Checkpoints
from jvae.training.train import init_state, make_optimizer

TESTS = pathlib.Path(__file__).parent


def _np_log_normal(z: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """float64 ``log N(z; mean, diag scale^2)`` for ``z [G, D]`` and ``mean, scale [N, D]``,
    ``[N, G]``."""
    u = (z[None] - mean[:, None]) / scale[:, None]
    return np.sum(-0.5 * np.log(2 * np.pi) - np.log(scale[:, None]) - 0.5 * u**2, axis=-1)


def _quadrature(mean: np.ndarray, scale: np.ndarray, log_prior: np.ndarray, z: np.ndarray, cell):
    """Average KL, MI and marginal KL of the mixture of ``N(mean_i, scale_i^2)`` by the
    midpoint rule on grid points ``z [G, 2]`` with cell area ``cell``; ``log_prior [G]``."""
    log_qi = _np_log_normal(z, mean, scale)  # [N, G]
    log_agg = logsumexp(log_qi, axis=0) - np.log(len(mean))
    qi = np.exp(log_qi)
    avg_kl = np.mean(np.sum(qi * (log_qi - log_prior), axis=1)) * cell
    mi = np.mean(np.sum(qi * (log_qi - log_agg), axis=1)) * cell
    marginal = np.sum(np.exp(log_agg) * (log_agg - log_prior)) * cell
    return {"avg_kl": avg_kl, "mutual_info": mi, "marginal_kl": marginal}


def _grid(half: float, resolution: int) -> tuple[np.ndarray, float]:
    u = -half + (np.arange(resolution) + 0.5) * 2 * half / resolution
    zz = np.stack(np.meshgrid(u, u), -1).reshape(-1, 2)
    return zz, (2 * half / resolution) ** 2


@functools.cache
def _lg_problem(n: int = 30):
    """Linear-Gaussian model (2-D latent), an offset and narrowed q, ``n`` examples (built once:
    eager set-up compiles op by op)."""
    model = linear_gaussian.model(data_dim=4, latent=2)
    params = model.init(jax.random.PRNGKey(0))
    enc = params["encoder"]
    params = {
        **params,
        "encoder": {**enc, "c": enc["c"] + 0.4, "log_scale": enc["log_scale"] - 0.3},
    }
    x = np.asarray(linear_gaussian.sample_data(jax.random.PRNGKey(1), params, n))
    return model, params, x


def sharded_case() -> dict:
    """The surgery of :func:`_lg_problem` on whatever devices there are (all of them)."""
    model, params, x = _lg_problem(40)
    result = surgery.elbo_surgery(
        model, params, jax.random.PRNGKey(2), x, 4, batch_size=16, chunk_size=7, analytic_kl=True
    )
    return {**result, "device_count": jax.device_count()}


@pytest.mark.parametrize("chunk_size", [1, 5, 37, 100])
def test_chunked_aggregate_equals_one_mixture(chunk_size):
    kz, km, ks = jax.random.split(jax.random.PRNGKey(0), 3)
    z = 2.0 * jax.random.normal(kz, (3, 5, 3))
    q = DiagGaussian(jax.random.normal(km, (37, 3)), 0.5 * jax.random.normal(ks, (37, 3)))
    chunked = jax.jit(surgery.aggregate_log_density, static_argnums=2)(z, q, chunk_size)
    whole = diag_gaussian_mixture_log_prob(z, q.mean, q.log_scale, jnp.full(37, -math.log(37)))
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-5)
    flat = np.asarray(z, np.float64).reshape(-1, 3)
    comps = _np_log_normal(flat, np.asarray(q.mean, np.float64), np.exp(np.asarray(q.log_scale)))
    reference = logsumexp(comps, axis=0) - np.log(37)
    np.testing.assert_allclose(np.asarray(chunked).ravel(), reference, rtol=1e-5, atol=1e-4)


def test_terms_match_quadrature_and_closed_forms_on_linear_gaussian():
    model, params, x = _lg_problem()
    result = surgery.elbo_surgery(
        model, params, jax.random.PRNGKey(3), x, 64, batch_size=16, chunk_size=8, analytic_kl=True
    )
    q = model.posterior_distribution(params, x)
    mean, scale = np.asarray(q.mean, np.float64), np.exp(np.asarray(q.log_scale, np.float64))
    x = np.asarray(x, np.float64)
    z, cell = _grid(7.0, 300)
    exact = _quadrature(mean, scale, -0.5 * np.sum(z**2 + np.log(2 * np.pi), axis=1), z, cell)
    dec = jax.tree.map(lambda a: np.asarray(a, np.float64), params["decoder"])
    w, s2 = dec["W"], np.exp(2 * dec["log_s"])
    residual = np.sum((x - mean @ w.T - dec["b"]) ** 2, axis=1) + np.sum(w**2 @ scale.T**2, axis=0)
    exact["reconstruction"] = np.mean(
        -0.5 * x.shape[1] * np.log(2 * np.pi * s2) - residual / (2 * s2)
    )
    exact["elbo"] = exact["reconstruction"] - exact["avg_kl"]
    se = result["stderr"]
    assert se["avg_kl"] == 0.0  # closed form
    for key, value in exact.items():
        assert abs(result[key] - value) < 4 * se[key] + 2e-3, (key, result[key], value, se[key])
    assert se["mutual_info"] < 0.05 and se["marginal_kl"] < 0.05  # the check has teeth
    assert exact["marginal_kl"] > 0.2 and 0.5 < exact["mutual_info"] < math.log(30) - 0.5
    assert abs(result["identity_gap"]) < 4 * se["identity_gap"]
    assert result["avg_kl"] == pytest.approx(result["mutual_info"] + result["marginal_kl"], abs=0.1)
    assert result["n"] == 30 and result["log_n"] == pytest.approx(math.log(30))


def test_mutual_information_at_its_bounds():
    model, params, x = _lg_problem(24)
    evaluate = surgery.make_surgery_evaluator(model, 8, chunk_size=7, analytic_kl=True)

    def run(p):
        draws = evaluate(p, jax.random.PRNGKey(4), x, model.posterior_distribution(p, x))
        return surgery.summarize(draws, math.log(24)), draws

    enc = params["encoder"]
    # q ignores x: every q(z|x_i) is q(z), so I = 0 and the marginal KL is all of the KL.
    blind, _ = run({**params, "encoder": {**enc, "A": jnp.zeros_like(enc["A"])}})
    assert abs(blind["mutual_info"]) < 1e-5
    assert abs(blind["marginal_kl"] - blind["avg_kl"]) < 4 * blind["stderr"]["marginal_kl"]
    # Tiny posteriors far apart: q(i|z) is one-hot, I = log N (float32 holds it: the squared
    # distances are not expanded into matrix products).
    sharp_enc = {**enc, "A": 10 * enc["A"], "log_scale": enc["log_scale"] - 6}
    sharp, _ = run({**params, "encoder": sharp_enc})
    assert sharp["mutual_info"] == pytest.approx(math.log(24), abs=1e-3)
    # Draw by draw, log q(z|x_i) - log q(z) <= log N: component i is in the mixture.
    middle, draws = run(params)
    mi_terms = draws.log_posterior - draws.log_aggregate
    assert float(jnp.max(mi_terms)) <= math.log(24) + 1e-5
    assert float(jnp.min(mi_terms)) < 0.0 < middle["mutual_info"] < math.log(24) - 0.5


@pytest.mark.parametrize("prior_name", ["sg", "mog", "vamp"])
def test_every_prior_matches_quadrature(prior_name):
    prior = {
        "sg": StandardNormal(2),
        "mog": GaussianMixture(2, 3),
        "vamp": VampPrior(2, 4, 16),
    }[prior_name]
    model = chain_vae((4, 4, 1), [((8,), 2)], prior)
    params = model.init(jax.random.PRNGKey(6))
    x = (np.random.default_rng(0).uniform(size=(24, 4, 4, 1)) < 0.4).astype(np.float32)
    result = surgery.elbo_surgery(model, params, jax.random.PRNGKey(7), x, 32, chunk_size=10)
    assert result["analytic_kl"] == (prior_name == "sg")
    q = model.posterior_distribution(params, jnp.asarray(x))
    z, cell = _grid(9.0, 300)
    log_prior = np.asarray(model.log_prior(params, jnp.asarray(z, jnp.float32)), np.float64)
    mean, scale = np.asarray(q.mean, np.float64), np.exp(np.asarray(q.log_scale, np.float64))
    exact = _quadrature(mean, scale, log_prior, z, cell)
    se = result["stderr"]
    for key, value in exact.items():
        assert abs(result[key] - value) < 4 * se[key] + 2e-3, (key, result[key], value, se[key])
    if prior_name != "sg":  # Monte Carlo KL: the identity holds draw by draw
        assert abs(result["identity_gap"]) < 1e-4


def test_evaluator_compiles_once_and_refuses_other_models():
    model, params, x = _lg_problem(24)
    evaluate = surgery.make_surgery_evaluator(model, 2, chunk_size=5)
    q = model.posterior_distribution(params, x)
    for j in range(3):
        evaluate(params, jax.random.PRNGKey(j), x[8 * j : 8 * j + 8], q)
    assert evaluate._cache_size() == 1
    with pytest.raises(ValueError, match="one stochastic layer.*2 \\(z1, z2\\)"):
        surgery.elbo_surgery(iwae_mlp(2, 16), None, jax.random.PRNGKey(0), x, 2)
    with pytest.raises(ValueError, match="num_samples >= 2"):
        surgery.elbo_surgery(model, params, jax.random.PRNGKey(0), x, 1)
    with pytest.raises(ValueError, match=r"shape \[B, 4\]"):
        surgery.elbo_surgery(model, params, jax.random.PRNGKey(0), x[:, :3], 2)


def test_eight_devices_agree_with_one():
    """Rows sharded over 8 fake CPU devices: the same draws (partitionable keys) and the same
    estimates as one device."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count=8 {_workers.FAST_XLA}"
    code = (
        f"import json, sys; sys.path.insert(0, {str(TESTS)!r}); import test_surgery; "
        "print(json.dumps(test_surgery.sharded_case()))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sharded = json.loads(proc.stdout.strip().splitlines()[-1])
    single = sharded_case()
    assert sharded["device_count"] == 8 and sharded["devices"] == 8 and single["devices"] == 1
    for key in surgery.TERMS:
        assert sharded[key] == pytest.approx(single[key], abs=1e-4), key
        assert sharded["stderr"][key] == pytest.approx(single["stderr"][key], abs=1e-4), key


def _results_folder(path: pathlib.Path, checkpoint: bool = True, **overrides) -> pathlib.Path:
    """A `jvae train` results folder holding an untrained model (config and a checkpoint)."""
    config = RunSpec.from_preset("smoke", model="vae", **overrides)
    path.mkdir(parents=True)
    (path / "config.json").write_text(config.to_json())
    if checkpoint:
        model = build_model(config)
        state = jax.jit(lambda key: init_state(key, model, make_optimizer(1)))(
            jax.random.PRNGKey(0)
        )
        checkpoints = Checkpoints(path / "checkpoints")
        checkpoints.save(0, state)
        checkpoints.close()
    return path


@pytest.fixture
def tiny_data(monkeypatch, grey_data):
    arrays = {"train": grey_data[:60], "test": (grey_data[400:410] > 0.5).astype(np.float32)}
    monkeypatch.setattr("jvae.run.train.load_arrays", lambda spec, data_dir=None: arrays)
    return arrays


def test_surgery_and_figure_commands(tmp_path, tiny_data, capsys):
    run = _results_folder(tmp_path / "run2d", latent_size=2)
    assert cli.main(["surgery", "--workdir", str(run), "--n", "50", "--chunk-size", "16"]) == 0
    out = capsys.readouterr().out
    assert "ELBO = reconstruction - MI - marginal KL" in out
    saved = json.loads((run / "surgery.json").read_text())
    for key in ("elbo", "reconstruction", "avg_kl", "mutual_info", "marginal_kl", "log_n"):
        assert math.isfinite(saved[key])
    assert set(surgery.TERMS) <= set(saved["stderr"])
    assert saved["n"] == 50 and saved["log_n"] == pytest.approx(math.log(50))
    assert saved["elbo"] == pytest.approx(
        saved["reconstruction"] - saved["mutual_info"] - saved["marginal_kl"],
        abs=4 * saved["stderr"]["identity_gap"] + 1e-6,
    )
    argv = ["posterior-figure", "--workdir", str(run), "--images", "2", "--resolution", "10"]
    assert cli.main([*argv, "--inner", "8", "--ks", "1", "3"]) == 0
    assert (run / "posterior_qew.png").stat().st_size > 1000
    capsys.readouterr()

    deep = _results_folder(tmp_path / "run_l2", checkpoint=False, layers=2)  # refused first
    assert cli.main(["posterior-figure", "--workdir", str(deep)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "2-D latent" in err
    assert cli.main(["surgery", "--workdir", str(deep)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "one stochastic layer" in err
    assert cli.main(["surgery", "--workdir", str(run), "--n", "61"]) == 2
    assert "--n must lie in 1..60" in capsys.readouterr().err
