"""Compares training objectives and gradient estimators at the same K, seed and budget:
VAE, IWAE, IWAE-STL, IWAE-DReG, MIWAE, CIWAE, PIWAE (1 stochastic layer, MNIST).

    python experiments/bounds_mnist/main.py --preset smoke --out results/bounds_smoke
    python experiments/bounds_mnist/main.py --preset cpu --k 10 --epochs 10 --out results/bounds

Writes one results folder per objective under ``--out`` and ``--out/table.md`` with the test
NLL (K = ``nll_k``), the test ELBO and L_k, and active units. Rainforth et al. 2018's choices:
MIWAE and PIWAE with M groups of k/M, CIWAE with its mixing weight beta (``--ciwae-beta``).
"""

from __future__ import annotations

import argparse
import json
import pathlib

from jvae.run import experiment
from jvae.run.config import Config

# name -> config overrides
OBJECTIVES = {
    "VAE": dict(model="vae"),
    "IWAE": dict(model="iwae"),
    "IWAE-STL": dict(model="iwae", estimator="stl"),
    "IWAE-DReG": dict(model="iwae", estimator="dreg"),
    "MIWAE": dict(bound="miwae"),
    "CIWAE": dict(bound="ciwae"),
    "PIWAE": dict(bound="piwae"),
}


def run_table(
    preset: str,
    out: pathlib.Path,
    k: int = 10,
    groups: int = 2,
    ciwae_beta: float = 0.5,
    seed: int = 0,
    names: list[str] | None = None,
    resume: bool = False,
    data_dir: str | None = None,
    **overrides,
) -> str:
    """Trains and evaluates each objective; returns the markdown table."""
    rows = []
    for name in names or list(OBJECTIVES):
        config = Config.from_preset(
            preset, k=k, groups=groups, beta=ciwae_beta, seed=seed, **OBJECTIVES[name], **overrides
        )
        workdir = out / name.lower()
        done = workdir / "eval.json"
        if resume and done.exists():
            result = json.loads(done.read_text())
        else:
            result = experiment.train_and_evaluate(config, workdir, data_dir, resume=resume)
        bounds = result["bounds"]
        rows.append(
            f"| {name} | `{config.objective}` | `{config.estimator}` | {result['nll']:.2f} | "
            f"{-bounds['1']['mean']:.2f} | {'+'.join(map(str, result['active_units']))} |"
        )
    header = [
        f"MNIST, 1 stochastic layer, k={k} in training (MIWAE/PIWAE M={groups}, CIWAE "
        f"beta={ciwae_beta}), preset `{preset}` ({config.epochs} passes, batch "
        f"{config.batch_size}), "
        f"seed {seed}; {result['test_examples']} test images.",
        "",
        f"| objective | bound | estimator | test NLL (K={config.nll_k}) | -ELBO (L_1) | "
        "active units |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    return experiment.write_table(out, header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="smoke", choices=("smoke", "cpu", "paper"))
    parser.add_argument("--out", default="results/bounds_mnist")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--ciwae-beta", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", choices=list(OBJECTIVES), help="a subset")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--test-subset", type=int)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    print(
        run_table(
            args.preset,
            pathlib.Path(args.out),
            args.k,
            args.groups,
            args.ciwae_beta,
            args.seed,
            args.only,
            args.resume,
            args.data_dir,
            epochs=args.epochs,
            test_subset=args.test_subset,
        )
    )


if __name__ == "__main__":
    main()
