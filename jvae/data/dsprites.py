"""dSprites as an offline TFDS builder, and its exact factor sampler for the metrics.

dSprites (Matthey, Higgins, Hassabis & Lerchner 2017, Apache 2.0) renders 64x64 binary sprites
from five factors: shape (3), scale (6), orientation (40), posX (32), posY (32); the original
file holds all 737,280 combinations. Three builder configs read three files in
``data_dir()/dsprites/``:

- ``grid`` (the default): ``dsprites_downsampled.npz``, every combination of 3 shapes x 6
  scales x 10 orientations (every 4th) x 16 posX x 16 posY (every 2nd), 46,080 images, with
  factor classes counted along that reduced grid (github.com/colleenjg/neuromatch_ssl_tutorial);
- ``random20k``: ``dsprites_subset.npz``, 20,000 images drawn at random from the original
  (same source); classes count along the original sizes;
- ``full``: the original ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` of
  github.com/deepmind/dsprites-dataset (its constant ``color`` column is dropped). Where the
  web is reachable, TFDS's own ``dsprites`` dataset holds the same images.

Each config is split 90/10 by :func:`dsprites_split`. Images are stored as uint8 and become
float32 ``[64, 64, 1]`` in {0, 1} only when loaded. Pixel ``[row, col]``: posX moves the sprite
along columns, posY along rows.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from jvae.data import files
from jvae.data.files import DataError, tfds_dir, verify_checksum
from jvae.data.splits import shuffled_split
from jvae.data.tfds_io import prepare_offline, read_split

FACTOR_NAMES = ("shape", "scale", "orientation", "posX", "posY")
IMAGE_SIZE = 64
EVENT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
SPLIT_SEED = 0
TEST_FRACTION = 10  # one image in ten goes to test
_SPLITS = ("train", "test")


@dataclasses.dataclass(eq=False)
class DSpritesConfig(tfds.core.BuilderConfig):
    """One dSprites source file: its checksum, factor sizes, and whether it is a full grid."""

    filename: str = ""
    algorithm: str = "sha256"
    digest: str = ""
    factor_sizes: tuple[int, ...] = ()
    full_grid: bool = True
    origin: str = ""


CONFIGS = {
    config.name: config
    for config in (
        DSpritesConfig(
            name="grid",
            description="Full factorial grid 3x6x10x16x16 = 46,080 images.",
            filename="dsprites_downsampled.npz",
            digest="8a632f70c0dbd279dd771854981a3de945b2448eddbd9b2af59fb83e8728f871",
            factor_sizes=(3, 6, 10, 16, 16),
            origin="github.com/colleenjg/neuromatch_ssl_tutorial, dsprites/",
        ),
        DSpritesConfig(
            name="random20k",
            description="20,000 images drawn at random from the 737,280.",
            filename="dsprites_subset.npz",
            digest="32e7cb03fbab06c521df18877073c8d8508877ccecf27d98a9815fa2d4856567",
            factor_sizes=(3, 6, 40, 32, 32),
            full_grid=False,
            origin="github.com/colleenjg/neuromatch_ssl_tutorial, dsprites/",
        ),
        DSpritesConfig(
            name="full",
            description="All 737,280 images (3x6x40x32x32), the original file.",
            filename="dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",
            algorithm="md5",  # the digest published for the original file
            digest="7da33b31b13a06f4b04a70402ce90c2e",
            factor_sizes=(3, 6, 40, 32, 32),
            origin="github.com/deepmind/dsprites-dataset; or use TFDS's own `dsprites` dataset",
        ),
    )
}


def _fix_hint(config: DSpritesConfig, directory: Path) -> str:
    return (
        f"Fix: put a good copy of {config.filename} ({config.algorithm} {config.digest}; "
        f"from {config.origin}) in {directory}, or set JVAE_DATA_DIR to a directory holding "
        "dsprites/."
    )


def dsprites_source(config: DSpritesConfig, directory: Path) -> Path:
    """The verified source file of ``config`` in ``directory``.

    Raises:
      DataError: the file is missing or fails its checksum; the message names file and fix.
    """
    path = directory / config.filename
    return verify_checksum(path, config.digest, _fix_hint(config, directory), config.algorithm)


def read_dsprites_npz(path: Path, config: DSpritesConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(images [N, 64, 64] uint8 in {0, 1}, factors [N, 5] int64 classes)`` of a dSprites npz.

    A sixth leading ``color`` column (the original file's) is dropped; it must be constant.

    Raises:
      DataError: missing keys, wrong shapes or values, classes outside ``factor_sizes``, or, for
        a full-grid config, rows that are not every combination exactly once.
    """
    fix = _fix_hint(config, path.parent)
    try:
        with np.load(path, allow_pickle=True, encoding="latin1") as f:
            images, factors = f["imgs"], np.asarray(f["latents_classes"], np.int64)
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"Cannot read dSprites arrays from {path}: {e}. {fix}") from None
    num = len(images)
    if factors.ndim == 2 and factors.shape[1] == len(FACTOR_NAMES) + 1:
        if (factors[:, 0] != factors[0, 0]).any():
            raise DataError(f"{path}: the leading latent column (color) is not constant. {fix}")
        factors = factors[:, 1:]
    if images.shape != (num, IMAGE_SIZE, IMAGE_SIZE) or factors.shape != (num, 5):
        raise DataError(
            f"{path}: imgs {list(images.shape)} and latents_classes {list(factors.shape)}, "
            f"expected [N, 64, 64] and [N, 5]. {fix}"
        )
    if images.dtype != np.uint8 or images.max(initial=0) > 1:
        raise DataError(f"{path}: imgs must be uint8 in {{0, 1}}, got {images.dtype}. {fix}")
    sizes = np.asarray(config.factor_sizes)
    if (factors < 0).any() or (factors >= sizes).any():
        raise DataError(f"{path}: latents_classes outside 0..{sizes - 1}. {fix}")
    if config.full_grid and not is_full_grid(factors, config.factor_sizes):
        raise DataError(
            f"{path}: its {num} rows are not every combination of the factor sizes "
            f"{config.factor_sizes} exactly once, as the {config.name!r} config needs. {fix}"
        )
    return images, factors


