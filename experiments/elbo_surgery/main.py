"""ELBO surgery on MNIST (Hoffman & Johnson 2016) and the q_EW figure (Cremer et al. 2017).

    python -m experiments.elbo_surgery --preset smoke
    python -m experiments.elbo_surgery --preset cpu        # resumable: rerun to continue

Trains (or reuses) VAEs with 2-, 10- and 20-D latents, IWAE k=50 and a VampPrior VAE in the
preset's ``workdir`` (checkpoints there, never committed), splits each one's ELBO over the
training images into reconstruction, mutual information and marginal KL, and writes
``table.md`` (beside the paper's numbers), one JSON per model in ``rows/`` and the q_EW figures
(``posterior_qew.png`` for the 2-D model, ``posterior_qew_toy.png`` for a toy posterior with a
known density) to the preset's ``results`` folder. Rows are run by :mod:`experiments.runner`:
a row whose JSON exists is not run again; an interrupted training resumes from its checkpoint.
"""

from __future__ import annotations

import json
import pathlib

import jax

from experiments import runner
from experiments.elbo_surgery.configs import PRESETS, get_config
from experiments.elbo_surgery.table import markdown, specs
from jvae.cli.surgery import checkpoint_posterior_figure, checkpoint_surgery
from jvae.diagnostics.importance_resampling import toy_posterior_panels
from jvae.reports.posterior_figure import save_posterior_figure
from jvae.run.experiment import train_and_evaluate, training_budget
from jvae.run.spec import RunSpec
from jvae.run.train import train


def trained_run(table: runner.Table, name: str) -> pathlib.Path:
    """The results folder of row ``name``: its ``reuse`` folder when that run is finished, else
    ``workdir/name`` trained (or resumed) to the end (and evaluated, if the preset says so)."""
    row = table.config["rows"][name]
    reuse = table.root / row["reuse"] if row.get("reuse") else None
    if reuse is not None and (reuse / "eval.json").exists():
        return reuse
    folder, spec = table.folder(name), specs(table.config)[name]
    if not table.config["evaluate"]:
        train(spec, folder, table.data_dir, resume=True, progress=False)
    elif not (folder / "eval.json").exists():
        train_and_evaluate(spec, folder, table.data_dir, resume=True, progress=False)
    return folder


def surgery_row(table: runner.Table, name: str, index: int) -> dict:
    """The surgery of row ``name`` with the run's test NLL, budget and the paper's numbers."""
    config = table.config
    folder = trained_run(table, name)
    result = checkpoint_surgery(
        folder,
        jax.random.fold_in(jax.random.PRNGKey(config["seed"]), index),
        config["n"],
        config["num_samples"],
        config["batch_size"],
        config["chunk_size"],
        table.data_dir,
    )
    evaluation = folder / "eval.json"
    result["nll"] = json.loads(evaluation.read_text())["nll"] if evaluation.exists() else None
    result["paper"] = config["rows"][name].get("paper")
    batch_size = RunSpec.from_json((folder / "config.json").read_text()).train.batch_size
    result["budget"] = {"batch_size": batch_size, **training_budget(folder)}
    return result


def figures(table: runner.Table) -> None:
    """``posterior_qew.png`` of the figure's row and ``posterior_qew_toy.png`` (each skipped
    when it exists)."""
    fig, results = table.config["figure"], table.results
    key = jax.random.PRNGKey(table.config["seed"])
    path = results / "posterior_qew.png"
    if not path.exists():
        folder = trained_run(table, fig["row"])
        checkpoint_posterior_figure(
            folder, key, path, fig["images"], fig["ks"], fig["resolution"], fig["inner"],
            table.data_dir,
        )  # fmt: skip
    toy = results / "posterior_qew_toy.png"
    if not toy.exists():
        panels = toy_posterior_panels(key, fig["ks"], fig["resolution"], fig["inner"])
        title = "toy posterior (2-component mixture, known density), Gaussian q and q_EW"
        save_posterior_figure([panels], toy, title)


def run_table(
    config: dict,
    data_dir: str | None = None,
    root: pathlib.Path | None = None,
    only: tuple[str, ...] = (),
) -> str:
    """Every row of ``config`` (a preset's config), the figures and ``table.md`` (rewritten
    after each row); returns the markdown table."""
    table = runner.Table(config, root or pathlib.Path.cwd(), data_dir, only)
    rows: dict[str, dict] = {}
    for index, name in enumerate(config["rows"]):
        row = table.row(name, lambda name=name, index=index: surgery_row(table, name, index))
        if row is not None:
            rows[name] = row
            table.write(markdown(config, rows, runner.describe()))
    table.results.mkdir(parents=True, exist_ok=True)
    figures(table)
    return table.read()


def main(argv: list[str] | None = None) -> None:
    runner.main(run_table, get_config, PRESETS, __doc__, argv)
