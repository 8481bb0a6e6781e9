"""Progress bars that stay out of logs: shown on an interactive terminal only."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm


def interactive() -> bool:
    """Whether standard error is a terminal (not a log file or a pipe)."""
    return sys.stderr.isatty()


def progress_bar(iterable: Iterable | None, enabled: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, disabled unless ``enabled`` and on a terminal (a bar
    redrawn into a log file floods it)."""
    return tqdm(iterable, disable=not (enabled and interactive()), **kwargs)


def quiet_tfds() -> None:
    """Turns TFDS's own progress bars off when not on a terminal."""
    if not interactive():
        import tensorflow_datasets as tfds

        tfds.display_progress_bar(False)
