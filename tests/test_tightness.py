"""Bound tightness on the linear-Gaussian model with an imperfect q: the lecture's theorem,
E L_1 <= E L_K <= E L_M <= log p(x), checked against the exact log p(x); JVI reduces the bias;
reports and the ``jvae tightness`` subcommand."""

from __future__ import annotations

import argparse
import json

import jax
import numpy as np
import pytest

from jvae.cli import tightness as tightness_cli
from jvae.diagnostics import tightness
from jvae.diagnostics.nll import dataset_bound
from jvae.reports import tightness as tightness_report

KS = (1, 2, 5, 10, 20, 50, 100, 200, 400)


@pytest.fixture(scope="module")
def lg_sweep(tmp_path_factory):
    """One sweep (dense K <= 200, streamed K = 400) on 200 examples, an SNR at K = 50, and the
    written report; shared by the tests below (each jitted function compiles once)."""
    model, params = tightness.imperfect_linear_gaussian(jax.random.PRNGKey(3))
    x, exact = tightness.linear_gaussian_data(jax.random.PRNGKey(4), params, 200)
    sweep = tightness.bound_sweep(
        model,
        params,
        jax.random.PRNGKey(5),
        x,
        KS,
        chunk_size=100,
        batch_size=100,  # pinned: the draws (not their expectation) depend on the plan
        dense_max_k=200,
        exact_log_px=exact,
    )
    snr = tightness.snr_sweep(
        model,
        params,
        jax.random.PRNGKey(6),
        x[:8],
        ks=(50,),
        estimators=("reparam", "dreg"),
        num_draws=64,
    )
    outdir = tmp_path_factory.mktemp("tightness")
    paths = tightness_report.write_report({"title": "test", "sweep": sweep, "snr": snr}, outdir)
    return dict(model=model, params=params, x=x, sweep=sweep, snr=snr, paths=paths)


def _paired_se(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.std(a - b, ddof=1) / np.sqrt(a.size))


def test_bound_increases_with_k(lg_sweep):
    per_k = lg_sweep["sweep"]["per_example"]["L"]
    for k, m in zip(KS, KS[1:]):
        diff = float(np.mean(per_k[m] - per_k[k]))
        assert diff > -3.0 * _paired_se(per_k[m], per_k[k]) - 1e-4, (k, m, diff)
    # and strictly, by far, from K = 1 to the largest K
    assert np.mean(per_k[KS[-1]] - per_k[1]) > 1.0


def test_every_bound_below_exact_log_px_and_largest_gap_small(lg_sweep):
    rows = lg_sweep["sweep"]["rows"]
    for r in rows:
        assert r["true_gap"] > -3.0 * r["true_gap_stderr"] - 1e-4, r
    assert rows[0]["true_gap"] > 1.0  # q is far from the posterior: L_1 is loose ...
    assert rows[-1]["true_gap"] < 0.05 * rows[0]["true_gap"]  # ... L_400 is tight
    assert abs(rows[-1]["gap_to_best"]) < 1e-12  # L_Kmax is its own reference


def test_ess_between_one_and_k(lg_sweep):
    for r in lg_sweep["sweep"]["rows"]:
        if r["dense"]:
            assert 1.0 - 1e-5 <= r["ess_mean"] <= r["k"] + 1e-3
        else:
            assert r["ess_mean"] is None
    assert lg_sweep["sweep"]["rows"][0]["ess_mean"] == pytest.approx(1.0)


def test_jackknife_closer_to_log_px_than_iwae_at_same_k(lg_sweep):
    sweep = lg_sweep["sweep"]
    jvi, k = sweep["jvi"], sweep["jvi"]["k"]
    assert k == 200
    row = next(r for r in sweep["rows"] if r["k"] == k)
    assert row["true_gap"] > 3 * row["true_gap_stderr"]  # L_200 is still biased here
    for order in (1, 2):
        assert abs(jvi[f"order{order}"]["true_gap"]) < 0.5 * row["true_gap"], (order, jvi)


def test_dense_largest_k_equals_streamed_bound(lg_sweep):
    """The dense [K, B] path draws with the keys of streamed_iwae: same L_K."""
    sweep = lg_sweep["sweep"]
    key = jax.random.fold_in(jax.random.PRNGKey(5), 200)
    want = dataset_bound(
        lg_sweep["model"],
        lg_sweep["params"],
        key,
        lg_sweep["x"],
        200,
        batch_size=100,
        chunk_size=100,
    )
    np.testing.assert_allclose(sweep["per_example"]["L"][200], want, rtol=1e-5, atol=1e-4)


