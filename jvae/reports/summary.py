"""``summary.md`` of a training run: the model, the budget, the test NLL and bounds."""

from __future__ import annotations

import pathlib
from typing import Any

from jvae.data import DATASET_NOTES


def write_summary(config: Any, workdir: pathlib.Path, result: dict[str, Any]) -> None:
    """Writes ``workdir/summary.md`` for a :class:`jvae.run.config.Config` and its evaluation."""
    layers = "2 (ladder)" if config.architecture == "hvae" else str(config.layers)
    lines = [
        f"# {config.model.upper()} k={config.k}, {config.architecture} architecture, "
        f"{layers} stochastic layer(s), prior `{config.prior}`, preset `{config.preset}`",
        "",
        f"dataset `{config.dataset}`, bound `{config.objective}`, estimator `{config.estimator}`, "
        f"seed {config.seed}, {config.epochs} passes at batch {config.batch_size}"
        + (f", KL warm-up over {config.kl_warmup} steps" if config.kl_warmup else "")
        + (f", {config.validation} validation images" if config.validation else "")
        + ".",
        "",
        *([f"Data: {note}", ""] if (note := DATASET_NOTES.get(config.dataset)) else []),
        f"**Test NLL (K={result['nll_k']}): {result['nll']:.2f} nats** over "
        f"{result['test_examples']} test images; active units: "
        f"{' + '.join(str(a) for a in result['active_units'])}.",
        "",
        "| K | L_K (mean) | std. error |",
        "| --- | --- | --- |",
    ]
    for k, v in result["bounds"].items():
        lines.append(f"| {k} | {v['mean']:.3f} | {v['stderr']:.3f} |")
    figures = "![samples](samples.png) ![reconstructions](reconstructions.png)"
    if (workdir / "pseudo_inputs.png").exists():
        figures += " ![pseudo-inputs](pseudo_inputs.png)"
    lines += ["", figures, ""]
    (workdir / "summary.md").write_text("\n".join(lines))