def is_full_grid(factors: np.ndarray, factor_sizes: tuple[int, ...]) -> bool:
    """Whether the rows of ``factors`` ``[N, F]`` are every combination exactly once."""
    num = int(np.prod(factor_sizes))
    if len(factors) != num:
        return False
    rows = np.ravel_multi_index(np.asarray(factors).T, factor_sizes)
    return bool((np.bincount(rows, minlength=num) == 1).all())


def dsprites_split(num: int, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """Seeded 90/10 split of rows ``0..num-1``: ``perm = default_rng(seed).permutation(num)``,
    test = the first ``num // 10`` of ``perm``, train = the rest, both in that shuffled order
    (:func:`~jvae.data.splits.shuffled_split`)."""
    return shuffled_split(num, TEST_FRACTION, seed)


class JvaeDsprites(tfds.core.GeneratorBasedBuilder):
    """dSprites 64x64 binary sprites (uint8) with their five factor classes."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {"1.0.0": "grid, random20k, full; 90/10 split."}
    BUILDER_CONFIGS: ClassVar[list[DSpritesConfig]] = list(CONFIGS.values())
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Place the config's file in the manual dir: " + "; ".join(
        f"{c.name}: {c.filename} (from {c.origin})" for c in CONFIGS.values()
    )

    # TFDS's default looks the file up via `importlib_resources`, which is not installed here.
    code_path = epath.Path(__file__)  # type: ignore[assignment]

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="dSprites (Matthey et al. 2017): 64x64 binary sprites; factors shape, "
            "scale, orientation, posX, posY as class indices.",
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Tensor(
                        shape=(64, 64), dtype=np.uint8, encoding=tfds.features.Encoding.BYTES
                    ),
                    "factors": tfds.features.Tensor(shape=(5,), dtype=np.int64),
                }
            ),
            disable_shuffling=True,  # keep the seeded order of dsprites_split
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        config = self.builder_config
        path = dsprites_source(config, Path(dl_manager.manual_dir))
        images, factors = read_dsprites_npz(path, config)
        split = dsprites_split(len(images))
        return {name: self._generate_examples(images, factors, split[name]) for name in _SPLITS}

    def _generate_examples(
        self, images: np.ndarray, factors: np.ndarray, rows: np.ndarray
    ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        for position, row in enumerate(rows.tolist()):  # TFDS stores examples by key
            yield position, {"image": images[row], "factors": factors[row]}


def dsprites_builder(
    data_dir: str | os.PathLike[str] | None = None,
    tfds_data_dir: str | os.PathLike[str] | None = None,
    config: str = "grid",
) -> JvaeDsprites:
    """The prepared dSprites builder of ``config`` (prepared on first use from
    ``data_dir()/dsprites``)."""
    if config not in CONFIGS:
        raise ValueError(f"Unknown dSprites config {config!r}; choose one of {sorted(CONFIGS)}.")
    builder = JvaeDsprites(
        config=config, data_dir=str(tfds_data_dir or tfds_dir()), file_format="array_record"
    )

    def source_dir() -> Path:
        directory = files.data_dir(data_dir) / "dsprites"
        dsprites_source(CONFIGS[config], directory)  # fail here, with the file and the fix
        return directory

    return prepare_offline(builder, source_dir)


def load_dsprites(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    config: str = "grid",
    tfds_data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, np.ndarray]:
    """dSprites images as float32 ``[n, 64, 64, 1]`` in {0, 1} with their factor classes.

    Returns ``{'train', 'test', 'train_factors', 'test_factors'}``; factors are int64
    ``[n, 5]`` class indices in the order of :data:`FACTOR_NAMES`. For ``grid`` train has
    41,472 images and test 4,608 (:func:`dsprites_split`), about 0.75 GB as float32; for
    ``full`` that would be 12 GB, so stream from ``dsprites_builder(...).as_data_source()``.
    """
    builder = dsprites_builder(data_dir, tfds_data_dir, config)
    out = {}
    for split in _SPLITS:
        images, factors = read_split(builder, split, ("image", "factors"))
        out[split] = images.reshape(len(images), *EVENT_SHAPE).astype(np.float32)
        out[f"{split}_factors"] = factors.astype(np.int64)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class DSpritesFactors:
    """Exact factor sampler over a full dSprites grid (a :class:`~jvae.data.FactorDataset`).

    ``grid_images[r]`` is the image whose factors ``f`` have ravel index
    ``r = ((f_0 s_1 + f_1) s_2 + f_2) ... = np.ravel_multi_index(f, factor_sizes)``, so
    :meth:`images` is a table lookup.
    """

    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    grid_images: np.ndarray  # uint8 [prod(factor_sizes), 64, 64, 1] in {0, 1}

    @classmethod
    def from_examples(
        cls, images: np.ndarray, factors: np.ndarray, factor_sizes: tuple[int, ...]
    ) -> DSpritesFactors:
        """Arrange ``images`` ``[N, 64, 64]``, ``[N, 64, 64, 1]`` or ``[N, 4096]`` with
        ``factors`` ``[N, 5]`` (in any order) into the grid; every combination must occur
        exactly once."""
        sizes = tuple(int(s) for s in factor_sizes)
        if not is_full_grid(factors, sizes):
            raise DataError(
                f"{len(factors)} examples do not cover the {int(np.prod(sizes))} combinations of "
                f"factor sizes {sizes} exactly once; only a full grid gives an exact sampler."
            )
        rows = np.ravel_multi_index(np.asarray(factors).T, sizes)
        grid = np.empty((len(rows), *EVENT_SHAPE), np.uint8)
        grid[rows] = np.asarray(images).reshape(len(rows), *EVENT_SHAPE)
        return cls(FACTOR_NAMES, sizes, grid)

    def sample_factors(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``[n, 5]`` int64 classes, each factor independent and uniform over its values."""
        return np.stack([rng.integers(0, s, size=n) for s in self.factor_sizes], axis=1)

    def images(self, factors: np.ndarray) -> np.ndarray:
        """``[n, 64, 64, 1]`` float32 images in {0, 1} of ``[n, 5]`` integer factor classes."""
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != len(self.factor_sizes):
            raise ValueError(
                f"factors must be [n, {len(self.factor_sizes)}] class indices, got shape "
                f"{factors.shape}."
            )
        if not np.issubdtype(factors.dtype, np.integer):
            raise ValueError(f"factors must be integer class indices, got {factors.dtype}.")
        if (factors < 0).any() or (factors >= np.asarray(self.factor_sizes)).any():
            raise ValueError(
                f"factor classes out of range: each column j needs 0 <= f < {self.factor_sizes}[j]."
            )
        rows = np.ravel_multi_index(factors.T, self.factor_sizes)
        return self.grid_images[rows].astype(np.float32)


def dsprites_factors(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    config: str = "grid",
    tfds_data_dir: str | os.PathLike[str] | None = None,
) -> DSpritesFactors:
    """The exact factor sampler of a full-grid config (``grid`` or ``full``), from its builder.

    Raises:
      ValueError: ``config`` is ``random20k``, a random subset rather than a grid.
    """
    if config in CONFIGS and not CONFIGS[config].full_grid:
        raise ValueError(
            f"dSprites config {config!r} is a random subset, not a full factor grid, so it "
            "cannot give images for chosen factors; use config='grid' (or 'full')."
        )
    builder = dsprites_builder(data_dir, tfds_data_dir, config)
    parts = [read_split(builder, split, ("image", "factors")) for split in _SPLITS]
    images, factors = (np.concatenate(arrays) for arrays in zip(*parts))
    return DSpritesFactors.from_examples(images, factors, CONFIGS[config].factor_sizes)
