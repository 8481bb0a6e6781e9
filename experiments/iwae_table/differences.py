"""The worth of each difference between the IWAE paper's code and jvae (``paper_code.md``),
measured: the paper run's model (1 layer, k=1, data-mean output bias, batch 20, the paper's
schedule) trained as it is and with one difference changed at a time, several seeds each.

    python -m experiments.iwae_table.differences --preset smoke
    python -m experiments.iwae_table.differences --preset cpu     # resumable: rerun to continue

A preset's ``differences`` config gives the shared run (``base``: RunSpec fields), the
``variants`` (name -> the fields that differ from it), the ``seeds`` of each variant and the
``base_seeds`` of the base (more of them show the seed-to-seed spread). Every (variant, seed)
trains in its own folder (:mod:`experiments.runner`); ``<results>/differences/table.md`` gives
each variant's test NLL per seed, its mean, and its difference from the base variant, seed by
seed (the same seed shares initialisation and data order).
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from experiments import runner
from experiments.iwae_table.configs import PRESETS, get_config
from jvae.run.experiment import training_budget
from jvae.run.spec import RunSpec

BASE = "base"


def specs(config: dict[str, Any]) -> dict[str, RunSpec]:
    """``{'<variant>/seed<s>': run}`` of the preset's ``differences``."""
    diff = config["differences"]
    return {
        f"{name}/seed{seed}": RunSpec.from_preset(
            config["preset"], **{**diff["base"], **fields, "seed": seed}
        )
        for name, fields in {BASE: {}, **diff["variants"]}.items()
        for seed in (diff["base_seeds"] if name == BASE else diff["seeds"])
    }


def summarise(workdir: pathlib.Path, spec: RunSpec, result: dict[str, Any]) -> dict[str, Any]:
    """One run's JSON: the fields it was trained with, its test NLL, ELBO and budget."""
    return {
        "seed": spec.seed,
        "mnist_scale": spec.data.mnist_scale,
        "adam_b1": spec.train.adam_b1,
        "adam_eps": spec.train.adam_eps,
        "nll": result["nll"],
        "nll_k": result["nll_k"],
        "elbo": result["bounds"]["1"]["mean"],
        "active_units": result["active_units"],
        **training_budget(workdir),
        "batch_size": spec.train.batch_size,
        "eval_seconds": result["eval_seconds"],
        "preset": spec.preset,
    }


def markdown(config: dict[str, Any], rows: dict[str, dict], machine: str) -> str:
    """Each variant's NLL by seed, its mean and its paired difference from the base."""
    diff = config["differences"]
    seeds = diff["base_seeds"]
    variants = {BASE: "as jvae's paper run", **diff["labels"]}
    base = {s: rows.get(f"{BASE}/seed{s}") for s in seeds}
    head = ["variant", *(f"NLL seed {s}" for s in seeds), "mean", "minus base (per seed)"]
    any_row = next(iter(rows.values()))
    lines = [
        f"# What each difference from the IWAE paper's code is worth (preset `{config['preset']}`)",
        "",
        f"The paper run's model ({diff['summary']}), trained {any_row['passes']} passes at "
        f"batch {any_row['batch_size']} on the paper's schedule and evaluated with "
        f"K={any_row['nll_k']} on the test set, once as jvae's paper run is and once with each "
        "difference from yburda/iwae changed (`paper_code.md`). The same seed shares "
        f"initialisation and data order. Machine: {machine}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + " --- |" * len(head),
    ]
    for name, label in variants.items():
        mine = {s: rows.get(f"{name}/seed{s}") for s in seeds}
        if not any(mine.values()):
            continue
        nll = [f"{r['nll']:.2f}" if r else "–" for r in mine.values()]
        done = [r["nll"] for r in mine.values() if r]
        paired = [mine[s]["nll"] - base[s]["nll"] for s in seeds if mine[s] and base[s]]
        delta = "–"
        if name != BASE and paired:
            delta = f"{np.mean(paired):+.2f} ({', '.join(f'{d:+.2f}' for d in paired)})"
        lines.append(f"| {label} | {' | '.join(nll)} | {np.mean(done):.2f} | {delta} |")
    return "\n".join(lines) + "\n"


def run_table(
    config: dict,
    data_dir: str | None = None,
    root: pathlib.Path | None = None,
    only: tuple[str, ...] = (),
) -> str:
    """Every (variant, seed) run of the preset (with ``only``, those and the finished ones);
    returns the markdown table."""
    if "differences" not in config:
        raise ValueError(f"preset {config['preset']!r} has no differences to measure.")
    where = {key: f"{config[key]}/differences" for key in ("workdir", "results")}
    table = runner.Table({**config, **where}, root or pathlib.Path.cwd(), data_dir, only)
    runner.run_rows(table, specs(config), summarise, markdown)
    return table.read()


def main(argv: list[str] | None = None) -> None:
    runner.main(run_table, get_config, PRESETS, __doc__, argv)


if __name__ == "__main__":
    main()
