"""``jvae train`` and ``jvae evaluate``: train a model, then its test NLL, bounds, active units
and figures, in a results folder.

Training is data parallel over all devices. For several hosts start one process per host with
``--coordinator HOST:PORT --num-processes N --process-id I`` (or ``--distributed`` to let JAX
detect them from the environment: ``JAX_COORDINATOR_ADDRESS``, SLURM, Open MPI, Cloud TPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from jvae.cli.common import guarded
from jvae.models.conv_models import DECODERS, LIKELIHOODS
from jvae.run.config import (
    ARCHITECTURES,
    BOUNDS,
    DATASETS,
    DECODER_BIASES,
    ESTIMATORS,
    LR_SCHEDULES,
    MODELS,
    POSTERIORS,
    PRESETS,
    PRIORS,
    Config,
)


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=MODELS, default="iwae", help="vae: ELBO; iwae: L_k")
    p.add_argument("--k", type=int, default=1, help="samples per example in training")
    p.add_argument("--architecture", choices=ARCHITECTURES, help="iwae chain or hvae ladder")
    p.add_argument("--layers", type=int, default=1, help="stochastic layers of iwae (1 or 2)")
    p.add_argument("--latent-size", type=int, help="latent dimension of the 1-layer iwae model")
    p.add_argument("--prior", choices=PRIORS, help="sg, mog, vamp, vamp-data, af (default sg)")
    p.add_argument("--posterior", choices=POSTERIORS, help="gaussian (default) or iaf")
    p.add_argument("--flow-steps", type=int, help="steps of the IAF posterior / AF prior (2)")
    p.add_argument("--decoder", choices=DECODERS, help="mlp (default), conv or pixelcnn")
    p.add_argument("--likelihood", choices=LIKELIHOODS, help="bernoulli (default) or logistic")
    p.add_argument(
        "--decoder-bias", choices=DECODER_BIASES, help="zero (default) or data_mean logits"
    )
    p.add_argument("--receptive-field", type=int, help="PixelCNN radius in pixels (6)")
    p.add_argument("--pixelcnn-channels", type=int, help="PixelCNN channels (32)")
    p.add_argument("--components", type=int, help="mixture components / pseudo-inputs (500)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="smoke")
    p.add_argument("--dataset", choices=DATASETS, help="default mnist")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bound", choices=("", *BOUNDS), default="", help="overrides --model")
    p.add_argument("--estimator", choices=ESTIMATORS, default="reparam")
    p.add_argument("--groups", type=int, default=1, help="M for miwae/piwae")
    p.add_argument("--ciwae-beta", type=float, default=0.5, help="ciwae mixing weight")
    p.add_argument("--alpha", type=float, default=0.5, help="renyi alpha")
    p.add_argument("--epochs", type=int, help="passes over the data (overrides the preset)")
    p.add_argument("--batch-size", type=int, help="overrides the preset")
    p.add_argument("--learning-rate", type=float, help="Adam's base learning rate")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, help="paper (IWAE) or constant")
    p.add_argument("--kl-warmup", type=int, help="steps of linear KL warm-up from 0 to 1")
    p.add_argument("--kl-cycles", type=int, help="cyclical KL annealing: cycles in --kl-warmup")
    p.add_argument("--kl-weight", type=float, help="beta-VAE weight of the KL (ELBO: analytic)")
    p.add_argument("--free-bits", type=float, help="free bits: lambda nats per group of latents")
    p.add_argument("--free-bits-groups", type=int, help="free-bits groups (0: one per latent)")
    p.add_argument("--capacity", type=float, help="controlled capacity: C_max nats")
    p.add_argument("--capacity-steps", type=int, help="steps to raise C from 0 to C_max")
    p.add_argument("--capacity-gamma", type=float, help="controlled capacity: gamma (1000)")
    p.add_argument(
        "--sweep",
        action="append",
        metavar="NAME=V1,V2,...",
        help="train one model per value side by side in one program (kl-weight, free-bits, "
        "capacity, capacity-gamma, seed); repeat for a grid; one folder per model in --workdir",
    )
    p.add_argument("--validation", type=int, help="training images held out for model choice")
    p.add_argument("--patience", type=int, help="early stopping: epochs without improvement")
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


def add_parsers(subparsers: Any) -> None:
    """Adds ``train`` and ``evaluate`` to an ``argparse`` sub-parser collection."""
    p_train = subparsers.add_parser("train", help="train, then evaluate on the test set")
    _add_run_flags(p_train)
    p_train.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p_train.add_argument("--skip-eval", action="store_true")
    _add_distributed_flags(p_train)
    p_train.set_defaults(handler=run)
    p_eval = subparsers.add_parser("evaluate", help="evaluate the checkpoint in a results folder")
    p_eval.add_argument("--workdir", required=True)
    p_eval.add_argument("--data-dir")
    p_eval.add_argument("--nll-k", type=int, help="override the config's K")
    p_eval.add_argument("--no-progress", action="store_true")
    p_eval.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> Config:
    """The :class:`Config` of ``jvae train``'s flags (unset flags take the preset's values)."""
    return Config.from_preset(
        args.preset,
        model=args.model,
        k=args.k,
        architecture=args.architecture,
        layers=args.layers,
        latent_size=args.latent_size,
        prior=args.prior,
        posterior=args.posterior,
        flow_steps=args.flow_steps,
        decoder=args.decoder,
        likelihood=args.likelihood,
        receptive_field=args.receptive_field,
        pixelcnn_channels=args.pixelcnn_channels,
        components=args.components,
        dataset=args.dataset,
        seed=args.seed,
        bound=args.bound,
        estimator=args.estimator,
        groups=args.groups,
        beta=args.ciwae_beta,
        alpha=args.alpha,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        lr_schedule=args.lr_schedule,
        decoder_bias=args.decoder_bias,
        kl_warmup=args.kl_warmup,
        kl_cycles=args.kl_cycles,
        kl_weight=args.kl_weight,
        free_bits=args.free_bits,
        free_bits_groups=args.free_bits_groups,
        capacity=args.capacity,
        capacity_steps=args.capacity_steps,
        capacity_gamma=args.capacity_gamma,
        validation=args.validation,
        patience=args.patience,
        train_subset=args.train_subset,
        test_subset=args.test_subset,
        nll_k=args.nll_k,
        sample_shards=args.sample_shards,
    )


def run(args: argparse.Namespace) -> int:
    """``jvae train`` / ``jvae evaluate``; prints the test NLL; exit status."""

    def go() -> int:
        result = evaluate_or_train(args)
        if result is not None:
            print(
                f"test NLL (K={result['nll_k']}): {result['nll']:.2f} nats; active units "
                f"{'+'.join(map(str, result['active_units']))}; results in {args.workdir}/ "
                "(summary.md, samples.png, reconstructions.png, metrics.jsonl, eval.json)"
            )
        return 0

    return guarded(go)


def evaluate_or_train(args: argparse.Namespace) -> dict[str, Any] | None:
    """Runs ``train`` or ``evaluate``; returns the evaluation (``None`` with --skip-eval)."""
    from jvae.run import experiment

    if args.command == "evaluate":
        config, model, params = experiment.load_run(args.workdir)
        if args.nll_k:
            config = dataclasses.replace(config, nll_k=args.nll_k)
        arrays = experiment.load_data(config, args.data_dir)
        result = experiment.evaluate_run(
            config, args.workdir, model, params, arrays["test"], progress=not args.no_progress
        )
        print(json.dumps({k: result[k] for k in ("nll", "nll_k", "active_units")}))
        return result
    config = config_from_args(args)
    if args.sweep:
        return _sweep(args, config)
    if args.coordinator or args.distributed:
        from jvae.training import parallel

        parallel.initialize(args.coordinator, args.num_processes, args.process_id)
    if args.skip_eval:
        experiment.train(config, args.workdir, args.data_dir, args.resume, not args.no_progress)
        return None
    return experiment.train_and_evaluate(
        config, args.workdir, args.data_dir, args.resume, not args.no_progress
    )


def _sweep(args: argparse.Namespace, config: Config) -> None:
    """``jvae train --sweep ...``: every member trained in one program, then evaluated; prints
    one line per member."""
    from jvae.run import sweep
    from jvae.training.sweep import member_name, parse_sweep

    if args.coordinator or args.distributed:
        raise ValueError("--sweep trains on one device; drop the multi-host flags.")
    members = parse_sweep(args.sweep)
    sweep.member_configs(config, members)
    progress = not args.no_progress
    if args.skip_eval:
        sweep.train_sweep(config, members, args.workdir, args.data_dir, args.resume, progress)
        return None
    results = sweep.train_and_evaluate_sweep(
        config, members, args.workdir, args.data_dir, args.resume, progress
    )
    for values, result in zip(members, results):
        print(
            f"{member_name(values)}: test NLL (K={result['nll_k']}) {result['nll']:.2f} nats; "
            f"active units {'+'.join(map(str, result['active_units']))}"
        )
    print(f"results in {args.workdir}/<member>/ (one folder per member; sweep.json lists them)")
    return None
