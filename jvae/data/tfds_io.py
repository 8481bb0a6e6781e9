"""Preparing and reading the offline TFDS builders (array_record, no TensorFlow, no web).

A builder is prepared once from local files handed to TFDS as its manual directory, then read
back as numpy arrays through ``builder.as_data_source()``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import tensorflow_datasets as tfds

from jvae.terminal import interactive

Builder = TypeVar("Builder", bound=tfds.core.DatasetBuilder)


def prepare_offline(builder: Builder, manual_dir: Callable[[], Path]) -> Builder:
    """``builder``, prepared on first use from the files in ``manual_dir()`` only.

    ``manual_dir`` is called (and may raise :class:`~jvae.data.DataError`) only when the
    builder is not prepared yet, so prepared data needs no source files.
    """
    if not builder.is_prepared():
        if not interactive():
            tfds.display_progress_bar(False)  # its bars would flood a log file
        config = tfds.download.DownloadConfig(manual_dir=str(manual_dir()), try_download_gcs=False)
        builder.download_and_prepare(download_config=config)
    return builder


def read_split(
    builder: tfds.core.DatasetBuilder, split: str, features: tuple[str, ...]
) -> tuple[np.ndarray, ...]:
    """The named ``features`` of every example of ``split``, each stacked along axis 0, in the
    split's stored order."""
    source = builder.as_data_source(split=split)
    examples = source.__getitems__(range(len(source)))
    return tuple(np.stack([ex[name] for ex in examples]) for name in features)
