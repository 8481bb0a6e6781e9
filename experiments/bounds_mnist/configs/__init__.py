"""Presets of the objectives comparison: ``get_config(preset)`` is the preset module's config."""

from __future__ import annotations

import importlib
from typing import Any

PRESETS = ("smoke", "cpu", "paper")


def get_config(preset: str) -> dict[str, Any]:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}.")
    return importlib.import_module(f"{__name__}.{preset}").get_config()
