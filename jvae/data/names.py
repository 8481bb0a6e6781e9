"""Dataset names: the bundled datasets, ``npz:PATH`` and ``tfds:NAME[/CONFIG]``; each name's
event shape and arrays.

Bundled (no file to bring): ``mnist``, ``omniglot`` and ``dsprites`` (offline TFDS builders
from their source files), ``digits`` and ``photo-patches`` (from scikit-learn and
scikit-image, :mod:`jvae.data.packaged`). ``npz:PATH`` reads an ``.npz`` file
(:mod:`jvae.data.npz`), ``tfds:NAME[/CONFIG]`` any TFDS dataset (:mod:`jvae.data.tfds_catalog`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from jvae.data.dsprites import load_dsprites
from jvae.data.mnist import load_mnist
from jvae.data.npz import load_npz, npz_event_shape
from jvae.data.omniglot import OMNIGLOT_NOTE, load_omniglot
from jvae.data.packaged import load_digits, load_photo_patches
from jvae.data.tfds_catalog import load_tfds, tfds_event_shape

_LOADERS: dict[str, Callable[..., dict[str, np.ndarray]]] = {
    "mnist": load_mnist,
    "omniglot": load_omniglot,
    "dsprites": load_dsprites,
    "digits": lambda data_dir=None: load_digits(),
    "photo-patches": lambda data_dir=None: load_photo_patches(),
}
#: The event shape of each bundled dataset's examples.
EVENT_SHAPES: dict[str, tuple[int, ...]] = {
    "mnist": (28, 28, 1),
    "omniglot": (28, 28, 1),
    "dsprites": (64, 64, 1),
    "digits": (8, 8, 1),
    "photo-patches": (32, 32, 3),
}
#: The bundled datasets' names.
DATASETS = tuple(_LOADERS)
PREFIXES = ("npz:", "tfds:")
# What a results page must say about a dataset that is not the paper's own file.
DATASET_NOTES: dict[str, str] = {"omniglot": OMNIGLOT_NOTE}


def check_dataset_name(name: str) -> None:
    """One-line ``ValueError`` unless ``name`` is a bundled dataset, ``npz:PATH`` or
    ``tfds:NAME[/CONFIG]``.

    >>> check_dataset_name("tfds:cifar10")
    >>> check_dataset_name("cifar10")
    Traceback (most recent call last):
    ...
    ValueError: unknown dataset 'cifar10'; choose one of ('mnist', 'omniglot', ...), npz:PATH ...
    """
    prefix = next((p for p in PREFIXES if name.startswith(p)), None)
    if name in _LOADERS or (prefix is not None and name[len(prefix) :]):
        return
    raise ValueError(
        f"unknown dataset {name!r}; choose one of {DATASETS}, npz:PATH (an .npz file) or "
        "tfds:NAME[/CONFIG] (a TFDS dataset)."
    )


def dataset_event_shape(
    name: str, image_feature: str = "", data_dir: str | os.PathLike[str] | None = None
) -> tuple[int, ...]:
    """The event shape of dataset ``name``'s examples, without reading them: a bundled one's
    from :data:`EVENT_SHAPES`, an npz file's from its header, a TFDS dataset's from its
    builder's feature info (``image_feature``; ``data_dir`` is the TFDS directory)."""
    check_dataset_name(name)
    if name.startswith("npz:"):
        return npz_event_shape(name.removeprefix("npz:"))
    if name.startswith("tfds:"):
        return tfds_event_shape(name.removeprefix("tfds:"), image_feature, data_dir)
    return EVENT_SHAPES[name]


def load_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, **kwargs: Any
) -> dict[str, np.ndarray]:
    """The arrays of dataset ``name`` (at least ``'train'`` and ``'test'``, float32
    ``[N, *event_shape]``): ``data_dir`` is where a bundled dataset's source files are (its
    loader's first argument) or a ``tfds:`` dataset's TFDS directory; ``kwargs`` go to the
    loader (e.g. ``image_feature``, ``train_split`` and ``test_split`` of
    :func:`~jvae.data.tfds_catalog.load_tfds`)."""
    check_dataset_name(name)
    if name.startswith("npz:"):
        return load_npz(name.removeprefix("npz:"), **kwargs)
    if name.startswith("tfds:"):
        return load_tfds(name.removeprefix("tfds:"), data_dir, **kwargs)
    return _LOADERS[name](data_dir, **kwargs)
