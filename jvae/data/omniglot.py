"""28x28 Omniglot as an offline TFDS builder, made here from the 105x105 originals.

**This is not the IWAE paper's file.** Burda et al. (2015) used ``chardata.mat`` (28x28,
24,345 train / 8,070 test), which cannot be obtained here. This builder makes a 28x28 version
from the original drawings (Lake et al. 2015, MIT licence) by exact area averaging
(:func:`downsample_ink`) and splits it with a documented seeded split of the same sizes
(:func:`omniglot_split`). Numbers measured on it are comparable with the paper's in kind, not
digit for digit.

Sources, per half of the alphabet set (``background``: 964 characters, ``evaluation``: 659),
in ``data_dir()/omniglot/``: the lossless numpy conversion ``images_<half>.npz`` (from
github.com/bitsandscraps/omniglot), else the official ``images_<half>.zip`` of PNGs (from
github.com/brendenlake/omniglot, ``python/``). Both are checked by sha256. Characters are
numbered 0..1622 as the official file names ``CCCC_DD.png`` (background first), drawers 0..19.
Pixels are *ink*: 1 on a stroke, 0 on the background (the files store the opposite), so that
strokes are bright as MNIST's digits are.
"""

from __future__ import annotations

import io
import math
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from PIL import Image

from jvae.data import files
from jvae.data.files import DataError, tfds_dir, verify_sha256
from jvae.data.tfds_io import prepare_offline, read_split

OMNIGLOT_NOTE = (
    "Omniglot 28x28 made by jvae from the 105x105 originals (exact area downsampling, seeded "
    "24,345/8,070 split); not the IWAE paper's chardata.mat, so results are not digit-for-digit "
    "comparable with the paper's."
)
SOURCE_SIZE = 105
IMAGE_SIZE = 28
# A 28x28 pixel covers (105/28)^2 = (15/4)^2 = 225/16 original pixels and its ink area is a
# multiple of 1/16 pixel, so every grey level is exactly k/225 for an integer k in 0..225.
_SCALE_NUM = SOURCE_SIZE // math.gcd(SOURCE_SIZE, IMAGE_SIZE)  # 15
_SCALE_DEN = IMAGE_SIZE // math.gcd(SOURCE_SIZE, IMAGE_SIZE)  # 4
GREY_LEVELS = _SCALE_NUM**2

NUM_DRAWERS = 20
HALVES = {"background": 964, "evaluation": 659}  # characters per half, in id order
FIRST_ID = {"background": 0, "evaluation": 964}  # id of each half's first character
NUM_CHARACTERS = sum(HALVES.values())  # 1623
NPZ_SHA256 = {
    "background": "8bf84167413cd00beacdce3fe582f780ab538d8dbef043a6d688f2527bbce199",
    "evaluation": "0b84c7ffd94c4841c0040e529c86a82eaaccb986d8eadad5673f7991b7475276",
}
ZIP_SHA256 = {  # the official zips, as in TFDS's own omniglot checksums
    "background": "ad41ab679c8b5d90b271ef46be6987cc81211774a695c29dcc5367b2b26ee640",
    "evaluation": "1f61a8f3366785b057fc117d9228e78a16e3d976c8953b2a10fcc74cf0609cee",
}

SPLIT_SEED = 0
TRAIN_DRAWERS = 15
NUM_LEFT_OUT = 45
OMNIGLOT_SPLIT_SIZES = {
    "train": NUM_CHARACTERS * TRAIN_DRAWERS,  # 24,345
    "test": NUM_CHARACTERS * (NUM_DRAWERS - TRAIN_DRAWERS) - NUM_LEFT_OUT,  # 8,070
}
_PNG_NAME = re.compile(r"(\d{4})_(\d{2})\.png$")


def _fix_hint(directory: Path, half: str) -> str:
    return (
        f"Fix: put images_{half}.npz (sha256 {NPZ_SHA256[half]}, github.com/bitsandscraps/"
        f"omniglot) or the official images_{half}.zip (sha256 {ZIP_SHA256[half]}, "
        f"github.com/brendenlake/omniglot python/) in {directory}, or set JVAE_DATA_DIR to a "
        "directory holding omniglot/."
    )


