"""Disentanglement on dSprites: the beta-VAE metric table of Higgins et al. 2017 (raw pixels,
PCA, an untrained model, the VAE, beta-VAE) with a small beta sweep and a controlled-capacity
model (Burgess et al. 2018), with seeds; the FactorVAE metric and MIG beside it; latent
traversals and the KL of each latent dimension over training.

    python -m experiments.beta_vae --preset smoke
    python -m experiments.beta_vae --preset cpu        # resumable: rerun to continue

Each group of models (KL weights x seeds; capacity x seeds) trains as one sweep, one vmapped
program (:func:`jvae.run.train.train` with ``sweep``), in ``workdir/<group>/<member>/``
(checkpoints there, never committed); an interrupted group resumes. Every model and baseline
is scored with the three metrics; the rows (one JSON per group, model and baseline in
``results/rows/``) are run by :mod:`experiments.runner` (read back when they exist).
``table.md``, ``timing.md`` and the figures of seed 0 of each trained row go to the preset's
``results`` folder.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import jax

from experiments import runner
from experiments.beta_vae.configs import PRESETS, get_config
from experiments.beta_vae.table import (
    copy_figures,
    group_spec,
    markdown,
    members,
    timing_markdown,
    train_seconds,
)
from jvae.diagnostics import disentanglement as dis
from jvae.run.evaluate import load_run, write_figures
from jvae.run.train import build_model, load_arrays, train

DONE = "done.json"  # a group's marker: trained and its figures drawn


def factor_dataset(config: dict, data_dir: str | None) -> Any:
    """The exact factor sampler the metrics draw from (the dSprites grid)."""
    from jvae.cli.disentanglement import factor_dataset as by_name

    return by_name(config["overrides"]["dataset"], data_dir, config["grid"])


def train_group(table: runner.Table, name: str) -> dict:
    """Trains (or resumes) group ``name`` as one sweep and draws each member's figures
    (samples, reconstructions, traversals, KL per dimension; no test NLL: the table is about
    the metrics); returns the group's JSON (its members' folders and training seconds)."""
    workdir = table.workdir / name
    folders = [workdir / folder for _, folder in members(table.config, name)]
    if not (workdir / DONE).exists():
        base = group_spec(table.config, name)
        arrays = load_arrays(base, table.data_dir)
        resume = any((folder / "checkpoints").is_dir() for folder in folders)
        sweep = [values for values, _ in members(table.config, name)]
        model, specs, _, states = train(
            base, workdir, table.data_dir, resume, progress=False, arrays=arrays, sweep=sweep
        )
        for spec, folder, state in zip(specs, folders, states):
            key = jax.random.PRNGKey(spec.seed + 1)
            write_figures(spec, folder, model, state.params, arrays["test"], key)
        (workdir / DONE).write_text(json.dumps({"members": [f.name for f in folders]}))
    return {"members": [f.name for f in folders], "train_seconds": train_seconds(folders[0])}


def run_table(config: dict, data_dir: str | None = None, root: pathlib.Path | None = None) -> str:
    """Every group of ``config`` trained, every model and baseline scored; writes and returns
    the markdown table."""
    table = runner.Table(config, root or pathlib.Path.cwd(), data_dir)
    dataset = factor_dataset(config, data_dir)
    rows: dict[str, dict] = {}

    def scores(name: str, seed: int, representation: Any) -> None:
        """The three metrics of a representation (a thunk), as row ``name``."""
        make = lambda: dis.all_metrics(seed, dataset, representation(), config["metrics"])  # noqa: E731
        rows[name] = table.row(name, make)

    for group in config["groups"]:
        rows[group] = table.row(group, lambda group=group: train_group(table, group))
        for values, member in members(config, group):

            def posterior_means(folder=table.workdir / group / member) -> dis.Representation:
                _, model, params = load_run(folder)
                return dis.posterior_mean_representation(model, params)

            scores(f"{group}/{member}", values["seed"], posterior_means)
    model = build_model(group_spec(config, "beta"))
    latents = model.latent_sizes[0]
    representations = {
        "raw_pixels": lambda seed: lambda: dis.raw_pixels,
        "pca": lambda seed: (
            lambda: dis.pca_representation(seed, dataset, latents, config["pca_points"])
        ),
        "untrained": lambda seed: lambda: dis.untrained_representation(seed, model),
    }
    for name, make in representations.items():
        for seed in config["seeds"]:
            scores(f"baselines/{name}_seed{seed}", seed, make(seed))
    machine = runner.describe()
    table.write(timing_markdown(config, rows, machine), "timing.md")
    copy_figures(config, rows, table.workdir, table.results / "figures")
    return table.write(markdown(config, rows, machine))


def main(argv: list[str] | None = None) -> None:
    runner.main(run_table, get_config, PRESETS, __doc__, argv, only=False)
