"""The VampPrior paper's table 2 (MNIST, L=2) beside ours: the rows (one run each), their JSON,
the markdown and the figures of each row."""

from __future__ import annotations

import json
import pathlib
import shutil
from typing import Any

from jvae.run.experiment import training_budget
from jvae.run.spec import RunSpec

# Tomczak & Welling 2018, table 2: test log-likelihood of HVAE (L=2) on dynamic MNIST.
PAPER = {"sg": -85.89, "mog": -85.07, "vamp-data": -85.71, "vamp": -83.19}
PRIOR_NAMES = {
    "sg": "standard normal",
    "mog": "mixture of Gaussians",
    "vamp-data": "VampPrior data",
    "vamp": "VampPrior",
}


def specs(config: dict[str, Any]) -> dict[str, RunSpec]:
    """``{row name: run}``: each row's fields over the preset's."""
    return {
        name: RunSpec.from_preset(config["preset"], **{**config["overrides"], **row})
        for name, row in config["rows"].items()
    }


def summarise(workdir: pathlib.Path, spec: RunSpec, result: dict[str, Any]) -> dict[str, Any]:
    """One row's JSON: evaluation, budget (passes, best epoch) and wall times."""
    stopping = workdir / "early_stopping.json"
    best = json.loads(stopping.read_text()) if stopping.exists() else {}
    return {
        "prior": spec.model.prior,
        "objective": spec.objective.name,
        "k": spec.objective.k,
        "estimator": spec.objective.estimator,
        "components": spec.model.components,
        "nll": result["nll"],
        "nll_k": result["nll_k"],
        "elbo": result["bounds"]["1"]["mean"],
        "bounds": result["bounds"],
        "active_units": result["active_units"],
        **training_budget(workdir),
        "best_epoch": best.get("best_epoch"),
        "stopped_at": best.get("stopped_at"),
        "best_valid_elbo": best.get("best_elbo"),
        "eval_seconds": result["eval_seconds"],
        "test_examples": result["test_examples"],
        "seed": spec.seed,
        "preset": spec.preset,
    }


def markdown(config: dict[str, Any], rows: dict[str, dict], machine: str) -> str:
    """The table of the finished ``rows`` (name -> JSON), in the config's order."""
    preset = config["preset"]
    rows = {name: rows[name] for name in config["rows"] if name in rows}
    lines = [
        f"# HVAE (L=2) priors on MNIST (Tomczak & Welling 2018, table 2), preset `{preset}`",
        "",
        "Test NLL in nats by importance sampling, test ELBO (L_1), active units of z1 + z2 (of",
        "40 + 40), passes run and the epoch kept (best validation ELBO), wall time. The paper",
        "trains up to 2,000 epochs with early stopping; its numbers are log-likelihoods, shown",
        f"here as NLL. Dynamically binarised MNIST, 50,000 training images. Machine: {machine}.",
        "",
        "| row | prior | objective | estimator | NLL | K | ELBO | active units | passes (kept) | "
        "train (min) | eval (min) | paper NLL |",
        "|" + " --- |" * 12,
    ]
    for name, r in rows.items():
        objective = "ELBO" if r["objective"] == "elbo" else f"IWAE k={r['k']}"
        paper = PAPER.get(r["prior"]) if r["objective"] == "elbo" else None
        lines.append(
            f"| {name} | {PRIOR_NAMES[r['prior']]} | {objective} | {r['estimator']} | "
            f"{r['nll']:.2f} | {r['nll_k']} | {r['elbo']:.2f} | "
            f"{'+'.join(map(str, r['active_units']))} | {r['passes']} ({r['best_epoch']}) | "
            f"{r['train_seconds'] / 60:.0f} | {r['eval_seconds'] / 60:.0f} | "
            f"{'–' if paper is None else f'{-paper:.2f}'} |"
        )
    return "\n".join(lines) + "\n"


def copy_figures(workdir: pathlib.Path, out: pathlib.Path, name: str) -> None:
    """The row's samples, reconstructions and pseudo-inputs, as ``out/<name>_<figure>.png``."""
    out.mkdir(parents=True, exist_ok=True)
    for figure in ("samples", "reconstructions", "pseudo_inputs"):
        path = workdir / f"{figure}.png"
        if path.exists():
            shutil.copyfile(path, out / f"{name}_{figure}.png")
