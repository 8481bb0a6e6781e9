"""Tests for jvae.data.omniglot: the 28x28 TFDS builder from the real 105x105 drawings, its exact
area downsampling, its seeded 24,345 / 8,070 split, and its errors."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from jvae import data
from jvae.data import omniglot as om
from jvae.run.spec import RunSpec
from jvae.run.train import load_arrays

_SOURCE = data.data_dir() / "omniglot"
_NPZ = ("images_background.npz", "images_evaluation.npz")


def _require(*names: str) -> list[Path]:
    paths = [_SOURCE / name for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"Omniglot source files absent (set JVAE_DATA_DIR): {missing}")
    return paths


@pytest.fixture(scope="session")
def ink() -> np.ndarray:
    """All 1,623 x 20 drawings as bool ink [1623, 20, 105, 105], read straight from the npz."""
    halves = []
    for path in _require(*_NPZ):
        with np.load(path) as f:
            halves.append(~f["images"])
    return np.concatenate(halves)


@pytest.fixture(scope="session")
def omniglot_tfds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TFDS dir where the builder is prepared once for the session."""
    _require(*_NPZ)
    root = tmp_path_factory.mktemp("omniglot_tfds")
    data.omniglot_builder(tfds_data_dir=root)
    return root


@pytest.fixture(scope="session")
def omniglot(omniglot_tfds: Path) -> dict[str, np.ndarray]:
    return data.load_omniglot(tfds_data_dir=omniglot_tfds)


# --- the split and the downsampling (pure functions) ---------------------------------------


