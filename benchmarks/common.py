"""Shared helpers for the benchmarks: machine description, load average, timing, output."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """nproc, CPU model, library versions, XLA_FLAGS and the load average now."""
    import jax

    device = jax.devices()[0]
    info = {
        "backend": device.platform,
        "device": device.device_kind,
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": getattr(__import__("jaxlib"), "__version__", "?"),
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
        "loadavg_start": os.getloadavg(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def describe(info: dict) -> str:
    """One line naming the machine: the accelerator if any, else the CPU count and model."""
    if info["backend"] != "cpu":
        return f"{info['device']} ({info['backend']}), host {info['nproc']} CPUs"
    return f"{info['nproc']} CPUs, {info['cpu_model']}"


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
