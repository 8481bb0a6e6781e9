"""The sandwich table: per model, how far L_5000 sits below log p(x). The rows (one trained run
each), the measurement of a row (L_K, AIS and BDMC by :func:`jvae.cli.tightness.checkpoint_report`),
its JSON and the markdown."""

from __future__ import annotations

import math
import pathlib
import time
from typing import Any

import jax
import numpy as np

from experiments.sandwich.configs.rows import SOURCES
from jvae.cli.tightness import checkpoint_report
from jvae.diagnostics.ais import AISOptions
from jvae.reports.tightness import write_report
from jvae.run.experiment import training_budget
from jvae.run.spec import RunSpec

LABELS = {
    "vae_k1": "VAE (k=1), 1 layer",
    "iwae_k50": "IWAE (k=50), 1 layer",
    "hvae_vamp": "HVAE (L=2) + VampPrior",
    "vlae": "VLAE (AF prior + PixelCNN)",
}


def specs(config: dict[str, Any]) -> dict[str, RunSpec]:
    """``{row name: run}``: each row's fields over the preset's and the row's own overrides."""
    return {
        name: RunSpec.from_preset(
            config["preset"],
            **{**config["overrides"], **row, **config["row_overrides"].get(name, {})},
        )
        for name, row in config["rows"].items()
    }


def measure_options(config: dict[str, Any], name: str) -> dict[str, int]:
    """Row ``name``'s ``examples``, ``simulated`` and largest T (``ais_steps``): the preset's,
    or the row's own (``row_measure``)."""
    keys = ("examples", "simulated", "ais_steps")
    return {**{k: config[k] for k in keys}, **config["row_measure"].get(name, {})}


def measure(
    folder: pathlib.Path, config: dict[str, Any], data_dir: str | None, reports: pathlib.Path
) -> dict[str, Any]:
    """L_K (K up to ``max_k``) and AIS (T = 1, 10, ... up to the row's ``ais_steps``) on the
    first ``examples`` test images, BDMC on ``simulated`` images drawn from the model; writes
    the whole tightness report (markdown, JSON, figures) to ``reports`` and returns it."""
    name = folder.name
    sizes = measure_options(config, name)
    t0 = time.perf_counter()
    report = checkpoint_report(
        folder,
        jax.random.PRNGKey(7),
        data_dir,
        num_examples=sizes["examples"],
        max_k=config["max_k"],
        snr_draws=0,
        dense_max_k=min(1000, config["max_k"]),
        log=lambda line: print(f"[{name}] {line}", flush=True),
        ais_steps=sizes["ais_steps"],
        ais_options=AISOptions(**config["ais"]),
        ais_examples=sizes["examples"],
        simulated=sizes["simulated"],
    )
    report["seconds"] = round(time.perf_counter() - t0, 1)
    write_report(report, reports)
    return report


def equal_cost_k(ks: list[int], evaluations: int) -> int | None:
    """The K of the sweep nearest (in log) to an AIS run's evaluations per example; ``None``
    beyond twice the largest K (no importance-sampling estimate of comparable cost)."""
    if evaluations > 2 * max(ks):
        return None
    return min(ks, key=lambda k: abs(math.log(k) - math.log(max(evaluations, 1))))