def omniglot_sources(directory: Path) -> dict[str, Path]:
    """The verified source file of each half in ``directory``: the npz, else the official zip.

    Raises:
      DataError: a half has neither file, or its file fails the sha256 check.
    """
    sources = {}
    for half in HALVES:
        npz, zp = directory / f"images_{half}.npz", directory / f"images_{half}.zip"
        if npz.is_file():
            sources[half] = verify_sha256(npz, NPZ_SHA256[half], _fix_hint(directory, half))
        elif zp.is_file():
            sources[half] = verify_sha256(zp, ZIP_SHA256[half], _fix_hint(directory, half))
        else:
            raise DataError(
                f"Missing data file {npz} (nor {zp.name}). {_fix_hint(directory, half)}"
            )
    return sources


def read_omniglot_zip(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ``CCCC_DD.png`` in an official Omniglot zip (also the ``small1``/``small2`` ones).

    Returns:
      ``(characters [n] int64 = CCCC - 1, drawers [n] int64 = DD - 1, ink [n, 105, 105] bool)``
      with ink True on a stroke.
    """
    characters, drawers, ink = [], [], []
    try:
        with zipfile.ZipFile(path) as zf:
            for name in sorted(zf.namelist()):
                match = _PNG_NAME.search(name)
                if match is None:
                    continue
                with Image.open(io.BytesIO(zf.read(name))) as png:
                    white = np.asarray(png.convert("1"), dtype=bool)
                if white.shape != (SOURCE_SIZE, SOURCE_SIZE):
                    raise DataError(f"{path}: {name} is {white.shape}, expected 105x105.")
                characters.append(int(match[1]) - 1)
                drawers.append(int(match[2]) - 1)
                ink.append(~white)
    except (OSError, zipfile.BadZipFile) as e:
        raise DataError(f"Cannot read Omniglot zip {path}: {e}.") from None
    if not ink:
        raise DataError(f"{path} holds no Omniglot drawings (files named CCCC_DD.png).")
    return np.asarray(characters, np.int64), np.asarray(drawers, np.int64), np.stack(ink)


def _read_half(path: Path, half: str) -> np.ndarray:
    """Ink of one half as bool ``[characters, 20, 105, 105]``, from its npz or zip."""
    if path.suffix == ".npz":
        with np.load(path) as f:
            white = f["images"]
        shape = (HALVES[half], NUM_DRAWERS, SOURCE_SIZE, SOURCE_SIZE)
        if white.shape != shape or white.dtype != bool:
            raise DataError(
                f"{path}: images are {white.dtype} {white.shape}, expected bool {shape}."
            )
        return ~white
    return ink_grid(*read_omniglot_zip(path), half=half, source=path)


def ink_grid(
    characters: np.ndarray, drawers: np.ndarray, ink: np.ndarray, *, half: str, source: Path
) -> np.ndarray:
    """Drawings of one half (from :func:`read_omniglot_zip`) placed at ``[character, drawer]``
    of a bool ``[characters, 20, 105, 105]`` array; each slot must be filled exactly once.

    Raises:
      DataError: ids outside the half, or slots missing or repeated (names ``source``).
    """
    num, first = HALVES[half], FIRST_ID[half]
    local = characters - first
    if local.size and (local.min() < 0 or local.max() >= num):
        raise DataError(f"{source}: character ids outside {first + 1}..{first + num} ({half}).")
    grid = np.zeros((num, NUM_DRAWERS, SOURCE_SIZE, SOURCE_SIZE), bool)
    grid[local, drawers] = ink
    filled = np.zeros((num, NUM_DRAWERS), np.int64)
    np.add.at(filled, (local, drawers), 1)
    if not (filled == 1).all():
        raise DataError(
            f"{source}: {int((filled == 1).sum())} of the {filled.size} (character, drawer) "
            f"images of the {half} set occur exactly once. {_fix_hint(source.parent, half)}"
        )
    return grid


def _quarter_pixel_weights() -> np.ndarray:
    """``W[i, j]`` = overlap of source pixel ``j`` with target pixel ``i``, in units of 1/4
    source pixel: an integer in 0..4, each row summing to 15."""
    src = _SCALE_DEN * np.arange(SOURCE_SIZE)[None, :]  # source pixel j: [4j, 4j + 4)
    tgt = _SCALE_NUM * np.arange(IMAGE_SIZE)[:, None]  # target pixel i: [15i, 15i + 15)
    overlap = np.minimum(src + _SCALE_DEN, tgt + _SCALE_NUM) - np.maximum(src, tgt)
    return np.maximum(overlap, 0).astype(np.float32)


def downsample_ink(ink: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Exact area averages of 105x105 binary images on a 28x28 grid, as integer levels.

    .. math::
        g_{ik} = \\frac{1}{s^2} \\iint_{\\text{box}_{ik}} x(u, v)\\,du\\,dv
               = \\frac{1}{225} \\sum_{j,l} W_{ij}\\, x_{jl}\\, W_{kl}, \\qquad s = 105/28,

    where box ``ik`` is the square ``[s i, s(i+1)) x [s k, s(k+1))`` of the source image (taken
    as piecewise constant on its pixels) and ``W`` holds the overlaps in quarter pixels. The sum
    is an integer (exact in float32), returned as ``uint8`` levels ``225 g`` in 0..225.

    Args:
      ink: ``[..., 105, 105]`` bool (or 0/1) images.
      chunk: images per matrix product (bounds memory).

    Returns:
      ``[..., 28, 28]`` uint8 grey levels; divide by :data:`GREY_LEVELS` for values in [0, 1].
    """
    ink = np.asarray(ink)
    if ink.shape[-2:] != (SOURCE_SIZE, SOURCE_SIZE):
        raise ValueError(f"downsample_ink needs [..., 105, 105] images, got {ink.shape}.")
    flat = ink.reshape(-1, SOURCE_SIZE, SOURCE_SIZE)
    w = _quarter_pixel_weights()
    out = np.empty((len(flat), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    for start in range(0, len(flat), chunk):
        x = flat[start : start + chunk].astype(np.float32)
        out[start : start + chunk] = np.rint(w @ x @ w.T)
    return out.reshape(*ink.shape[:-2], IMAGE_SIZE, IMAGE_SIZE)


def omniglot_split(seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """The seeded split of the 1,623 x 20 images: 24,345 train, 8,070 test, 45 left out.

    Indices are ``20 * character + drawer``. The paper's sizes are 15 drawers of every
    character for training (15 x 1623 = 24,345) and 5 for testing less 45 images
    (5 x 1623 - 45 = 8,070); which 45 its file lacks is not known. So, with
    ``rng = np.random.default_rng(seed)``: each character's drawers are permuted, the first 15
    go to train and the other 5 to test; then 45 distinct characters are drawn and the last of
    their 5 test drawings is left out (in no split). Train and test are finally shuffled, so
    that any prefix (``train_subset``) or suffix (a validation carve) is a random sample.

    Returns:
      ``{'train': [24345], 'test': [8070], 'left_out': [45]}`` int64 flat indices, disjoint and
      together covering all 32,460 images.
    """
    rng = np.random.default_rng(seed)
    drawer_order = rng.permuted(np.tile(np.arange(NUM_DRAWERS), (NUM_CHARACTERS, 1)), axis=1)
    flat = NUM_DRAWERS * np.arange(NUM_CHARACTERS)[:, None] + drawer_order
    train, test = flat[:, :TRAIN_DRAWERS].ravel(), flat[:, TRAIN_DRAWERS:]
    dropped = np.zeros(test.shape, bool)
    dropped[rng.choice(NUM_CHARACTERS, NUM_LEFT_OUT, replace=False), -1] = True
    return {
        "train": rng.permutation(train).astype(np.int64),
        "test": rng.permutation(test[~dropped]).astype(np.int64),
        "left_out": np.sort(test[dropped]).astype(np.int64),
    }


class JvaeOmniglot(tfds.core.GeneratorBasedBuilder):
    """28x28 Omniglot grey levels (uint8 ``k``, grey = k / 225) from the 105x105 originals."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "Exact area downsampling to 28x28; seeded split 24,345 / 8,070 (seed 0)."
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Place images_background.npz and images_evaluation.npz (github.com/bitsandscraps/"
        "omniglot), or the official images_background.zip and images_evaluation.zip "
        "(github.com/brendenlake/omniglot, python/), in the manual dir."
    )

    # TFDS's default looks the file up via `importlib_resources`, which is not installed here.
    code_path = epath.Path(__file__)  # type: ignore[assignment]

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=OMNIGLOT_NOTE,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Tensor(
                        shape=(28, 28), dtype=np.uint8, encoding=tfds.features.Encoding.BYTES
                    ),
                    "character": tfds.features.ClassLabel(num_classes=NUM_CHARACTERS),
                    "drawer": tfds.features.ClassLabel(num_classes=NUM_DRAWERS),
                }
            ),
            supervised_keys=("image", "character"),
            disable_shuffling=True,  # keep the seeded order of omniglot_split
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        sources = omniglot_sources(Path(dl_manager.manual_dir))
        levels = np.concatenate(
            [downsample_ink(_read_half(sources[half], half)) for half in HALVES]
        )
        split = omniglot_split()
        return {name: self._generate_examples(levels, split[name]) for name in OMNIGLOT_SPLIT_SIZES}

    def _generate_examples(
        self, levels: np.ndarray, indices: np.ndarray
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        for position, index in enumerate(indices.tolist()):  # TFDS stores examples by key
            character, drawer = divmod(index, NUM_DRAWERS)
            example = {"image": levels[character, drawer], "character": character, "drawer": drawer}
            yield position, example


def omniglot_builder(
    data_dir: str | os.PathLike[str] | None = None,
    tfds_data_dir: str | os.PathLike[str] | None = None,
) -> JvaeOmniglot:
    """The prepared Omniglot builder (prepared on first use from ``data_dir()/omniglot``)."""
    builder = JvaeOmniglot(data_dir=str(tfds_data_dir or tfds_dir()), file_format="array_record")

    def sources_dir() -> Path:
        directory = files.data_dir(data_dir) / "omniglot"
        omniglot_sources(directory)  # fail here, with the file and the fix, not inside TFDS
        return directory

    return prepare_offline(builder, sources_dir)


def load_omniglot(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    tfds_data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, np.ndarray]:
    """28x28 Omniglot grey levels (ink fraction) as float32 ``[n, 28, 28, 1]`` in [0, 1].

    Returns ``{'train': [24345, 28, 28, 1], 'test': [8070, 28, 28, 1], 'train_labels',
    'test_labels'}``
    with labels the int64 character ids 0..1622, in the order of :func:`omniglot_split`.
    Binarise train dynamically and test with a fixed seed
    (:func:`jvae.data.static_binarize`), as ``jvae.run.train.load_arrays`` does.
    Not the IWAE paper's file: see :data:`OMNIGLOT_NOTE`.
    """
    builder = omniglot_builder(data_dir, tfds_data_dir)
    out = {}
    for split, n in OMNIGLOT_SPLIT_SIZES.items():
        levels, characters = read_split(builder, split, ("image", "character"))
        if levels.shape != (n, IMAGE_SIZE, IMAGE_SIZE):
            raise DataError(
                f"Omniglot {split}: expected {n} 28x28 images, got {list(levels.shape)}. Fix: "
                f"delete {Path(builder.data_dir)} to prepare it again."
            )
        out[split] = levels[..., None].astype(np.float32) / GREY_LEVELS
        out[f"{split}_labels"] = characters.astype(np.int64)
    return out
