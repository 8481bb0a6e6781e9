"""Tests for jvae.data.dsprites: the TFDS builder on the real files, the exact factor sampler
(checked against the file's latents_classes and against the images themselves), and errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from jvae import data
from jvae.data import dsprites as ds
from jvae.data import names
from jvae.data.factors import FactorDataset
from jvae.data.spec import DataSpec

_SOURCE = data.data_dir() / "dsprites"
_GRID_SIZES = (3, 6, 10, 16, 16)


def _read_npz(name: str) -> tuple[np.ndarray, np.ndarray]:
    path = _SOURCE / name
    if not path.is_file():
        pytest.skip(f"dSprites source file absent (set JVAE_DATA_DIR): {path}")
    with np.load(path, allow_pickle=True, encoding="latin1") as f:
        return f["imgs"], f["latents_classes"]


@pytest.fixture(scope="session")
def grid_file() -> tuple[np.ndarray, np.ndarray]:
    """The grid file's imgs [46080, 64, 64] and latents_classes [46080, 5], read directly."""
    return _read_npz("dsprites_downsampled.npz")


@pytest.fixture(scope="session")
def row_of(grid_file: tuple[np.ndarray, np.ndarray]) -> dict[tuple[int, ...], int]:
    """File row of each factor tuple, from latents_classes (no assumption on the row order)."""
    return {tuple(f): i for i, f in enumerate(grid_file[1].tolist())}


@pytest.fixture(scope="session")
def dsprites_tfds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dsprites_tfds")


@pytest.fixture(scope="session")
def grid(dsprites_tfds: Path, grid_file: tuple) -> dict[str, np.ndarray]:
    return data.load_dataset("dsprites", tfds_data_dir=dsprites_tfds)


@pytest.fixture(scope="session")
def sampler(dsprites_tfds: Path, grid: dict[str, np.ndarray]) -> ds.DSpritesFactors:
    return data.dsprites_factors(tfds_data_dir=dsprites_tfds)


def _rows(row_of: dict, factors: np.ndarray) -> np.ndarray:
    return np.asarray([row_of[tuple(f)] for f in factors.tolist()])


# --- the loader ----------------------------------------------------------------------------


def test_grid_loader_shapes_split_and_images(
    grid: dict[str, np.ndarray], grid_file: tuple[np.ndarray, np.ndarray], row_of: dict
) -> None:
    assert set(grid) == {"train", "test", "train_factors", "test_factors"}
    assert grid["train"].shape == (41472, 64, 64, 1) and grid["test"].shape == (4608, 64, 64, 1)
    for split in ("train", "test"):
        x, f = grid[split], grid[f"{split}_factors"]
        assert x.dtype == np.float32 and f.dtype == np.int64 and f.shape == (len(x), 5)
        assert set(np.unique(x[:1000]).tolist()) == {0.0, 1.0}
    # train and test together are the whole grid, each combination once
    assert ds.is_full_grid(
        np.concatenate([grid["train_factors"], grid["test_factors"]]), _GRID_SIZES
    )
    # the documented seeded split of the file's rows, in its shuffled order
    split = ds.dsprites_split(46080)
    for name in ("train", "test"):
        np.testing.assert_array_equal(_rows(row_of, grid[f"{name}_factors"]), split[name])
    # images are the file's images of those factors
    imgs = grid_file[0][..., None]
    np.testing.assert_array_equal(grid["test"], imgs[_rows(row_of, grid["test_factors"])])
    picks = np.random.default_rng(0).choice(41472, 3000, replace=False)
    np.testing.assert_array_equal(
        grid["train"][picks], imgs[_rows(row_of, grid["train_factors"][picks])]
    )


def test_data_spec_reads_dsprites_as_images(
    monkeypatch: pytest.MonkeyPatch, grid: dict[str, np.ndarray]
) -> None:
    monkeypatch.setitem(names._LOADERS, "dsprites", lambda data_dir: grid)  # read once
    spec = DataSpec("dsprites", validation=100, test_subset=50)
    arrays = spec.load()
    assert spec.event_shape == (64, 64, 1)
    np.testing.assert_array_equal(arrays["valid"], grid["train"][-100:])
    np.testing.assert_array_equal(arrays["test"], grid["test"][:50])


