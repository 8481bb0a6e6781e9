"""``jvae tightness``: the bound-tightness report for a results folder or the linear-Gaussian
oracle (:mod:`jvae.diagnostics.tightness`, :mod:`jvae.reports.tightness`)."""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import jax

from jvae.cli.common import guarded
from jvae.diagnostics.ais import AISOptions
from jvae.diagnostics.annealed import annealing_report, linear_gaussian_report
from jvae.diagnostics.tightness import bound_sweep, decades, log_grid, snr_sweep
from jvae.reports.tightness import write_report


def checkpoint_report(
    workdir: str | pathlib.Path,
    rng_key: jax.Array,
    data_dir: str | None = None,
    num_examples: int = 500,
    max_k: int = 5000,
    snr_draws: int = 100,
    snr_batch: int = 8,
    snr_max_k: int = 100,
    chunk_size: int = 500,
    dense_max_k: int = 1000,
    log: Callable[[str], None] | None = None,
    ais_steps: int = 0,
    ais_options: AISOptions | None = None,
    ais_examples: int = 100,
    simulated: int = 0,
) -> dict[str, Any]:
    """Sweep and SNR for a results folder of ``jvae train`` (latest checkpoint, test images).

    Uses the first ``num_examples`` statically binarised test images (default 500, enough for
    standard errors of about 0.5 nats on the mean; the gaps are paired and much tighter).
    With ``ais_steps``, AIS on the first ``ais_examples`` of them and, with ``simulated``,
    BDMC on that many simulated images (:func:`jvae.diagnostics.annealed.annealing_report`).
    """
    from jvae.run.evaluate import load_run
    from jvae.run.train import load_arrays

    workdir = pathlib.Path(workdir)
    spec, model, params = load_run(workdir)
    test = load_arrays(spec, data_dir)["test"]
    if num_examples:
        test = test[:num_examples]
    k_sweep, k_snr = jax.random.split(rng_key)
    sweep = bound_sweep(
        model, params, k_sweep, test, log_grid(max_k), chunk_size, dense_max_k=dense_max_k, log=log
    )
    snr = None
    if snr_draws:
        snr = snr_sweep(
            model, params, k_snr, test[:snr_batch], decades(snr_max_k), num_draws=snr_draws, log=log
        )
    annealing = {}
    if ais_steps:
        annealing = annealing_report(
            model,
            params,
            jax.random.fold_in(rng_key, 1),
            test,
            sweep,
            ais_steps,
            ais_options,
            num_examples=ais_examples,
            simulated=simulated,
            log=log,
        )
    return {
        **annealing,
        "title": f"{spec.objective.model.upper()} k={spec.objective.k}, {spec.model.layers} "
        f"layer(s) ({workdir.name})",
        "setup": [
            f"checkpoint {workdir}; bound `{spec.objective.name}`, estimator "
            f"`{spec.objective.estimator}`, preset `{spec.preset}`; first {len(test)} binarised "
            "test images.",
        ],
        "sweep": sweep,
        "snr": snr,
    }


