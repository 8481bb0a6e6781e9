"""Compares training objectives and gradient estimators at the same k, seed and budget:
VAE, IWAE, IWAE-STL, IWAE-DReG, MIWAE, CIWAE, PIWAE (1 stochastic layer, MNIST).

    python experiments/bounds_mnist/main.py --preset smoke
    python experiments/bounds_mnist/main.py --preset cpu        # resumable: rerun to continue

Rainforth et al. 2018's choices: MIWAE and PIWAE with M groups of k/M, CIWAE with its mixing
weight beta. Each objective trains in its own folder under the preset's ``workdir``; the table
(test NLL, test ELBO, active units, wall times) and the figure of NLL against -ELBO, both
rewritten after each row, and one JSON per row go to the preset's ``results`` folder.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

if __package__ in (None, ""):  # run as a script: make `experiments` importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from experiments.bounds_mnist.configs import PRESETS, get_config  # noqa: E402
from experiments.bounds_mnist.figure import tradeoff  # noqa: E402
from jvae.reports.machine import describe  # noqa: E402
from jvae.run import experiment  # noqa: E402
from jvae.run.config import Config  # noqa: E402

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
    spec: dict,
    data_dir: str | None = None,
    root: pathlib.Path | None = None,
    only: tuple[str, ...] = (),
) -> str:
    """Every objective (or those in ``only``) under ``spec`` (a preset's config); returns the
    markdown table of the rows finished so far."""
    root = root or pathlib.Path.cwd()
    workdir, results = root / spec["workdir"], root / spec["results"]
    (results / "rows").mkdir(parents=True, exist_ok=True)
    lines, rows = [], {}
    for name, objective in OBJECTIVES.items():
        config = Config.from_preset(
            spec["preset"],
            k=spec["k"],
            groups=spec["groups"],
            beta=spec["ciwae_beta"],
            **objective,
            **spec["overrides"],
        )
        folder = workdir / name.lower()
        if only and name not in only and not (folder / "eval.json").exists():
            continue
        result = experiment.train_and_evaluate_once(config, folder, data_dir)
        row = {
            "objective": config.objective,
            "estimator": config.estimator,
            "k": config.k,
            "nll": result["nll"],
            "nll_k": result["nll_k"],
            "elbo": result["bounds"]["1"]["mean"],
            "active_units": result["active_units"],
            **experiment.training_budget(folder),
            "eval_seconds": result["eval_seconds"],
            "test_examples": result["test_examples"],
            "preset": spec["preset"],
        }
        (results / "rows" / f"{name.lower()}.json").write_text(json.dumps(row, indent=2))
        rows[name] = row
        tradeoff(rows, results / "nll_vs_elbo.png")
        lines.append(
            f"| {name} | `{row['objective']}` | `{row['estimator']}` | {row['nll']:.2f} | "
            f"{-row['elbo']:.2f} | {'+'.join(map(str, row['active_units']))} | "
            f"{row['passes']} | {row['train_seconds']:.0f} | {row['eval_seconds']:.0f} |"
        )
        header = [
            f"# Objectives and estimators at equal budget (MNIST, 1 layer), preset "
            f"`{spec['preset']}`",
            "",
            f"Training with k={spec['k']} samples per example (MIWAE/PIWAE M={spec['groups']} "
            f"groups of {spec['k'] // spec['groups']}, CIWAE beta={spec['ciwae_beta']}), batch "
            f"{config.batch_size}, seed {config.seed}; test NLL with K={row['nll_k']} on the "
            f"first {row['test_examples']} statically binarised test images. Machine: "
            f"{describe()}.",
            "",
            "| objective | bound | estimator | test NLL | -ELBO (L_1) | active units | passes | "
            "train (s) | eval (s) |",
            "|" + " --- |" * 9,
        ]
        experiment.write_table(results, header, lines)
    return (results / "table.md").read_text()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="smoke", choices=PRESETS)
    parser.add_argument("--only", nargs="+", default=(), choices=list(OBJECTIVES))
    parser.add_argument("--data-dir", help="dataset folder (default: ../shared/data)")
    args = parser.parse_args(argv)
    print(run_table(get_config(args.preset), args.data_dir, only=tuple(args.only)))


if __name__ == "__main__":
    main()
