"""The ELBO-surgery table beside Hoffman & Johnson 2016's numbers: the rows' runs and the
markdown (the surgery of each row is :func:`jvae.cli.surgery.checkpoint_surgery`)."""

from __future__ import annotations

from typing import Any

from jvae.reports.surgery import TABLE_HEADER, table_row
from jvae.run.spec import RunSpec


def specs(config: dict[str, Any]) -> dict[str, RunSpec]:
    """``{row name: run}``: each row's fields over the preset's, with the config's seed."""
    return {
        name: RunSpec.from_preset(
            config["preset"], seed=config["seed"], **{**config["overrides"], **row["overrides"]}
        )
        for name, row in config["rows"].items()
    }


def budget_row(label: str, result: dict) -> str:
    """A markdown row of a model's training budget and the wall time of its surgery."""
    b = result["budget"]
    return (
        f"| {label} | {b['passes']} | {b['batch_size']} | {b['train_seconds']:.0f} | "
        f"{result['seconds']:.1f} | {result['devices']} |"
    )


def markdown(config: dict[str, Any], rows: dict[str, dict], machine: str) -> str:
    """The surgery table of the finished ``rows`` (name -> JSON), then each model's budget and
    the figures."""
    rows = {name: rows[name] for name in config["rows"] if name in rows}
    labels = {name: config["rows"][name]["label"] for name in rows}
    n = next(iter(rows.values()))["n"]
    lines = [
        f"ELBO surgery (Hoffman & Johnson 2016) over the first {n} training images "
        f"(statically binarised), preset `{config['preset']}`, {config['num_samples']} draws per "
        "image; nats per image ± Monte Carlo standard error. ELBO = reconstruction − average KL "
        "and average KL = MI + marginal KL. Paper: MNIST, N = 60,000 (log N = 11.0021). "
        f"Machine: {machine}.",
        "",
        *TABLE_HEADER,
    ]
    for name, result in rows.items():
        lines.append(table_row(labels[name], result, result["nll"], result["paper"]))
    lines += [
        "",
        "| model | passes | batch | train (s) | surgery (s) | devices |",
        "|" + " --- |" * 6,
        *(budget_row(labels[name], result) for name, result in rows.items()),
        "",
        "![q_EW](posterior_qew.png)",
        "",
        "![q_EW toy](posterior_qew_toy.png)",
    ]
    return "\n".join(lines) + "\n"
