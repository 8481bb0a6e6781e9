"""Disentanglement scores as text: one line per metric and a markdown table of representations
(:mod:`jvae.diagnostics.disentanglement`)."""

from __future__ import annotations

from typing import Any

METRIC_TITLES = {
    "beta_vae_metric": "beta-VAE metric",
    "factor_vae_metric": "FactorVAE metric",
    "mig": "MIG",
}


def metric_line(name: str, result: dict[str, Any]) -> str:
    """``'MIG 0.412 (6.3 s; seed 0)'``, with the training accuracy and chance for classifier
    metrics.

    >>> metric_line("mig", {"score": 0.41234, "seconds": 6.31, "seed": 0})
    'MIG 0.412 (6.3 s; seed 0)'
    """
    extra = ""
    if "train_accuracy" in result:
        extra = f"train {result['train_accuracy']:.3f}, chance {result['chance']:.3f}; "
    title = METRIC_TITLES.get(name, name)
    return (
        f"{title} {result['score']:.3f} ({extra}{result['seconds']:.1f} s; seed {result['seed']})"
    )


def score_table(rows: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Markdown table, one row per representation (``{row name: {metric name: result}}``),
    one column per metric of :data:`METRIC_TITLES`; a missing metric is left blank.

    >>> print(score_table({"raw pixels": {"mig": {"score": 0.0123}}}))
    | representation | beta-VAE metric | FactorVAE metric | MIG |
    | --- | --- | --- | --- |
    | raw pixels |  |  | 0.012 |
    """
    header = ["representation", *METRIC_TITLES.values()]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row, results in rows.items():
        cells = [f"{results[m]['score']:.3f}" if m in results else "" for m in METRIC_TITLES]
        lines.append("| " + " | ".join([row, *cells]) + " |")
    return "\n".join(lines)