def add_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Adds ``jvae tightness`` to an ``argparse`` sub-parser collection."""
    p = subparsers.add_parser(
        "tightness",
        help="L_K vs K, gap to the best estimate and JVI, ESS, gradient SNR",
        description="Bound-tightness report for a results folder (latest checkpoint, first "
        "--test-subset test images, default 500) or, with --linear-gaussian, for a "
        "linear-Gaussian model with a deliberately imperfect q (exact log p(x) known).",
    )
    p.add_argument("--workdir", help="results folder of `jvae train` (config.json, checkpoints/)")
    p.add_argument("--linear-gaussian", action="store_true", help="closed-form test model")
    p.add_argument("--max-k", type=int, default=5000, help="largest K of the 1-2-5 grid")
    p.add_argument("--test-subset", type=int, default=500, help="examples in the sweep")
    p.add_argument("--snr-draws", type=int, default=100, help="gradient draws (0: no SNR)")
    p.add_argument("--snr-batch", type=int, help="examples in the SNR batch (8; 16 for LG)")
    p.add_argument("--snr-max-k", type=int, help="largest K of the SNR (100; 1000 for LG)")
    p.add_argument("--dense-max-k", type=int, default=1000, help="largest K with ESS/JVI")
    p.add_argument("--chunk-size", type=int, default=500, help="draws per chunk")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="dataset folder (default: $JVAE_DATA_DIR or ../shared/data)")
    p.add_argument("--out", help="output folder (default: WORKDIR/tightness, or ./tightness-lg)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument(
        "--ais-steps", type=int, default=0, help="largest T of AIS at T = 1, 10, ... (0: none)"
    )
    p.add_argument("--ais-chains", type=int, default=16, help="AIS chains per example")
    p.add_argument("--ais-examples", type=int, default=100, help="examples AIS runs on")
    p.add_argument("--ais-init", choices=("posterior", "prior"), default="posterior")
    p.add_argument("--ais-schedule", choices=("sigmoid", "linear"), default="sigmoid")
    p.add_argument("--ais-leapfrog", type=int, default=10, help="leapfrog steps per HMC move")
    p.add_argument("--simulated", type=int, default=0, help="BDMC on N simulated examples")
    p.set_defaults(handler=run)
    return p


def _annealing_args(args: argparse.Namespace) -> dict[str, Any]:
    """The AIS/BDMC keyword arguments of the report functions, from the flags."""
    if args.ais_steps < 0 or args.simulated < 0 or (args.simulated and not args.ais_steps):
        raise ValueError(
            "need --ais-steps >= 0, --simulated >= 0, and --ais-steps with --simulated."
        )
    if not args.ais_steps:
        return {}
    options = AISOptions(
        num_chains=args.ais_chains,
        schedule=args.ais_schedule,
        init=args.ais_init,
        leapfrog_steps=args.ais_leapfrog,
    )
    options.check()
    return dict(
        ais_steps=args.ais_steps,
        ais_options=options,
        ais_examples=args.ais_examples,
        simulated=args.simulated,
    )


def run(args: argparse.Namespace) -> int:
    """Runs ``jvae tightness``; prints where the report went. Exit status 0, or 2 on errors."""

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    def go() -> int:
        if not args.linear_gaussian and not args.workdir:
            raise ValueError(
                "give --workdir RUN (a `jvae train` results folder) or --linear-gaussian."
            )
        if args.max_k < 1 or args.test_subset < 2 or args.snr_draws == 1:
            raise ValueError("need --max-k >= 1, --test-subset >= 2 and --snr-draws 0 or >= 2.")
        key = jax.random.PRNGKey(args.seed)
        common = dict(
            num_examples=args.test_subset,
            max_k=args.max_k,
            snr_draws=args.snr_draws,
            chunk_size=args.chunk_size,
            dense_max_k=args.dense_max_k,
            log=log,
            **_annealing_args(args),
        )
        if args.linear_gaussian:
            out = pathlib.Path(args.out or "tightness-lg")
            results = linear_gaussian_report(
                key, snr_batch=args.snr_batch or 16, snr_max_k=args.snr_max_k or 1000, **common
            )
        else:
            out = pathlib.Path(args.out or pathlib.Path(args.workdir) / "tightness")
            results = checkpoint_report(
                args.workdir,
                key,
                args.data_dir,
                snr_batch=args.snr_batch or 8,
                snr_max_k=args.snr_max_k or 100,
                **common,
            )
        paths = write_report(results, out)
        best = results["sweep"]["best"]
        print(
            f"L_{best['k']} = {best['mean']:.3f} ± {best['stderr']:.3f}; report in "
            f"{paths['md']} ({', '.join(p.name for p in paths.values())})"
        )
        return 0

    return guarded(go)