def test_builder_configs(dsprites_tfds: Path, grid: dict[str, np.ndarray]) -> None:
    info = data.dsprites_builder(tfds_data_dir=dsprites_tfds).info
    assert info.name == "jvae_dsprites" and info.config_name == "grid"
    assert {k: v.num_examples for k, v in info.splits.items()} == {"train": 41472, "test": 4608}
    assert info.file_format.value == "array_record"
    assert set(ds.CONFIGS) == {"grid", "random20k", "full"}
    with pytest.raises(ValueError, match=r"Unknown dSprites config 'nope'.*'full', 'grid'"):
        data.dsprites_builder(config="nope")


def test_random_subset_config_stores_its_file(dsprites_tfds: Path) -> None:
    imgs, classes = _read_npz("dsprites_subset.npz")
    builder = data.dsprites_builder(tfds_data_dir=dsprites_tfds, config="random20k")
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == {
        "train": 18000,
        "test": 2000,
    }
    rows = ds.dsprites_split(20000)["test"]
    source = builder.as_data_source(split="test")
    positions = np.random.default_rng(0).choice(2000, 200, replace=False)
    for position, example in zip(positions, source.__getitems__(positions.tolist())):
        np.testing.assert_array_equal(example["image"], imgs[rows[position]])
        np.testing.assert_array_equal(example["factors"], classes[rows[position]])
    assert (classes.max(axis=0) == np.array([2, 5, 39, 31, 31])).all()  # the original sizes


# --- the factor sampler ----------------------------------------------------------------------


def test_sampler_images_have_the_requested_factors(
    sampler: ds.DSpritesFactors, grid_file: tuple[np.ndarray, np.ndarray], row_of: dict
) -> None:
    dataset: FactorDataset = sampler
    assert dataset.factor_names == ("shape", "scale", "orientation", "posX", "posY")
    assert dataset.factor_sizes == _GRID_SIZES
    factors = dataset.sample_factors(np.random.default_rng(0), 2000)
    images = dataset.images(factors)
    assert images.shape == (2000, 64, 64, 1) and images.dtype == np.float32
    expected = grid_file[0][_rows(row_of, factors), :, :, None]
    np.testing.assert_array_equal(images, expected)


