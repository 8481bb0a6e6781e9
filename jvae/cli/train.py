"""``jvae train`` and ``jvae evaluate``: train a model, then its test NLL, bounds, active units
and figures, in a results folder.

The run's flags are generated from the specs (:mod:`jvae.cli.flags`). Training is data
parallel over all devices. For several hosts start one process per host with ``--coordinator
HOST:PORT --num-processes N --process-id I`` (or ``--distributed`` to let JAX detect them from
the environment: ``JAX_COORDINATOR_ADDRESS``, SLURM, Open MPI, Cloud TPU).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from jvae.cli.common import guarded
from jvae.cli.flags import add_spec_flags, spec_from_args


def _add_distributed_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--coordinator", help="HOST:PORT of process 0 (multi-host training)")
    p.add_argument("--num-processes", type=int, help="number of processes (hosts)")
    p.add_argument("--process-id", type=int, help="this process's index, 0..N-1")
    p.add_argument(
        "--distributed", action="store_true", help="multi-host, detected from the environment"
    )


def add_parsers(subparsers: Any) -> None:
    """Adds ``train`` and ``evaluate`` to an ``argparse`` sub-parser collection."""
    p_train = subparsers.add_parser("train", help="train, then evaluate on the test set")
    add_spec_flags(p_train)
    p_train.add_argument(
        "--sweep",
        action="append",
        metavar="NAME=V1,V2,...",
        help="train one model per value side by side in one program (kl-weight, free-bits, "
        "capacity, capacity-gamma, seed); repeat for a grid; one folder per model in --workdir",
    )
    p_train.add_argument("--workdir", required=True, help="results folder")
    p_train.add_argument(
        "--data-dir", help="dataset folder (default: $JVAE_DATA_DIR or ../shared/data)"
    )
    p_train.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p_train.add_argument("--skip-eval", action="store_true")
    p_train.add_argument("--no-progress", action="store_true")
    _add_distributed_flags(p_train)
    p_train.set_defaults(handler=run)
    p_eval = subparsers.add_parser("evaluate", help="evaluate the checkpoint in a results folder")
    p_eval.add_argument("--workdir", required=True)
    p_eval.add_argument("--data-dir")
    p_eval.add_argument("--nll-k", type=int, help="override the run's K")
    p_eval.add_argument("--eval-memory-mb", type=int, help="memory budget of the evaluators")
    p_eval.add_argument("--no-progress", action="store_true")
    p_eval.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """``jvae train`` / ``jvae evaluate``; prints the test NLL; exit status."""

    def go() -> int:
        for line in evaluate_or_train(args):
            print(line)
        return 0

    return guarded(go)


def evaluate_or_train(args: argparse.Namespace) -> list[str]:
    """Runs ``train`` or ``evaluate``; returns the lines to print."""
    from jvae.run import experiment
    from jvae.run.evaluate import evaluate_run, load_run
    from jvae.run.train import load_arrays, train
    from jvae.training.sweep import member_name, parse_sweep

    progress = not args.no_progress
    if args.command == "evaluate":
        spec, model, params = load_run(args.workdir)
        evaluation = spec.eval
        spec = spec.replace(
            nll_k=args.nll_k or evaluation.nll_k,
            eval_memory_mb=args.eval_memory_mb or evaluation.eval_memory_mb,
        )
        arrays = load_arrays(spec, args.data_dir)
        result = evaluate_run(spec, args.workdir, model, params, arrays["test"], progress=progress)
        return [json.dumps({k: result[k] for k in ("nll", "nll_k", "active_units")})]
    spec = spec_from_args(args)
    sweep = parse_sweep(args.sweep) if args.sweep else None
    if sweep is not None and (args.coordinator or args.distributed):
        raise ValueError("--sweep trains on one device; drop the multi-host flags.")
    if args.coordinator or args.distributed:
        from jvae.training import parallel

        parallel.initialize(args.coordinator, args.num_processes, args.process_id)
    if args.skip_eval:
        train(spec, args.workdir, args.data_dir, args.resume, progress, sweep=sweep)
        return []
    results = experiment.train_and_evaluate(
        spec, args.workdir, args.data_dir, args.resume, progress, sweep
    )
    names = [""] if sweep is None else [f"{member_name(m)}: " for m in sweep]
    lines = [
        f"{name}test NLL (K={r['nll_k']}): {r['nll']:.2f} nats; active units "
        f"{'+'.join(map(str, r['active_units']))}"
        for name, r in zip(names, results)
    ]
    where = (
        "one folder per member; sweep.json lists them"
        if sweep
        else "summary.md, samples.png, reconstructions.png, metrics.jsonl, eval.json"
    )
    return [*lines, f"results in {args.workdir}/ ({where})"]