def summarise(
    workdir: pathlib.Path, spec: RunSpec, result: dict[str, Any], report: dict[str, Any]
) -> dict[str, Any]:
    """One row's JSON: the model, its budget, L_K, AIS by T (paired against L_Kmax and against
    L_K at equal evaluations), BDMC by T and the measurement's wall time."""
    sweep, annealed, bdmc = report["sweep"], report["ais"], report["bdmc"]
    per_k = sweep["per_example"]["L"]
    ks = sorted(per_k)
    ais_rows = []
    for row, values in zip(annealed["rows"], annealed["per_example"].values(), strict=True):
        cost = max(row["gradient_evaluations"], annealed["options"]["num_chains"])  # T=1: K=C
        k_eq = equal_cost_k(ks, cost)
        diff = None
        if k_eq is not None:
            diff = np.asarray(values, np.float64) - np.asarray(per_k[k_eq], np.float64)
        ais_rows.append(
            {
                **{key: row[key] for key in ("steps", "mean", "stderr", "acceptance", "seconds")},
                "gradient_evaluations": row["gradient_evaluations"],
                "minus_best": row["minus_best"],
                "minus_best_stderr": row["minus_best_stderr"],
                "equal_cost_k": k_eq,
                "minus_equal_cost": None if diff is None else float(diff.mean()),
                "minus_equal_cost_stderr": None
                if diff is None
                else float(diff.std(ddof=1) / math.sqrt(diff.size)),
            }
        )
    return {
        "model": spec.objective.model,
        "k": spec.objective.k,
        "layers": spec.model.layers,
        "architecture": spec.model.architecture,
        "prior": spec.model.prior,
        "decoder": spec.model.decoder,
        "source": SOURCES[workdir.name],
        **training_budget(workdir),
        "examples": annealed["num_examples"],
        "bounds": [{k: r[k] for k in ("k", "mean", "stderr")} for r in sweep["rows"]],
        "best_k": sweep["best"]["k"],
        "ais_options": annealed["options"],
        "ais": ais_rows,
        "bdmc": None
        if bdmc is None
        else {"examples": bdmc["num_examples"], "rows": bdmc["rows"], "iwae": bdmc["iwae"]},
        "measure_seconds": report["seconds"],
        "seed": spec.seed,
        "preset": spec.preset,
    }


def _pm(mean: float | None, se: float | None, digits: int = 2) -> str:
    if mean is None:
        return "–"
    return (
        f"{mean:.{digits}f}"
        if se is None or math.isnan(se)
        else f"{mean:.{digits}f} ± {se:.{digits}f}"
    )


def verdict(row: dict[str, Any]) -> str:
    """What the row says about its reported NLL: the BDMC upper bound minus L_Kmax on the
    simulated data bounds how far L_Kmax sits below log p(x) (on data the model fits exactly)."""
    bd = row["bdmc"]
    if not bd or not bd["iwae"]:
        return "–"
    miss = bd["iwae"]["gap_to_upper"]
    gap = bd["rows"][-1]["gap"]
    if gap > 1.0:
        return f"open: BDMC gap {gap:.2f} nats at the largest T"
    return f"L_{bd['iwae']['k']} within {max(miss, 0.0):.2f} nats of log p(x)"


