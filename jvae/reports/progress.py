"""Progress bars that stay out of logs: shown on an interactive terminal only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

from jvae.terminal import interactive


def progress_bar(iterable: Iterable | None, enabled: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, disabled unless ``enabled`` and on a terminal (a bar
    redrawn into a log file floods it)."""
    return tqdm(iterable, disable=not (enabled and interactive()), **kwargs)
