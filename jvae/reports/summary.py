"""``summary.md`` of a training run: the model, the budget, the test NLL and bounds."""

from __future__ import annotations

import pathlib
from typing import Any

from jvae.data import DATASET_NOTES


def write_summary(spec: Any, workdir: pathlib.Path, result: dict[str, Any]) -> None:
    """Writes ``workdir/summary.md`` for a :class:`jvae.run.spec.RunSpec` and its evaluation."""
    model, objective, train = spec.model, spec.objective, spec.train
    layers = "2 (ladder)" if model.architecture == "hvae" else str(model.layers)
    lines = [
        f"# {objective.model.upper()} k={objective.k}, {model.architecture} architecture, "
        f"{layers} stochastic layer(s), prior `{model.prior}`, preset `{spec.preset}`",
        "",
        f"dataset `{spec.data.dataset}`, bound `{objective.name}`, estimator "
        f"`{objective.estimator}`, seed {spec.seed}, {train.epochs} passes at batch "
        f"{train.batch_size}"
        + (f", KL warm-up over {objective.kl_warmup} steps" if objective.kl_warmup else "")
        + (f", {spec.data.validation} validation images" if spec.data.validation else "")
        + ".",
        "",
        *([f"Data: {note}", ""] if (note := DATASET_NOTES.get(spec.data.dataset)) else []),
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
