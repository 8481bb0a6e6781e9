"""Disentanglement on dSprites: the beta-VAE metric table of Higgins et al. 2017 (raw pixels,
PCA, an untrained model, the VAE, beta-VAE) with a small beta sweep and a controlled-capacity
model (Burgess et al. 2018), with seeds; the FactorVAE metric and MIG beside it; latent
traversals and the KL of each latent dimension over training.

    python experiments/beta_vae/main.py --preset smoke
    python experiments/beta_vae/main.py --preset cpu        # resumable: rerun to continue

Each group of models (KL weights x seeds; capacity x seeds) trains as one sweep, one vmapped
program (:mod:`jvae.run.sweep`), in ``workdir/<group>/<member>/`` (checkpoints there, never
committed); a finished group is read back, an interrupted one resumes. Every model and baseline
is scored with the three metrics (one JSON per model in ``results/rows/``, read back when it
exists); ``table.md``, ``timing.md`` and the figures of seed 0 of each trained row go to the
preset's ``results`` folder.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any

import jax

if __package__ in (None, ""):  # run as a script: make `experiments` importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from experiments.beta_vae.configs import PRESETS, get_config  # noqa: E402
from experiments.beta_vae.table import (  # noqa: E402
    copy_figures,
    markdown,
    summarise_rows,
    timing_markdown,
    train_seconds,
)
from jvae.diagnostics import disentanglement as dis  # noqa: E402
from jvae.reports.machine import describe  # noqa: E402
from jvae.run import experiment, sweep  # noqa: E402
from jvae.run.config import Config  # noqa: E402
from jvae.training.sweep import grid, member_name  # noqa: E402

DONE = "done.json"  # a group's marker: trained and its figures drawn


def factor_dataset(spec: dict, data_dir: str | None) -> Any:
    """The exact factor sampler the metrics draw from (the dSprites grid)."""
    from jvae.cli.disentanglement import factor_dataset as by_name

    return by_name(spec["overrides"]["dataset"], data_dir, spec["grid"])


def group_config(spec: dict, name: str) -> Config:
    """The base config of group ``name`` (its members change only the swept fields)."""
    overrides = {**spec["overrides"], **spec["groups"][name]["overrides"]}
    return Config.from_preset(spec["preset"], **overrides)


def train_group(
    spec: dict, name: str, root: pathlib.Path, data_dir: str | None
) -> list[tuple[dict, pathlib.Path]]:
    """Trains (or resumes, or reads back) group ``name`` as one sweep and draws each member's
    figures (samples, reconstructions, traversals, KL per dimension; no test NLL: the table
    is about the metrics); returns each member's values and results folder."""
    members = grid(spec["groups"][name]["sweep"])
    workdir = root / spec["workdir"] / name
    folders = [workdir / member_name(values) for values in members]
    if (workdir / DONE).exists():
        return list(zip(members, folders))
    base = group_config(spec, name)
    arrays = experiment.load_data(base, data_dir)
    resume = any((folder / "checkpoints").is_dir() for folder in folders)
    model, configs, _, states = sweep.train_sweep(
        base, members, workdir, data_dir, resume, progress=False, arrays=arrays
    )
    for config, folder, state in zip(configs, folders, states):
        key = jax.random.PRNGKey(config.seed + 1)
        experiment.write_figures(config, folder, model, state.params, arrays["test"], key)
    (workdir / DONE).write_text(json.dumps({"members": [f.name for f in folders]}))
    return list(zip(members, folders))


def scores(
    path: pathlib.Path, spec: dict, seed: int, dataset: Any, representation: Any
) -> dict[str, Any]:
    """The three metrics of a representation, stored at ``path`` (read back when it exists)."""
    if path.exists():
        return json.loads(path.read_text())
    result = dis.all_metrics(seed, dataset, representation(), spec["metrics"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    return result


def run_table(spec: dict, data_dir: str | None = None, root: pathlib.Path | None = None) -> str:
    """Every group of ``spec`` trained, every model and baseline scored; writes and returns the
    markdown table."""
    root = root or pathlib.Path.cwd()
    results = root / spec["results"]
    dataset = factor_dataset(spec, data_dir)
    trained = {name: train_group(spec, name, root, data_dir) for name in spec["groups"]}
    scored: dict[str, list[tuple[dict, dict]]] = {}
    for name, members in trained.items():
        for values, folder in members:

            def posterior_means(folder: pathlib.Path = folder) -> dis.Representation:
                _, model, params = experiment.load_run(folder)
                return dis.posterior_mean_representation(model, params)

            path = results / "rows" / name / f"{folder.name}.json"
            result = scores(path, spec, values["seed"], dataset, posterior_means)
            scored.setdefault(name, []).append((values, result))
    model = experiment.build_model(group_config(spec, "beta"))
    latents = model.latent_sizes[0]
    representations = {
        "raw_pixels": lambda seed: lambda: dis.raw_pixels,
        "pca": lambda seed: (
            lambda: dis.pca_representation(seed, dataset, latents, spec["pca_points"])
        ),
        "untrained": lambda seed: lambda: dis.untrained_representation(seed, model),
    }
    baselines = {
        name: [
            scores(
                results / "rows" / "baselines" / f"{name}_seed{seed}.json",
                spec,
                seed,
                dataset,
                make(seed),
            )
            for seed in spec["seeds"]
        ]  # fmt: skip
        for name, make in representations.items()
    }
    rows = summarise_rows(spec["rows"], scored, baselines)
    seconds = {name: train_seconds(members[0][1]) for name, members in trained.items()}
    table = markdown(spec, group_config(spec, "beta"), rows, trained, seconds, describe())
    results.mkdir(parents=True, exist_ok=True)
    (results / "table.md").write_text(table)
    (results / "timing.md").write_text(timing_markdown(spec, scored, baselines, describe()))
    copy_figures(spec["rows"], rows, trained, results / "figures")
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="smoke", choices=PRESETS)
    parser.add_argument("--data-dir", help="dataset folder (default: ../shared/data)")
    args = parser.parse_args(argv)
    print(run_table(get_config(args.preset), args.data_dir))


if __name__ == "__main__":
    main()
