"""Which machine produced a number: CPU model and count, accelerator, library versions, load."""

from __future__ import annotations

import os
import platform
from pathlib import Path


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


def describe(info: dict | None = None) -> str:
    """One line naming the machine: the accelerator if any, else the CPU count and model."""
    info = info or machine()
    if info["backend"] != "cpu":
        return f"{info['device']} ({info['backend']}), host {info['nproc']} CPUs"
    return f"{info['nproc']} CPUs, {info['cpu_model']}, jax {info['jax']}"