def test_split_sizes_cover_every_image_once_and_are_seeded() -> None:
    split = data.omniglot_split()
    assert {k: len(v) for k, v in split.items()} == {"train": 24345, "test": 8070, "left_out": 45}
    everything = np.concatenate([split["train"], split["test"], split["left_out"]])
    np.testing.assert_array_equal(np.sort(everything), np.arange(1623 * 20))
    # 15 drawers of every character train; 5 test, except the 45 left-out characters with 4.
    assert (np.bincount(split["train"] // 20, minlength=1623) == 15).all()
    test_counts = np.bincount(split["test"] // 20, minlength=1623)
    left_chars = split["left_out"] // 20
    assert len(np.unique(left_chars)) == 45
    assert (test_counts[left_chars] == 4).all() and test_counts.sum() == 8070
    assert set(np.unique(test_counts).tolist()) == {4, 5}
    # seeded: the same seed gives the same split, another seed another one
    again = data.omniglot_split(om.SPLIT_SEED)
    for name in split:
        np.testing.assert_array_equal(split[name], again[name])
    other = data.omniglot_split(1)
    assert not np.array_equal(np.sort(split["train"]), np.sort(other["train"]))
    assert not np.array_equal(split["left_out"], other["left_out"])


def _area_mean_reference(x: np.ndarray) -> np.ndarray:
    """Exact box averages in float64: each pixel cut into 4x4 (420 = 28 x 15), 15x15 means."""
    fine = np.repeat(np.repeat(x.astype(np.float64), 4, axis=-2), 4, axis=-1)
    return fine.reshape(-1, 28, 15, 28, 15).mean(axis=(2, 4))


def test_downsample_is_the_exact_area_average(ink: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    drawings = ink.reshape(-1, 105, 105)[rng.choice(1623 * 20, 64, replace=False)]
    noise = rng.random((64, 105, 105)) < 0.5  # every pixel pattern, not only strokes
    for x in (drawings, noise):
        levels = om.downsample_ink(x)
        assert levels.dtype == np.uint8 and levels.shape == (64, 28, 28)
        ref = _area_mean_reference(x) * om.GREY_LEVELS
        np.testing.assert_allclose(ref, np.rint(ref), atol=1e-9)  # levels are k/225 exactly
        np.testing.assert_array_equal(levels, np.rint(ref))
        # area is conserved: a 28x28 pixel is 225/16 source pixels, so sum(levels) = 16 * ink
        np.testing.assert_array_equal(levels.sum(axis=(1, 2)), 16 * x.sum(axis=(1, 2)))
    assert (om.downsample_ink(np.ones((105, 105), bool)) == 225).all()
    with pytest.raises(ValueError, match=r"105, 105"):
        om.downsample_ink(np.zeros((2, 28, 28), bool))


# --- the prepared builder and the loaded arrays --------------------------------------------


def test_builder_info(omniglot_tfds: Path) -> None:
    info = data.omniglot_builder(tfds_data_dir=omniglot_tfds).info
    assert info.name == "jvae_omniglot" and str(info.version) == "1.0.0"
    assert {k: v.num_examples for k, v in info.splits.items()} == {"train": 24345, "test": 8070}
    assert info.features["image"].shape == (28, 28)
    assert info.features["character"].num_classes == 1623
    assert info.file_format.value == "array_record"
    assert "not the IWAE paper" in info.description


def test_loaded_arrays_are_the_downsampled_drawings_of_the_split(
    omniglot: dict[str, np.ndarray], ink: np.ndarray
) -> None:
    assert set(omniglot) == {"train", "test", "train_labels", "test_labels"}
    split = data.omniglot_split()
    rng = np.random.default_rng(1)
    for name, n in (("train", 24345), ("test", 8070)):
        x, labels = omniglot[name], omniglot[f"{name}_labels"]
        assert x.shape == (n, 28, 28, 1) and x.dtype == np.float32
        assert labels.dtype == np.int64
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
        np.testing.assert_allclose(x * 225, np.rint(x * 225), atol=1e-4)
        np.testing.assert_array_equal(labels, split[name] // 20)
        rows = rng.choice(n, 300, replace=False)
        characters, drawers = np.divmod(split[name][rows], 20)
        expected = om.downsample_ink(ink[characters, drawers])[..., None] / 225
        np.testing.assert_allclose(x[rows], expected, rtol=0, atol=1e-7)
    # strokes are bright: ink covers about 8% of each drawing, as in the 105x105 originals
    assert abs(float(omniglot["train"].mean()) - float(ink.mean())) < 0.002


def test_train_command_path_loads_omniglot(
    monkeypatch: pytest.MonkeyPatch, omniglot_tfds: Path, omniglot: dict[str, np.ndarray]
) -> None:
    """`jvae train --dataset omniglot` goes through jvae.run.train.load_arrays: grey train, test
    binarised with a fixed seed."""
    monkeypatch.setenv("JVAE_TFDS_DIR", str(omniglot_tfds))
    config = RunSpec.from_preset("smoke", dataset="omniglot")
    arrays = load_arrays(config)
    np.testing.assert_array_equal(arrays["train"], omniglot["train"][:2000])
    test = arrays["test"]
    assert test.shape == (500, 28, 28, 1) and set(np.unique(test).tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(test, data.static_binarize(omniglot["test"][:500], seed=0))
    assert abs(float(test.mean()) - float(omniglot["test"][:500].mean())) < 0.005


# --- the official zips -----------------------------------------------------------------------


def test_official_zip_reader_matches_the_npz(ink: np.ndarray) -> None:
    (small,) = _require("images_background_small1.zip")
    characters, drawers, zipped = om.read_omniglot_zip(small)
    assert zipped.shape == (2720, 105, 105) and zipped.dtype == bool
    assert characters.max() < 964  # background alphabets only
    assert len(set(zip(characters.tolist(), drawers.tolist()))) == 2720
    np.testing.assert_array_equal(zipped, ink[characters, drawers])
    # a zip lacking drawings cannot stand in for the whole background set
    with pytest.raises(data.DataError, match=r"2720 of the 19280 .* exactly once") as err:
        om.ink_grid(characters, drawers, zipped, half="background", source=small)
    assert str(small) in str(err.value)
    with pytest.raises(data.DataError, match=r"outside 965..1623"):
        om.ink_grid(characters, drawers, zipped, half="evaluation", source=small)


def test_ink_grid_places_every_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A complete set of drawings, in any order, lands at [character - first id, drawer]."""
    monkeypatch.setitem(om.HALVES, "evaluation", 3)  # a 3-character evaluation set
    rng = np.random.default_rng(2)
    drawings = rng.random((3, 20, 105, 105)) < 0.1
    characters, drawers = np.divmod(rng.permutation(3 * 20), 20)
    grid = om.ink_grid(
        964 + characters,
        drawers,
        drawings[characters, drawers],
        half="evaluation",
        source=Path("images_evaluation.zip"),
    )
    np.testing.assert_array_equal(grid, drawings)


# --- errors ---------------------------------------------------------------------------------


def test_corrupt_npz_names_file_checksums_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "omniglot" / "images_background.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"not omniglot")
    with pytest.raises(data.DataError) as err:
        data.load_omniglot(tmp_path, tfds_data_dir=tmp_path / "tfds")
    msg = str(err.value)
    assert str(bad) in msg and om.NPZ_SHA256["background"] in msg
    assert hashlib.sha256(b"not omniglot").hexdigest() in msg
    assert "images_background.zip" in msg and "JVAE_DATA_DIR" in msg and "\n" not in msg
    assert not (tmp_path / "tfds" / "jvae_omniglot").exists()  # nothing half-prepared


def test_wrong_official_zip_fails_its_checksum(tmp_path: Path) -> None:
    (small,) = _require("images_background_small1.zip")
    fake = tmp_path / "omniglot" / "images_background.zip"  # a small zip under the full name
    fake.parent.mkdir()
    shutil.copyfile(small, fake)
    with pytest.raises(data.DataError, match="Checksum mismatch") as err:
        om.omniglot_sources(fake.parent)
    assert str(fake) in str(err.value) and om.ZIP_SHA256["background"] in str(err.value)


def test_missing_files_name_both_sources_and_fix(tmp_path: Path) -> None:
    with pytest.raises(data.DataError) as err:
        data.load_dataset("omniglot", tmp_path, tfds_data_dir=tmp_path / "tfds")
    msg = str(err.value)
    assert f"Missing data file {tmp_path / 'omniglot' / 'images_background.npz'}" in msg
    assert "images_background.zip" in msg and "JVAE_DATA_DIR" in msg