def test_snr_dreg_beats_reparam_on_the_encoder(lg_sweep):
    snr = lg_sweep["snr"]
    assert snr["encoder"]["dreg"][0] > 2 * snr["encoder"]["reparam"][0]
    # the decoder gradient is the same for both estimators (same keys)
    np.testing.assert_allclose(snr["decoder"]["dreg"], snr["decoder"]["reparam"], rtol=1e-4)


def test_report_files(lg_sweep):
    paths = lg_sweep["paths"]
    assert {"md", "json", "bound_plot", "snr_plot"} <= set(paths)
    for p in paths.values():
        assert p.exists() and p.stat().st_size > 0
    md = paths["md"].read_text()
    assert "| 400 |" in md and "JVI-2 (K=200)" in md and "exact log p(x)" in md
    assert "dreg" in md and "SNR" in md
    data = json.loads(paths["json"].read_text())
    assert [r["k"] for r in data["sweep"]["rows"]] == list(KS)
    assert "per_example" not in data["sweep"]


def test_grids():
    assert tightness.log_grid(5000)[-3:] == (1000, 2000, 5000)
    assert tightness.log_grid(30) == (1, 2, 5, 10, 20, 30)
    assert tightness.decades(100) == (1, 10, 100)


def test_cli_linear_gaussian(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    tightness_cli.add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "tightness",
            "--linear-gaussian",
            "--max-k",
            "20",
            "--test-subset",
            "30",
            "--snr-draws",
            "0",
            "--chunk-size",
            "8",
            "--quiet",
            "--out",
            str(tmp_path / "lg"),
        ]
    )
    assert tightness_cli.run(args) == 0
    assert "report in" in capsys.readouterr().out
    for name in ("tightness.md", "tightness.json", "bound_vs_k.png"):
        assert (tmp_path / "lg" / name).exists()
    rows = json.loads((tmp_path / "lg" / "tightness.json").read_text())["sweep"]["rows"]
    assert [r["k"] for r in rows] == [1, 2, 5, 10, 20]


def test_cli_errors(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    tightness_cli.add_parsers(parser.add_subparsers(dest="command"))
    assert tightness_cli.run(parser.parse_args(["tightness"])) == 2
    assert "--linear-gaussian" in capsys.readouterr().err
    missing = parser.parse_args(["tightness", "--workdir", str(tmp_path / "nope")])
    assert tightness_cli.run(missing) == 2
    assert "config.json" in capsys.readouterr().err


def test_cli_linear_gaussian_with_ais_and_bdmc(tmp_path):
    """``--ais-steps 10 --simulated 8``: AIS at T = 1 and 10 beside L_K, BDMC on 8 simulated
    examples; JSON, markdown and the AIS figure."""
    parser = argparse.ArgumentParser()
    tightness_cli.add_parsers(parser.add_subparsers(dest="command"))
    flags = (
        "tightness --linear-gaussian --max-k 20 --test-subset 16 --snr-draws 0 --chunk-size 8 "
        "--ais-steps 10 --ais-chains 4 --ais-examples 8 --simulated 8 --quiet --out"
    )
    args = parser.parse_args([*flags.split(), str(tmp_path)])
    assert tightness_cli.run(args) == 0
    data = json.loads((tmp_path / "tightness.json").read_text())
    assert [r["steps"] for r in data["ais"]["rows"]] == [1, 10]
    assert data["ais"]["num_examples"] == 8 and "per_example" not in data["ais"]
    assert [r["steps"] for r in data["bdmc"]["rows"]] == [1, 10]
    assert data["bdmc"]["iwae"]["k"] == 20
    for r in data["bdmc"]["rows"]:
        assert r["upper"] > r["lower"] - 3 * r["gap_stderr"]
    assert (tmp_path / "ais.png").stat().st_size > 0
    md = (tmp_path / "tightness.md").read_text()
    assert "Annealed importance sampling" in md and "Bidirectional Monte Carlo" in md


def test_cli_ais_flag_errors(capsys):
    parser = argparse.ArgumentParser()
    tightness_cli.add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["tightness", "--linear-gaussian", "--simulated", "5"])
    assert tightness_cli.run(args) == 2
    assert "--ais-steps with --simulated" in capsys.readouterr().err
