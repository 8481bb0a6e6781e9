"""Shared helpers for the benchmarks: timing, precision, output; the machine description is
:mod:`jvae.reports.machine`."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from jvae.reports.machine import cpu_model, describe, machine  # noqa: F401 (re-exported)

RESULTS = Path(__file__).resolve().parent / "results"


PRECISIONS = ("default", "float32", "tf32")


def add_precision_argument(parser) -> None:
    """``--precision``: the float32 matmul precision given to :func:`set_precision`."""
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="default",
        help="float32 matmul precision for jax and torch (matters on GPUs only)",
    )


def set_precision(precision: str) -> None:
    """float32 matmuls in full precision (``float32``) or TensorFloat-32 (``tf32``), for jax
    and torch alike; ``default`` leaves each library's own default."""
    import jax

    if precision == "default":
        return
    jax.config.update(
        "jax_default_matmul_precision", "highest" if precision == "float32" else "tensorfloat32"
    )
    try:
        import torch

        torch.set_float32_matmul_precision("highest" if precision == "float32" else "high")
    except ImportError:
        pass


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn) -> tuple[float, float]:
    """``(wall seconds, process CPU seconds)`` of one call of ``fn()``."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, cpu_seconds() - c0


def interleaved(fns: dict, repeats: int) -> tuple[dict, dict, list]:
    """Each of ``fns`` timed once per repeat, in turn: ``(wall, cpu, loads)``, the wall and
    process CPU seconds of every call per name and the 1-minute load after each repeat."""
    wall: dict = {n: [] for n in fns}
    cpu: dict = {n: [] for n in fns}
    loads = []
    for _ in range(repeats):
        for n, f in fns.items():
            w, c = timed(f)
            wall[n].append(w)
            cpu[n].append(c)
        loads.append(os.getloadavg()[0])
    return wall, cpu, loads


def command() -> str:
    return " ".join(["python", *[a if " " not in a else repr(a) for a in sys.argv]])


def write(name: str, payload: dict, markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=float) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
    print(markdown)


def git_rev() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return ""
