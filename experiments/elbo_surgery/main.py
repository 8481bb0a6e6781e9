"""ELBO surgery on MNIST (Hoffman & Johnson 2016) and the q_EW figure (Cremer et al. 2017).

    python experiments/elbo_surgery/main.py --preset smoke
    python experiments/elbo_surgery/main.py --preset cpu        # resumable: rerun to continue

Trains (or reuses) VAEs with 2-, 10- and 20-D latents, IWAE k=50 and a VampPrior VAE in the
preset's ``workdir`` (checkpoints there, never committed), splits each one's ELBO over the
training images into reconstruction, mutual information and marginal KL, and writes
``table.md`` (beside the paper's numbers), one JSON per model in ``rows/`` and the q_EW figures
(``posterior_qew.png`` for the 2-D model, ``posterior_qew_toy.png`` for a toy posterior with a
known density) to the preset's ``results`` folder. A row whose JSON exists is not run again; an
interrupted training resumes from its checkpoint.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

if __package__ in (None, ""):  # run as a script: make `experiments` importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import jax  # noqa: E402

from experiments.elbo_surgery.configs import PRESETS, get_config  # noqa: E402
from jvae.cli.surgery import checkpoint_posterior_figure, checkpoint_surgery  # noqa: E402
from jvae.diagnostics.importance_resampling import toy_posterior_panels  # noqa: E402
from jvae.reports.machine import describe  # noqa: E402
from jvae.reports.posterior_figure import save_posterior_figure  # noqa: E402
from jvae.reports.surgery import TABLE_HEADER, table_row  # noqa: E402
from jvae.run import experiment  # noqa: E402
from jvae.run.config import Config  # noqa: E402


def trained_run(spec: dict, name: str, root: pathlib.Path, data_dir: str | None) -> pathlib.Path:
    """The results folder of row ``name``: its ``reuse`` folder when that run is finished, else
    ``workdir/name`` trained (or resumed) to the end."""
    row = spec["rows"][name]
    reuse = root / row["reuse"] if row.get("reuse") else None
    if reuse is not None and (reuse / "eval.json").exists():
        return reuse
    workdir = root / spec["workdir"] / name
    config = Config.from_preset(
        spec["preset"], seed=spec["seed"], **{**spec["overrides"], **row["overrides"]}
    )
    if not spec["evaluate"]:
        experiment.train(config, workdir, data_dir, resume=True, progress=False)
    elif not (workdir / "eval.json").exists():
        experiment.train_and_evaluate(config, workdir, data_dir, resume=True, progress=False)
    return workdir


def run_row(spec: dict, name: str, index: int, root: pathlib.Path, data_dir: str | None) -> dict:
    """The surgery of row ``name`` (read back when its JSON exists), with the run's test NLL
    and the paper's numbers."""
    path = root / spec["results"] / "rows" / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    workdir = trained_run(spec, name, root, data_dir)
    result = checkpoint_surgery(
        workdir,
        jax.random.fold_in(jax.random.PRNGKey(spec["seed"]), index),
        spec["n"],
        spec["num_samples"],
        spec["batch_size"],
        spec["chunk_size"],
        data_dir,
    )
    evaluation = workdir / "eval.json"
    result["nll"] = json.loads(evaluation.read_text())["nll"] if evaluation.exists() else None
    result["paper"] = spec["rows"][name].get("paper")
    result["budget"] = training_budget(workdir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return result


def figures(spec: dict, root: pathlib.Path, data_dir: str | None) -> None:
    """``posterior_qew.png`` of the figure's row and ``posterior_qew_toy.png`` (each skipped
    when it exists)."""
    fig, results = spec["figure"], root / spec["results"]
    key = jax.random.PRNGKey(spec["seed"])
    path = results / "posterior_qew.png"
    if not path.exists():
        workdir = trained_run(spec, fig["row"], root, data_dir)
        checkpoint_posterior_figure(
            workdir, key, path, fig["images"], fig["ks"], fig["resolution"], fig["inner"], data_dir
        )
    toy = results / "posterior_qew_toy.png"
    if not toy.exists():
        panels = toy_posterior_panels(key, fig["ks"], fig["resolution"], fig["inner"])
        title = "toy posterior (2-component mixture, known density), Gaussian q and q_EW"
        save_posterior_figure([panels], toy, title)


def training_budget(workdir: pathlib.Path) -> dict:
    """Passes, batch size and training wall seconds of a ``jvae train`` folder."""
    batch_size = json.loads((workdir / "config.json").read_text())["batch_size"]
    return {"batch_size": batch_size, **experiment.training_budget(workdir)}


def budget_row(label: str, result: dict) -> str:
    """A markdown row of a model's training budget and the wall time of its surgery."""
    b = result["budget"]
    return (
        f"| {label} | {b['passes']} | {b['batch_size']} | {b['train_seconds']:.0f} | "
        f"{result['seconds']:.1f} | {result['devices']} |"
    )


def run_table(spec: dict, data_dir: str | None = None, root: pathlib.Path | None = None) -> str:
    """Every row of ``spec`` (a preset's config), the figures and ``table.md``; returns the
    markdown table."""
    root = root or pathlib.Path.cwd()
    rows = {name: run_row(spec, name, i, root, data_dir) for i, name in enumerate(spec["rows"])}
    figures(spec, root, data_dir)
    n = next(iter(rows.values()))["n"]
    lines = [
        f"ELBO surgery (Hoffman & Johnson 2016) over the first {n} training images "
        f"(statically binarised), preset `{spec['preset']}`, {spec['num_samples']} draws per "
        "image; nats per image ± Monte Carlo standard error. ELBO = reconstruction − average KL "
        "and average KL = MI + marginal KL. Paper: MNIST, N = 60,000 (log N = 11.0021). "
        f"Machine: {describe()}.",
        "",
        *TABLE_HEADER,
    ]
    for name, result in rows.items():
        lines.append(table_row(spec["rows"][name]["label"], result, result["nll"], result["paper"]))
    lines += [
        "",
        "| model | passes | batch | train (s) | surgery (s) | devices |",
        "|" + " --- |" * 6,
        *(budget_row(spec["rows"][name]["label"], result) for name, result in rows.items()),
        "",
        "![q_EW](posterior_qew.png)",
        "",
        "![q_EW toy](posterior_qew_toy.png)",
    ]
    table = "\n".join(lines) + "\n"
    (root / spec["results"] / "table.md").write_text(table)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="smoke", choices=PRESETS)
    parser.add_argument("--data-dir", help="dataset folder (default: ../shared/data)")
    args = parser.parse_args(argv)
    print(run_table(get_config(args.preset), args.data_dir))


if __name__ == "__main__":
    main()