def markdown(config: dict[str, Any], rows: dict[str, dict], machine: str) -> str:
    """The table of the finished ``rows`` (name -> JSON), in the config's order."""
    preset = config["preset"]
    done = [name for name in config["rows"] if name in rows]
    lines = [
        f"# How tight is L_{config['max_k']}? AIS and BDMC per model (`{preset}` preset)",
        "",
        "Importance sampling's L_K is a lower bound on log p(x); AIS with T intermediate "
        "distributions approaches log p(x) from below as T grows (Neal 2001; Wu et al. 2017), "
        "and on data simulated from the model the reverse chain gives a stochastic upper bound "
        "(BDMC, Grosse et al. 2015): the two sandwich the truth. All numbers are in nats per "
        "image (log-likelihoods, higher is better), means over examples ± standard errors.",
        "",
        "## The gaps",
        "",
        f"Test data: the first {config['examples']} binarised MNIST test images. Simulated: "
        f"{config['simulated']} images drawn from each model (z from the prior, x from the "
        "decoder), where the BDMC upper bound holds."
        + "".join(
            f" {LABELS[name]}: {o.get('examples', config['examples'])} test and "
            f"{o.get('simulated', config['simulated'])} simulated images, T up to "
            f"{o.get('ais_steps', config['ais_steps'])}."
            for name, o in config["row_measure"].items()
        ),
        "",
        "| model | from | passes | L_1 (ELBO) | L_K | AIS, largest T | AIS − L_K (paired) | "
        "simulated: L_K | BDMC lower | BDMC upper | upper − L_K | verdict | wall time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in done:
        r = rows[name]
        bounds = {b["k"]: b for b in r["bounds"]}
        best = bounds[r["best_k"]]
        last = r["ais"][-1]
        bd = r["bdmc"]
        sim = bd["rows"][-1] if bd else None
        lines.append(
            f"| {LABELS[name]} | `{r['source']}` | {r['passes']} | "
            f"{_pm(bounds[1]['mean'], bounds[1]['stderr'])} | "
            f"K={r['best_k']}: {_pm(best['mean'], best['stderr'])} | "
            f"T={last['steps']}: {_pm(last['mean'], last['stderr'])} | "
            f"{_pm(last['minus_best'], last['minus_best_stderr'])} | "
            + (
                f"{_pm(bd['iwae']['mean'], bd['iwae']['stderr'])} | "
                f"{_pm(sim['lower'], sim['lower_stderr'])} | "
                f"{_pm(sim['upper'], sim['upper_stderr'])} | "
                f"{_pm(bd['iwae']['gap_to_upper'], bd['iwae']['gap_to_upper_stderr'])} | "
                if bd
                else "– | – | – | – | "
            )
            + f"{verdict(r)} | {r['measure_seconds']:.0f} s |"
        )
    lines += [
        "",
        "## AIS by T, and importance sampling at equal cost",
        "",
        "Evaluations per example: AIS counts gradient evaluations of log p(x, z) (C chains x "
        "(T − 1 + pilot) x (leapfrog + 1)); at T = 1 it is importance sampling with K = C "
        "forward passes; L_K counts K forward passes. A gradient costs about 2-3 forward "
        "passes, so 'equal cost' favours importance sampling. AIS − L_K at equal cost is "
        "paired over the same images (positive: AIS is the tighter bound); '–' where AIS "
        f"spends more than twice the largest K ({config['max_k']}).",
        "",
        "| model | T | AIS | acceptance | evaluations | AIS − L_Kmax | L_K at equal cost: K | "
        "AIS − L_K | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in done:
        chains = rows[name]["ais_options"]["num_chains"]
        for a in rows[name]["ais"]:
            acc = "–" if a["acceptance"] is None else f"{a['acceptance']:.2f}"
            cost = f"{a['gradient_evaluations']:,}" if a["steps"] > 1 else f"{chains} forward"
            k_eq = "–" if a["equal_cost_k"] is None else a["equal_cost_k"]
            lines.append(
                f"| {LABELS[name]} | {a['steps']} | {_pm(a['mean'], a['stderr'])} | {acc} | "
                f"{cost} | {_pm(a['minus_best'], a['minus_best_stderr'])} | {k_eq} | "
                f"{_pm(a['minus_equal_cost'], a['minus_equal_cost_stderr'])} | {a['seconds']} |"
            )
    lines += [
        "",
        "## BDMC by T (simulated data)",
        "",
        "| model | T | lower | upper | gap (upper − lower) | seconds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in done:
        for b in (rows[name]["bdmc"] or {"rows": []})["rows"]:
            lines.append(
                f"| {LABELS[name]} | {b['steps']} | {_pm(b['lower'], b['lower_stderr'])} | "
                f"{_pm(b['upper'], b['upper_stderr'])} | {_pm(b['gap'], b['gap_stderr'])} | "
                f"{b['seconds']} |"
            )
    options = rows[done[0]]["ais_options"] if done else config["ais"]
    lines += [
        "",
        "## Setup",
        "",
        f"- Budget: {config['budget']}; models trained by the experiments' own row "
        "specs (`configs/rows.py`), at the passes given in the first table.",
        f"- AIS: {options['num_chains']} chains per example, HMC with "
        f"{options['leapfrog_steps']} leapfrog steps per move (blackjax), step size adapted "
        f"towards acceptance {options.get('target_acceptance', 0.65)} in a "
        f"{options['warmup_steps']}-step pilot, the sigmoid schedule, chains started from "
        "q(z|x); T=1 is importance sampling with K = chains.",
        "- The verdict reads the BDMC sandwich on simulated data: when the gap between the two "
        "bounds is small, upper − L_K bounds how many nats the reported L_K misses.",
        f"- Machine: {machine}. Wall times include compilation and are upper bounds.",
        "- Per-model reports (markdown, JSON, figures): `reports/<row>/`.",
        "",
        "![Every estimate against the evaluations it spent (left: test images; right: the "
        "BDMC bounds on simulated images), relative to each model's L_Kmax](sandwich.png)",
        "",
    ]
    return "\n".join(lines)
