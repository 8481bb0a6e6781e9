"""``jvae train | evaluate | tightness``: command-line entry points writing a results folder.

Training is data parallel over all devices. For several hosts start one process per host with
``--coordinator HOST:PORT --num-processes N --process-id I`` (or ``--distributed`` to let JAX
detect them from the environment: ``JAX_COORDINATOR_ADDRESS``, SLURM, Open MPI, Cloud TPU).
Errors in the flags or the data print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from jvae.config import BOUNDS, ESTIMATORS, MODELS, PRESETS, Config


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=MODELS, default="iwae", help="vae: ELBO; iwae: L_k")
    p.add_argument("--k", type=int, default=1, help="samples per example in training")
    p.add_argument("--layers", type=int, default=1, help="stochastic layers (1 or 2)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="smoke")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bound", choices=("", *BOUNDS), default="", help="overrides --model")
    p.add_argument("--estimator", choices=ESTIMATORS, default="reparam")
    p.add_argument("--groups", type=int, default=1, help="M for miwae/piwae")
    p.add_argument("--beta", type=float, default=0.5, help="ciwae mixing weight")
    p.add_argument("--alpha", type=float, default=0.5, help="renyi alpha")
    p.add_argument("--epochs", type=int, help="passes over the data (overrides the preset)")
    p.add_argument("--batch-size", type=int, help="overrides the preset")
    p.add_argument("--train-subset", type=int, help="first N training examples (0: all)")
    p.add_argument("--test-subset", type=int, help="first N test examples (0: all)")
    p.add_argument("--nll-k", type=int, help="K of the test NLL estimate (default 5000)")
    p.add_argument("--workdir", required=True, help="results folder")
    p.add_argument("--data-dir", help="dataset folder (default: $JVAE_DATA_DIR or ../shared/data)")
    p.add_argument("--sample-shards", type=int, help="devices sharing the K axis of the NLL")
    p.add_argument("--no-progress", action="store_true")


def _add_distributed_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--coordinator", help="HOST:PORT of process 0 (multi-host training)")
    p.add_argument("--num-processes", type=int, help="number of processes (hosts)")
    p.add_argument("--process-id", type=int, help="this process's index, 0..N-1")
    p.add_argument(
        "--distributed", action="store_true", help="multi-host, detected from the environment"
    )


def _initialize_distributed(args: argparse.Namespace) -> None:
    if args.coordinator or args.distributed:
        from jvae import parallel

        parallel.initialize(args.coordinator, args.num_processes, args.process_id)


def _config(args: argparse.Namespace) -> Config:
    return Config.from_preset(
        args.preset,
        model=args.model,
        k=args.k,
        layers=args.layers,
        seed=args.seed,
        bound=args.bound,
        estimator=args.estimator,
        groups=args.groups,
        beta=args.beta,
        alpha=args.alpha,
        epochs=args.epochs,
        batch_size=args.batch_size,
        train_subset=args.train_subset,
        test_subset=args.test_subset,
        nll_k=args.nll_k,
        sample_shards=args.sample_shards,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jvae", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train, then evaluate on the test set")
    _add_run_flags(p_train)
    p_train.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p_train.add_argument("--skip-eval", action="store_true")
    _add_distributed_flags(p_train)
    p_eval = sub.add_parser("evaluate", help="evaluate the checkpoint in a results folder")
    p_eval.add_argument("--workdir", required=True)
    p_eval.add_argument("--data-dir")
    p_eval.add_argument("--nll-k", type=int, help="override the config's K")
    p_eval.add_argument("--no-progress", action="store_true")
    from jvae import tightness

    tightness.add_parser(sub)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message
        return int(exit_.code or 0)
    if args.command == "tightness":
        return tightness.run(args)

    from jvae import experiment
    from jvae.data import DataError

    try:
        if args.command == "train":
            config = _config(args)
            _initialize_distributed(args)
            if args.skip_eval:
                experiment.train(
                    config, args.workdir, args.data_dir, args.resume, not args.no_progress
                )
                return 0
            result = experiment.train_and_evaluate(
                config, args.workdir, args.data_dir, args.resume, not args.no_progress
            )
        else:
            result = _evaluate(args, experiment)
    except (ValueError, DataError, FileNotFoundError, experiment.TrainingDiverged) as err:
        print(f"jvae: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(
        f"test NLL (K={result['nll_k']}): {result['nll']:.2f} nats; active units "
        f"{'+'.join(map(str, result['active_units']))}; results in {args.workdir}/ "
        "(summary.md, samples.png, reconstructions.png, metrics.jsonl, eval.json)"
    )
    return 0


def _evaluate(args: argparse.Namespace, experiment) -> dict:
    import dataclasses

    config, model, params = experiment.load_run(args.workdir)
    if args.nll_k:
        config = dataclasses.replace(config, nll_k=args.nll_k)
    arrays = experiment.load_data(config, args.data_dir)
    result = experiment.evaluate_run(
        config, args.workdir, model, params, arrays["test"], progress=not args.no_progress
    )
    print(json.dumps({k: result[k] for k in ("nll", "nll_k", "active_units")}))
    return result


if __name__ == "__main__":
    raise SystemExit(main())
