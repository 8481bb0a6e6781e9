"""The objectives at equal budget: the rows (one run per objective), their JSON and the
markdown table."""

from __future__ import annotations

import pathlib
from typing import Any

from jvae.run.experiment import training_budget
from jvae.run.spec import RunSpec

# name -> the objective's fields; its row (folder and JSON) is the name in lower case.
OBJECTIVES = {
    "VAE": dict(model="vae"),
    "IWAE": dict(model="iwae"),
    "IWAE-STL": dict(model="iwae", estimator="stl"),
    "IWAE-DReG": dict(model="iwae", estimator="dreg"),
    "MIWAE": dict(bound="miwae"),
    "CIWAE": dict(bound="ciwae"),
    "PIWAE": dict(bound="piwae"),
}
NAMES = {name.lower(): name for name in OBJECTIVES}


def specs(config: dict[str, Any]) -> dict[str, RunSpec]:
    """``{row name: run}``: every objective at the preset's k, groups and CIWAE beta."""
    return {
        name.lower(): RunSpec.from_preset(
            config["preset"],
            k=config["k"],
            groups=config["groups"],
            ciwae_beta=config["ciwae_beta"],
            **objective,
            **config["overrides"],
        )
        for name, objective in OBJECTIVES.items()
    }


def summarise(workdir: pathlib.Path, spec: RunSpec, result: dict[str, Any]) -> dict[str, Any]:
    """One row's JSON: the objective, the evaluation, the budget and the wall times."""
    return {
        "objective": spec.objective.name,
        "estimator": spec.objective.estimator,
        "k": spec.objective.k,
        "nll": result["nll"],
        "nll_k": result["nll_k"],
        "elbo": result["bounds"]["1"]["mean"],
        "active_units": result["active_units"],
        **training_budget(workdir),
        "eval_seconds": result["eval_seconds"],
        "test_examples": result["test_examples"],
        "preset": spec.preset,
    }


def markdown(config: dict[str, Any], rows: dict[str, dict], machine: str) -> str:
    """The table of the finished ``rows`` (name -> JSON), in the objectives' order."""
    spec = specs(config)["vae"]
    finished = [(NAMES[name], rows[name]) for name in NAMES if name in rows]
    last = finished[-1][1]
    lines = [
        f"# Objectives and estimators at equal budget (MNIST, 1 layer), preset "
        f"`{config['preset']}`",
        "",
        f"Training with k={config['k']} samples per example (MIWAE/PIWAE M={config['groups']} "
        f"groups of {config['k'] // config['groups']}, CIWAE beta={config['ciwae_beta']}), batch "
        f"{spec.train.batch_size}, seed {spec.seed}; test NLL with K={last['nll_k']} on the "
        f"first {last['test_examples']} statically binarised test images. Machine: {machine}.",
        "",
        "| objective | bound | estimator | test NLL | -ELBO (L_1) | active units | passes | "
        "train (s) | eval (s) |",
        "|" + " --- |" * 9,
    ]
    for name, row in finished:
        lines.append(
            f"| {name} | `{row['objective']}` | `{row['estimator']}` | {row['nll']:.2f} | "
            f"{-row['elbo']:.2f} | {'+'.join(map(str, row['active_units']))} | "
            f"{row['passes']} | {row['train_seconds']:.0f} | {row['eval_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"