def _centroids(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = images.reshape(-1, 64, 64)
    mass = pixels.sum(axis=(1, 2))
    rows, cols = np.mgrid[0:64, 0:64]
    return (pixels * cols).sum(axis=(1, 2)) / mass, (pixels * rows).sum(axis=(1, 2)) / mass


def test_sampler_sprites_move_with_position_and_grow_with_scale(
    sampler: ds.DSpritesFactors,
) -> None:
    """Independent of the file's labels: the centroid follows posX (columns) and posY (rows),
    and the ink area grows with scale."""
    steps = np.arange(16)
    for shape, scale, orientation in ((0, 0, 0), (1, 3, 4), (2, 5, 9)):
        fixed = np.array([shape, scale, orientation, 8, 8])
        along_x = np.tile(fixed, (16, 1))
        along_x[:, 3] = steps
        cx, cy = _centroids(sampler.images(along_x))
        assert (np.diff(cx) > 1.5).all() and (np.diff(cx) < 3).all() and np.ptp(cy) < 0.5
        along_y = np.tile(fixed, (16, 1))
        along_y[:, 4] = steps
        cx, cy = _centroids(sampler.images(along_y))
        assert (np.diff(cy) > 1.5).all() and (np.diff(cy) < 3).all() and np.ptp(cx) < 0.5
        by_scale = np.tile(fixed, (6, 1))
        by_scale[:, 1] = np.arange(6)
        assert (np.diff(sampler.images(by_scale).sum(axis=(1, 2, 3))) > 0).all()


def test_sample_factors_is_uniform_and_seeded(sampler: ds.DSpritesFactors) -> None:
    factors = sampler.sample_factors(np.random.default_rng(0), 48000)
    assert factors.shape == (48000, 5) and factors.dtype == np.int64
    for column, size in enumerate(_GRID_SIZES):
        counts = np.bincount(factors[:, column], minlength=size)
        assert len(counts) == size
        assert stats.chisquare(counts).pvalue > 1e-3
    # the two position factors are independent: joint counts fit the product of marginals
    joint = np.zeros((16, 16))
    np.add.at(joint, (factors[:, 3], factors[:, 4]), 1)
    assert stats.chi2_contingency(joint).pvalue > 1e-3
    again = sampler.sample_factors(np.random.default_rng(0), 48000)
    np.testing.assert_array_equal(factors, again)


def test_images_reject_bad_factors(sampler: ds.DSpritesFactors) -> None:
    for bad, pattern in (
        (np.zeros(5, np.int64), r"\[n, 5\]"),
        (np.zeros((2, 4), np.int64), r"\[n, 5\]"),
        (np.zeros((2, 5)), "integer"),
        (np.array([[3, 0, 0, 0, 0]]), "out of range"),
        (np.array([[0, 0, 0, 0, -1]]), "out of range"),
    ):
        with pytest.raises(ValueError, match=pattern) as err:
            sampler.images(bad)
        assert "\n" not in str(err.value)


def test_random_subset_is_not_a_factor_sampler(grid_file: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ValueError, match=r"random subset.*config='grid'") as err:
        data.dsprites_factors(config="random20k")
    assert "\n" not in str(err.value)
    imgs, classes = grid_file
    with pytest.raises(data.DataError, match="exactly once"):
        ds.DSpritesFactors.from_examples(imgs[1:], classes[1:], _GRID_SIZES)


# --- file checks ------------------------------------------------------------------------------


def test_corrupt_file_names_file_checksums_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "dsprites" / "dsprites_downsampled.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"not dsprites")
    with pytest.raises(data.DataError) as err:
        data.load_dsprites(tmp_path, tfds_data_dir=tmp_path / "tfds")
    msg = str(err.value)
    assert str(bad) in msg and ds.CONFIGS["grid"].digest in msg
    assert hashlib.sha256(b"not dsprites").hexdigest() in msg
    assert "JVAE_DATA_DIR" in msg and "\n" not in msg


def test_missing_files_name_file_and_fix(tmp_path: Path) -> None:
    with pytest.raises(data.DataError) as err:
        data.load_dsprites(tmp_path, config="random20k", tfds_data_dir=tmp_path / "tfds")
    assert f"Missing data file {tmp_path / 'dsprites' / 'dsprites_subset.npz'}" in str(err.value)
    with pytest.raises(data.DataError) as err:
        data.dsprites_factors(tmp_path, config="full", tfds_data_dir=tmp_path / "tfds")
    msg = str(err.value)
    assert "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz" in msg and "md5" in msg
    assert "deepmind/dsprites-dataset" in msg and "`dsprites`" in msg


def _tiny_original_layout(path: Path, classes: np.ndarray) -> None:
    """An npz laid out like the original file: six latent columns, color first."""
    images = (np.random.default_rng(0).random((len(classes), 64, 64)) < 0.1).astype(np.uint8)
    np.savez(path, imgs=images, latents_classes=classes, metadata=np.array({}, dtype=object))


def test_original_layout_drops_color_and_checks_the_grid(tmp_path: Path) -> None:
    config = ds.DSpritesConfig(name="tiny", filename="tiny.npz", factor_sizes=(2, 1, 2, 2, 3))
    grid_classes = np.stack(np.unravel_index(np.arange(24), config.factor_sizes), axis=1)
    with_color = np.concatenate([np.zeros((24, 1), np.int64), grid_classes], axis=1)
    path = tmp_path / "tiny.npz"
    _tiny_original_layout(path, with_color)
    images, factors = ds.read_dsprites_npz(path, config)
    assert images.shape == (24, 64, 64)
    np.testing.assert_array_equal(factors, grid_classes)
    sampler = ds.DSpritesFactors.from_examples(images[::-1], factors[::-1], config.factor_sizes)
    np.testing.assert_array_equal(sampler.images(factors[5:9]), images[5:9, :, :, None])
    duplicated = with_color.copy()
    duplicated[3] = duplicated[4]
    _tiny_original_layout(path, duplicated)
    with pytest.raises(data.DataError, match="exactly once"):
        ds.read_dsprites_npz(path, config)
    two_colors = with_color.copy()
    two_colors[0, 0] = 1
    _tiny_original_layout(path, two_colors)
    with pytest.raises(data.DataError, match="color"):
        ds.read_dsprites_npz(path, config)
