"""Presets of the cost projection: ``get_config(preset)`` is the preset module's config."""

from __future__ import annotations

from typing import Any

from experiments.runner import preset_config

PRESETS = ("smoke", "cpu")


def get_config(preset: str) -> dict[str, Any]:
    return preset_config(__name__, PRESETS, preset)
