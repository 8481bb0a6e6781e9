"""Whole runs into results folders: train then evaluate, once (read back when finished), and
what an experiment's table needs from a folder (its training budget)."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from jvae.reports.kl_curves import read_records
from jvae.run.evaluate import evaluate_run
from jvae.run.spec import RunSpec
from jvae.run.train import check_devices, load_arrays, train


def train_and_evaluate(
    spec: RunSpec,
    workdir: str | pathlib.Path,
    data_dir: str | None = None,
    resume: bool = False,
    progress: bool = True,
    sweep: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Trains (one run, or a sweep's members: :func:`jvae.run.train.train`), then evaluates
    each on the test set in its folder; returns the evaluations in member order."""
    check_devices(spec, sweep)
    arrays = load_arrays(spec, data_dir)
    trained = train(spec, workdir, data_dir, resume, progress, arrays, sweep)
    return [
        evaluate_run(member, folder, trained.model, state.params, arrays["test"], progress=progress)
        for member, folder, state in zip(trained.specs, trained.folders, trained.states)
    ]


def train_and_evaluate_once(
    spec: RunSpec, workdir: str | pathlib.Path, data_dir: str | None = None
) -> dict[str, Any]:
    """The evaluation of the run in ``workdir``: read back from its ``eval.json`` when the run
    is finished, else trained (resumed from its checkpoints, if any) and evaluated. What an
    experiment's rows use, so a killed table continues where it stopped."""
    workdir = pathlib.Path(workdir)
    done = workdir / "eval.json"
    if done.exists():
        return json.loads(done.read_text())
    resume = (workdir / "checkpoints").is_dir()
    return train_and_evaluate(spec, workdir, data_dir, resume=resume, progress=False)[0]


def training_budget(workdir: str | pathlib.Path) -> dict[str, Any]:
    """``{'passes', 'train_seconds'}`` of a results folder, from its ``metrics.jsonl``."""
    records = read_records(pathlib.Path(workdir) / "metrics.jsonl")
    return {"passes": len(records), "train_seconds": round(sum(r["seconds"] for r in records), 1)}


def write_table(out: pathlib.Path, header: list[str], rows: list[str]) -> str:
    """Writes ``header`` and ``rows`` as ``out/table.md``; returns the markdown."""
    table = "\n".join(header + rows) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table)
    return table
