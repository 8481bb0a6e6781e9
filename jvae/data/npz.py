"""A dataset from one ``.npz`` file (``dataset='npz:PATH'``).

The file holds a ``train`` array and optionally ``test`` and ``validation`` arrays (other
arrays, such as labels, are ignored), each ``[N, *event_shape]``, uint8 or float (or bool or
other integers), converted by :func:`jvae.data.checks.to_float32` (uint8 :math:`v / 255`,
floats kept as they are). A ``[N, D]`` array is a vector dataset, event shape ``(D,)``; a
``[N, H, W]`` array holds grey images and becomes ``[N, H, W, 1]``; ``[N, H, W, C]`` and higher
are kept.

Splits, as MNIST's: a ``validation`` array is appended to the end of ``train``, so
``DataSpec(validation=len(validation))`` holds out exactly it (and without a validation split it
is trained on). Without a ``test`` array, a seeded tenth of ``train`` is the test set
(:func:`~jvae.data.splits.shuffled_split`, both then in shuffled order).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from jvae.data.checks import event_shape_of, to_float32
from jvae.data.files import DataError
from jvae.data.splits import shuffled_split

SPLITS = ("train", "test", "validation")
TEST_FRACTION = 10  # without a test array, one training example in ten is held out
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0}


def _path(path: str | os.PathLike[str]) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(
            f"npz file {path} not found. Fix: give dataset='npz:PATH' the path of an .npz "
            "holding a 'train' array (np.savez(PATH, train=..., test=...))."
        )
    return path


def npz_headers(path: str | os.PathLike[str]) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """``{name: (shape, dtype)}`` of the arrays of the npz at ``path``, read from their
    ``.npy`` headers only (no array data is read; compressed files too)."""
    path = _path(path)
    headers = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                if not member.endswith(".npy"):
                    continue
                with zf.open(member) as f:
                    version = np.lib.format.read_magic(f)
                    read = _HEADER_READERS.get(version, np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(f)
                headers[member[: -len(".npy")]] = (tuple(shape), dtype)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"Cannot read {path} as an .npz file: {e}.") from None
    if "train" not in headers:
        raise DataError(
            f"{path} has no 'train' array (its arrays: {sorted(headers)}). Fix: save the "
            "training examples as train= (np.savez(PATH, train=..., test=...))."
        )
    return headers


def npz_event_shape(path: str | os.PathLike[str]) -> tuple[int, ...]:
    """The event shape of the npz dataset at ``path``, from its ``train`` header."""
    return event_shape_of(npz_headers(path)["train"][0], f"{path} train")


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``{'train', 'test'}`` float32 ``[N, *event_shape]`` of the npz at ``path``.

    uint8 arrays become :math:`v / 255` (unless all their values are 0 or 1: binary images
    stay 0 and 1); float arrays are kept as they are; ``[N, H, W]`` gains a channel axis. A
    ``validation`` array ends ``train``; without a ``test`` array, a seeded tenth of ``train``
    is the test set (see :mod:`jvae.data.npz`).
    """
    headers = npz_headers(path)
    with np.load(_path(path), allow_pickle=False) as f:
        raw = {split: f[split] for split in SPLITS if split in headers}
    arrays = {
        split: x.reshape(len(x), *event_shape_of(x.shape, f"{path} {split}"))
        for split, x in raw.items()
    }
    if "test" not in arrays:
        train, rows = arrays["train"], shuffled_split(len(arrays["train"]), TEST_FRACTION)
        arrays["train"], arrays["test"] = train[rows["train"]], train[rows["test"]]
    arrays = to_float32(arrays)
    if "validation" in arrays:
        validation = arrays.pop("validation")
        if validation.shape[1:] != arrays["train"].shape[1:]:
            raise DataError(
                f"{path}: train has event shape {arrays['train'].shape[1:]} but validation has "
                f"{validation.shape[1:]}. Fix: save every split with one event shape."
            )
        arrays["train"] = np.concatenate([arrays["train"], validation])
    return arrays
