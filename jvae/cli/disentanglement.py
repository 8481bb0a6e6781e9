"""``jvae disentanglement``: the beta-VAE metric, the FactorVAE metric and MIG of a trained
run's posterior means on its dataset's ground-truth factors, optionally beside the baselines
(raw pixels, PCA, the untrained model) (:mod:`jvae.diagnostics.disentanglement`)."""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from collections.abc import Callable
from typing import Any

from jvae.cli.common import guarded

RESULTS_FILE = "disentanglement.json"
TABLE_FILE = "disentanglement.md"
FACTOR_DATASETS = ("dsprites",)


def factor_dataset(name: str, data_dir: str | None = None, grid: str = "grid") -> Any:
    """The exact factor sampler (a :class:`~jvae.data.factors.FactorDataset`) of dataset
    ``name``; ``ValueError`` for a dataset without ground-truth factors."""
    if name == "dsprites":
        from jvae.data.dsprites import dsprites_factors

        return dsprites_factors(data_dir, config=grid)
    raise ValueError(
        f"dataset {name!r} has no ground-truth factors; the disentanglement metrics need one of "
        f"{FACTOR_DATASETS} (train with --dataset dsprites)."
    )


def checkpoint_disentanglement(
    workdir: str | pathlib.Path,
    seed: int = 0,
    settings: dict[str, dict[str, Any]] | None = None,
    baselines: bool = False,
    data_dir: str | None = None,
    grid: str = "grid",
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The three metrics of a ``jvae train`` results folder's posterior means (first latent),
    keyed ``beta_vae_metric``, ``factor_vae_metric``, ``mig``, each with its settings, seed and
    seconds (``settings[name]`` holds a metric's keyword arguments); with ``baselines`` also
    ``baselines: {raw_pixels, pca, untrained: {metric: result}}``, PCA with as many components
    as the first latent has dimensions."""
    from jvae.diagnostics import disentanglement as dis
    from jvae.reports.disentanglement import metric_line
    from jvae.run.evaluate import load_run

    log = log or (lambda line: None)
    dis.check_settings(settings or {})
    spec, model, params = load_run(workdir)
    dataset = factor_dataset(spec.data.dataset, data_dir, grid)

    def scores(representation: dis.Representation, label: str) -> dict[str, Any]:
        out = {}
        for name, metric in dis.METRICS.items():
            out[name] = metric(seed, dataset, representation, **(settings or {}).get(name, {}))
            log(f"{label}: {metric_line(name, out[name])}")
        return out

    results: dict[str, Any] = {
        **scores(dis.posterior_mean_representation(model, params), "model"),
        "run": {"workdir": str(workdir), "dataset": spec.data.dataset, "grid": grid},
    }
    if baselines:
        representations = {
            "raw_pixels": dis.raw_pixels,
            "pca": dis.pca_representation(seed, dataset, model.latent_sizes[0]),
            "untrained": dis.untrained_representation(seed, model),
        }
        results["baselines"] = {
            name: scores(representation, name) for name, representation in representations.items()
        }
    return results


def add_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Adds ``jvae disentanglement`` to an ``argparse`` sub-parser collection."""
    p = subparsers.add_parser(
        "disentanglement",
        help="beta-VAE metric, FactorVAE metric and MIG of a run's posterior means",
        description="Disentanglement metrics of a results folder (best or latest checkpoint) on "
        f"its dataset's factors; writes WORKDIR/{RESULTS_FILE} and WORKDIR/{TABLE_FILE}. "
        "Defaults are disentanglement_lib's.",
    )
    p.add_argument("--workdir", required=True, help="results folder of `jvae train`")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="dataset folder (default: $JVAE_DATA_DIR or ../shared/data)")
    p.add_argument("--grid", default="grid", help="dSprites config with a full grid: grid, full")
    p.add_argument("--baselines", action="store_true", help="also raw pixels, PCA, untrained")
    p.add_argument("--batch-size", type=int, default=1024, help="images per encoder call")
    p.add_argument("--num-train", type=int, default=10_000, help="training points (beta/Factor)")
    p.add_argument("--num-eval", type=int, default=5_000, help="evaluation points (beta/Factor)")
    p.add_argument("--pairs", type=int, default=64, help="beta-VAE metric: pairs per point")
    p.add_argument("--l2", type=float, default=1e-4, help="beta-VAE metric: L2 penalty")
    p.add_argument("--max-steps", type=int, default=100, help="beta-VAE metric: L-BFGS steps")
    p.add_argument("--group-size", type=int, default=64, help="FactorVAE: images per vote")
    p.add_argument("--variance-points", type=int, default=10_000, help="FactorVAE: for the std")
    p.add_argument("--prune-threshold", type=float, default=0.05, help="FactorVAE: min std")
    p.add_argument("--mig-points", type=int, default=10_000, help="MIG: images")
    p.add_argument("--bins", type=int, default=20, help="MIG: bins per code dimension")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=run)
    return p


def settings_of(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Each metric's keyword arguments from the flags."""
    shared = dict(num_train=args.num_train, num_eval=args.num_eval, batch_size=args.batch_size)
    return {
        "beta_vae_metric": dict(shared, pairs=args.pairs, l2=args.l2, max_steps=args.max_steps),
        "factor_vae_metric": dict(
            shared,
            group_size=args.group_size,
            num_variance_estimate=args.variance_points,
            prune_threshold=args.prune_threshold,
        ),
        "mig": dict(num_points=args.mig_points, num_bins=args.bins, batch_size=args.batch_size),
    }


def run(args: argparse.Namespace) -> int:
    """Runs ``jvae disentanglement``; prints the scores. Exit status 0, or 2 on errors."""
    from jvae.diagnostics.disentanglement import METRICS
    from jvae.reports.disentanglement import metric_line, score_table

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    def go() -> int:
        workdir = pathlib.Path(args.workdir)
        results = checkpoint_disentanglement(
            workdir, args.seed, settings_of(args), args.baselines, args.data_dir, args.grid, log
        )
        (workdir / RESULTS_FILE).write_text(json.dumps(results, indent=1) + "\n")
        rows = {"model": {name: results[name] for name in METRICS}, **results.get("baselines", {})}
        table = score_table(rows)
        (workdir / TABLE_FILE).write_text(table + "\n")
        for name in METRICS:
            print(metric_line(name, results[name]))
        if args.baselines:
            print(table)
        print(f"results in {workdir / RESULTS_FILE}")
        return 0

    return guarded(go)
