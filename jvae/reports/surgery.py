"""The ELBO-surgery report: the decomposition as the lecture writes it, ``surgery.json``, and
table rows beside the paper's numbers (from the results of :mod:`jvae.diagnostics.surgery`)."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Sequence
from typing import Any

from jvae.diagnostics.surgery import TERMS


def _pm(result: dict[str, Any], key: str, digits: int = 3) -> str:
    value, se = result[key], result["stderr"][key]
    if se == 0.0:
        return f"{value:.{digits}f} (closed form)"
    return f"{value:.{digits}f} ± {se:.{digits}f}"


def format_decomposition(result: dict[str, Any]) -> str:
    """The decomposition, one term a line, ending with
    ``ELBO = reconstruction - MI - marginal KL`` in numbers."""
    r = result
    kl_kind = "analytic KL" if r.get("analytic_kl") else "Monte Carlo KL"
    rows = [
        ("ELBO", "reconstruction - average KL", "elbo"),
        ("reconstruction", "(1/N) sum_i E_q(z|x_i) log p(x_i|z)", "reconstruction"),
        ("average KL", "(1/N) sum_i KL(q(z|x_i) || p(z))", "avg_kl"),
        ("  mutual info", "I[i, z] = log N - E_q(z) H[q(i|z)]", "mutual_info"),
        ("  marginal KL", "KL(q(z) || p(z)), q(z) = (1/N) sum_i q(z|x_i)", "marginal_kl"),
    ]
    lines = [
        f"ELBO surgery over N = {r['n']} examples (log N = {r['log_n']:.4f}), "
        f"{r['num_samples']} draws each, {kl_kind}; nats per example ± Monte Carlo s.e.",
    ]
    for label, formula, key in rows:
        lines.append(f"  {label:<16} {formula:<48} {_pm(r, key)}")
    lines.append(
        f"  ELBO = reconstruction - MI - marginal KL: {r['elbo']:.3f} = "
        f"{r['reconstruction']:.3f} - {r['mutual_info']:.3f} - {r['marginal_kl']:.3f}"
        f"   (average KL - MI - marginal KL = {_pm(r, 'identity_gap')}; MI <= log N)"
    )
    return "\n".join(lines)


def write_surgery(result: dict[str, Any], path: str | pathlib.Path) -> pathlib.Path:
    """Writes ``result`` as JSON to ``path``; returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return path


TABLE_HEADER = [
    "| model | ELBO | reconstruction | avg KL | MI | marginal KL | log N | test NLL | "
    "paper ELBO | paper avg KL | paper MI | paper marginal KL |",
    "|" + " --- |" * 12,
]


def table_row(
    label: str,
    result: dict[str, Any],
    nll: float | None = None,
    paper: Sequence[float] | None = None,
) -> str:
    """A markdown row: the estimates ± s.e. (2 decimals), log N, the test NLL, and the
    paper's ELBO, average KL, MI and marginal KL (``–`` where there are none)."""
    cells = [label] + [_pm(result, key, 2) for key in TERMS] + [f"{result['log_n']:.4f}"]
    cells.append("–" if nll is None else f"{nll:.2f}")
    cells += [f"{v:.2f}" for v in paper] if paper else ["–"] * 4
    return "| " + " | ".join(cells) + " |"
