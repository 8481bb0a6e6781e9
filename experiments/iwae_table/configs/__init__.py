"""Presets of the IWAE table: ``get_config(preset)`` returns the preset module's config."""

from __future__ import annotations

from typing import Any

from experiments.runner import preset_config

PRESETS = ("smoke", "cpu", "paper")
#: The paper run's model and data (``runs/iwae_table/paper/mnist_l1_iwae_k1``), the base of the
#: differences from the paper's code (``python -m experiments.iwae_table.differences``).
PAPER_RUN = dict(
    dataset="mnist", layers=1, k=1, model="iwae", decoder_bias="data_mean", batch_size=20,
    mnist_scale=256,
)  # fmt: skip


def get_config(preset: str) -> dict[str, Any]:
    return preset_config(__name__, PRESETS, preset)
