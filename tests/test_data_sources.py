"""Tests for the data sources beyond the bundled files: ``npz:PATH``, ``tfds:NAME[/CONFIG]``
(TFDS mock data, and a small builder prepared for real), the datasets that scikit-learn and
scikit-image ship, event shapes, and every refusal of :func:`jvae.data.check_arrays`."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

from jvae import data
from jvae.data import packaged
from jvae.data.spec import DataSpec


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message, message
    return message


def _npz(tmp_path: Path, **arrays: np.ndarray) -> str:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return f"npz:{path}"


def _sorted_rows(x: np.ndarray) -> np.ndarray:
    flat = np.asarray(x).reshape(len(x), -1)
    return flat[np.lexsort(flat.T[::-1])]


# --- npz ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,event_shape",
    [((30, 7), (7,)), ((30, 6, 5), (6, 5, 1)), ((30, 6, 5, 3), (6, 5, 3))],
)
def test_npz_uint8_levels_come_back_as_v_over_255(tmp_path, shape, event_shape) -> None:
    rng = np.random.default_rng(0)
    train, test = (rng.integers(0, 256, (n, *shape[1:]), dtype=np.uint8) for n in (30, 9))
    spec = DataSpec(_npz(tmp_path, train=train, test=test))
    assert spec.event_shape == event_shape
    arrays = spec.load()
    assert set(arrays) == {"train", "test"}
    for split, levels in (("train", train), ("test", test)):
        x = arrays[split]
        assert x.dtype == np.float32 and x.shape == (len(levels), *event_shape)
        assert 0.0 <= x.min() and x.max() <= 1.0
        np.testing.assert_array_equal(
            np.rint(x * 255).astype(np.uint8).reshape(levels.shape), levels
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_npz_floats_are_kept_as_they_are(tmp_path, dtype) -> None:
    rng = np.random.default_rng(1)
    train, test = rng.normal(size=(20, 4, 4, 2)).astype(dtype), rng.normal(size=(5, 4, 4, 2))
    arrays = DataSpec(_npz(tmp_path, train=train, test=test.astype(dtype))).load()
    np.testing.assert_array_equal(arrays["train"], train.astype(np.float32))
    np.testing.assert_array_equal(arrays["test"], test.astype(dtype).astype(np.float32))


def test_npz_validation_array_ends_train_and_is_the_validation_carve(tmp_path) -> None:
    rng = np.random.default_rng(2)
    train, test, valid = (rng.uniform(size=(n, 5)).astype(np.float32) for n in (40, 10, 8))
    name = _npz(tmp_path, train=train, test=test, validation=valid)
    held = DataSpec(name, validation=8).load()
    np.testing.assert_array_equal(held["train"], train)
    np.testing.assert_array_equal(held["valid"], valid)
    np.testing.assert_array_equal(held["test"], test)
    merged = DataSpec(name).load()  # no validation split: the validation array is trained on
    np.testing.assert_array_equal(merged["train"], np.concatenate([train, valid]))


def test_npz_without_test_holds_out_a_seeded_tenth(tmp_path) -> None:
    train = np.random.default_rng(3).uniform(size=(57, 3)).astype(np.float32)
    name = _npz(tmp_path, train=train, labels=np.arange(57))  # other arrays are ignored
    first, again = DataSpec(name).load(), DataSpec(name).load()
    assert len(first["test"]) == 5 and len(first["train"]) == 52
    np.testing.assert_array_equal(first["test"], again["test"])
    together = np.concatenate([first["train"], first["test"]])
    np.testing.assert_array_equal(_sorted_rows(together), _sorted_rows(train))


def test_npz_binary_uint8_stays_zero_one(tmp_path) -> None:
    train = (np.random.default_rng(4).uniform(size=(20, 3, 3)) < 0.5).astype(np.uint8)
    arrays = DataSpec(_npz(tmp_path, train=train, test=train[:4])).load()
    np.testing.assert_array_equal(arrays["train"][..., 0], train.astype(np.float32))


def test_npz_event_shape_reads_headers_only(tmp_path, monkeypatch) -> None:
    path = tmp_path / "big.npz"
    np.savez_compressed(path, train=np.zeros((100, 9, 8), np.uint8))
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("event_shape read the data"))
    assert DataSpec(f"npz:{path}").event_shape == (9, 8, 1)


def test_npz_refusals_are_one_line(tmp_path) -> None:
    with pytest.raises(data.DataError) as err:
        _ = DataSpec(f"npz:{tmp_path / 'absent.npz'}").event_shape
    assert "absent.npz not found" in _one_line(err)
    with pytest.raises(data.DataError) as err:
        _ = DataSpec(_npz(tmp_path, x_train=np.zeros((4, 2)))).event_shape
    assert "no 'train' array (its arrays: ['x_train'])" in _one_line(err)
    with pytest.raises(data.DataError) as err:
        _ = DataSpec(_npz(tmp_path, train=np.zeros(4))).event_shape
    assert "train has shape [4], not [N, *event_shape]" in _one_line(err)
    with pytest.raises(data.DataError) as err:
        DataSpec(_npz(tmp_path, train=np.zeros((4, 3)), test=np.zeros((4, 5)))).load()
    assert "train has event shape (3,) but npz:" in _one_line(err)
    assert "test has (5,)" in str(err.value)
    with pytest.raises(data.DataError) as err:
        DataSpec(_npz(tmp_path, train=np.zeros((4, 3)), test=np.zeros((0, 3)))).load()
    assert "test is empty" in _one_line(err)
    bad = np.zeros((300, 4), np.float32)
    bad[[3, 17, 200], 1] = [np.nan, np.inf, -np.inf]
    with pytest.raises(data.DataError) as err:
        DataSpec(_npz(tmp_path, train=bad, test=bad[:5])).load()
    message = _one_line(err)
    assert (
        "train has non-finite values (NaN or inf) in 3 of 300 rows; first rows: [3, 17, 200]"
        in message
    )
    assert "Fix: drop or impute those rows." in message


# --- check_arrays ------------------------------------------------------------------------


def test_check_arrays_converts_integers_and_bools() -> None:
    arrays = {"train": np.array([[0, 1], [1, 1]], np.int64), "test": np.array([[True, False]])}
    out = data.check_arrays(arrays, "binary")
    assert all(x.dtype == np.float32 for x in out.values())
    np.testing.assert_array_equal(out["test"], [[1.0, 0.0]])
    levels = np.array([[0, 128, 255]], np.uint8)
    np.testing.assert_allclose(
        data.check_arrays({"train": levels}, "8bit")["train"], [[0.0, 128 / 255, 1.0]]
    )


@pytest.mark.parametrize("kind", ["binary", "8bit"])
def test_check_arrays_refuses_values_outside_the_unit_interval(kind) -> None:
    x = np.full((6, 3), 0.5, np.float32)
    x[[1, 4], 0] = [-0.2, 3.0]
    with pytest.raises(data.DataError) as err:
        data.check_arrays({"train": x}, kind, "npz:x.npz")
    message = _one_line(err)
    assert "npz:x.npz train has values outside [0, 1] (min -0.2, max 3) in 2 of 6 rows" in message
    assert "first rows: [1, 4]" in message and "likelihood='gaussian'" in message
    if kind == "binary":
        assert "continuous data into a Bernoulli" in message
    assert data.check_arrays({"train": x}, "real")["train"] is not None


def test_check_arrays_refusals_name_the_split_and_fix() -> None:
    ok = np.zeros((4, 2, 2, 1), np.float32)
    cases = [
        (
            {"train": ok, "test": np.zeros((4, 2, 2, 3))},
            "train has event shape (2, 2, 1) but test has (2, 2, 3)",
        ),
        ({"train": ok, "test": ok[:0]}, "test is empty"),
        ({"train": np.zeros(4)}, "train has shape [4], not [N, *event_shape]"),
        ({"train": np.array([["a", "b"]])}, "train has dtype <U1"),
        (
            {"train": np.where(np.eye(12)[:, :3] > 0, np.nan, 0.0)},
            "train has non-finite values (NaN or inf) in 3 of 12 rows; first rows: [0, 1, 2]",
        ),
        ({}, "the dataset has no splits"),
    ]
    for arrays, expected in cases:
        with pytest.raises(data.DataError) as err:
            data.check_arrays(arrays, "real")
        assert expected in _one_line(err)
    with pytest.raises(ValueError, match="unknown data_kind 'gaussian'"):
        data.check_arrays({"train": ok}, "gaussian")


# --- names and the spec's checks -----------------------------------------------------------


def test_dataset_names_and_tfds_only_options_are_checked_in_one_line() -> None:
    for name in ("cifar10", "npz:", "tfds:"):
        with pytest.raises(ValueError) as err:
            DataSpec(name)
        message = _one_line(err)
        assert "'mnist'" in message and "npz:PATH" in message and "tfds:NAME[/CONFIG]" in message
    with pytest.raises(ValueError) as err:
        DataSpec("digits", image_feature="image", test_split="train[90%:]")
    assert "image_feature, test_split: options of a tfds: dataset" in _one_line(err)
    DataSpec("tfds:cifar10", image_feature="image", train_split="train[:90%]")


def test_bundled_event_shapes() -> None:
    assert {name: DataSpec(name).event_shape for name in data.DATASETS} == {
        "mnist": (28, 28, 1),
        "omniglot": (28, 28, 1),
        "dsprites": (64, 64, 1),
        "digits": (8, 8, 1),
        "photo-patches": (32, 32, 3),
    }


# --- TFDS ------------------------------------------------------------------------------------


def test_tfds_mock_mnist_and_cifar10_load_as_event_shaped_floats() -> None:
    with tfds.testing.mock_data(num_examples=12):
        for name, event_shape in (("tfds:mnist", (28, 28, 1)), ("tfds:cifar10", (32, 32, 3))):
            spec = DataSpec(name, test_subset=5)
            assert spec.event_shape == event_shape
            arrays = spec.load()
            assert arrays["train"].shape == (12, *event_shape)
            assert arrays["test"].shape == (5, *event_shape)
            x = arrays["train"]
            assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
            np.testing.assert_allclose(x * 255, np.rint(x * 255), atol=1e-4)  # v / 255


def test_tfds_feature_and_split_options_choose_the_examples() -> None:
    rng = np.random.default_rng(5)
    splits = {
        s: rng.integers(0, 256, (n, 32, 32, 3), np.uint8)
        for s, n in (("train[:80%]", 6), ("train[80%:]", 3))
    }
    requested = []

    def as_data_source(builder, split, **kwargs):
        requested.append(split)
        return [{"image": x, "label": 0, "id": b""} for x in splits[split]]

    with tfds.testing.mock_data(as_data_source_fn=as_data_source):
        spec = DataSpec(
            "tfds:cifar10",
            image_feature="image",
            train_split="train[:80%]",
            test_split="train[80%:]",
        )
        arrays = spec.load()
        assert requested == ["train[:80%]", "train[80%:]"]
        for split, name in (("train", "train[:80%]"), ("test", "train[80%:]")):
            np.testing.assert_array_equal(np.rint(arrays[split] * 255), splits[name])
        for feature, expected in (
            ("pixels", "has no feature 'pixels'; its features: ['id', 'image', 'label']"),
            ("label", "'label' of TFDS dataset 'cifar10' is a ClassLabel, not an array"),
            ("id", "'id' of TFDS dataset 'cifar10' is a Text"),
        ):
            with pytest.raises(data.DataError) as err:
                _ = DataSpec("tfds:cifar10", image_feature=feature).event_shape
            assert expected in _one_line(err)


def test_tfds_variable_image_size_is_refused() -> None:
    with pytest.raises(data.DataError) as err:
        _ = DataSpec("tfds:cats_vs_dogs").event_shape
    assert "has no fixed shape ((None, None, 3))" in _one_line(err)


def test_missing_tfds_dataset_names_the_directory_and_how_to_prepare(tmp_path, monkeypatch):
    def no_network(self, **kwargs):
        raise OSError("Network is unreachable\n(details)")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_network)
    with pytest.raises(data.DataError) as err:
        DataSpec("tfds:mnist").load(tmp_path)
    message = _one_line(err)
    assert f"'mnist' is not prepared in {tmp_path} and could not be downloaded" in message
    assert "OSError: Network is unreachable" in message
    assert f"tfds build mnist --data_dir {tmp_path} --file_format array_record" in message
    with pytest.raises(data.DataError) as err:
        _ = DataSpec("tfds:no_such_dataset").event_shape
    assert "TFDS has no dataset 'no_such_dataset'" in _one_line(err)


class JvaeTestPatches(tfds.core.GeneratorBasedBuilder):
    """A tiny TFDS dataset prepared for real (array_record, no TensorFlow): uint8 patches as a
    Tensor feature (an Image feature needs TensorFlow to encode)."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        patch = tfds.features.Tensor(
            shape=(4, 5, 3), dtype=np.uint8, encoding=tfds.features.Encoding.BYTES
        )
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {"label": tfds.features.ClassLabel(num_classes=2), "patch": patch}
            ),
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(0, 10), "test": self._generate_examples(1, 4)}

    def _generate_examples(self, seed, n):
        levels = np.random.default_rng(seed).integers(0, 256, (n, 4, 5, 3), np.uint8)
        for i in range(n):
            yield i, {"label": i % 2, "patch": levels[i]}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tfds")
    tfds.builder("jvae_test_patches", data_dir=str(root)).download_and_prepare(
        file_format="array_record"
    )
    return root


def test_tfds_dataset_prepared_in_data_dir_is_read(prepared) -> None:
    spec = DataSpec("tfds:jvae_test_patches", image_feature="patch", train_split="train[:5]")
    assert spec.event_shape == (4, 5, 3)
    arrays = spec.load(prepared)
    expected = np.random.default_rng(0).integers(0, 256, (10, 4, 5, 3), np.uint8)[:5]
    np.testing.assert_array_equal(np.rint(arrays["train"] * 255), expected)
    assert arrays["test"].shape == (4, 4, 5, 3)
    with pytest.raises(data.DataError) as err:
        DataSpec("tfds:jvae_test_patches", image_feature="patch", test_split="valid").load(prepared)
    assert "has no split 'valid'" in _one_line(err) and "its splits: ['test', 'train']" in str(
        err.value
    )
    with pytest.raises(data.DataError) as err:
        _ = DataSpec("tfds:jvae_test_patches").event_shape
    assert "has no Image feature (its features: ['label', 'patch'])" in _one_line(err)


def test_tfds_dataset_stored_without_random_access_is_refused(prepared, tmp_path) -> None:
    import shutil

    shutil.copytree(prepared, tmp_path, dirs_exist_ok=True)
    info_file = tmp_path / "jvae_test_patches" / "1.0.0" / "dataset_info.json"
    info = json.loads(info_file.read_text())
    info["fileFormat"] = "tfrecord"
    info_file.write_text(json.dumps(info))
    with pytest.raises(data.DataError) as err:
        DataSpec("tfds:jvae_test_patches", image_feature="patch").load(tmp_path)
    message = _one_line(err)
    assert "is not stored as array_record" in message and "--file_format array_record" in message


# --- datasets shipped by packages ----------------------------------------------------------


def test_digits_are_sklearns_digits_split_and_checked() -> None:
    from sklearn.datasets import load_digits

    arrays = DataSpec("digits").load()
    assert arrays["train"].shape == (1498, 8, 8, 1) and arrays["test"].shape == (299, 8, 8, 1)
    together = np.concatenate([arrays["train"], arrays["test"]])[..., 0] * 16
    np.testing.assert_array_equal(np.rint(together), together)  # levels v / 16
    np.testing.assert_array_equal(_sorted_rows(together), _sorted_rows(load_digits().images))


def _reference_tiles(photo: np.ndarray) -> list[np.ndarray]:
    return [
        photo[i : i + 32, j : j + 32]
        for i in range(0, photo.shape[0] - 31, 32)
        for j in range(0, photo.shape[1] - 31, 32)
    ]


def test_photo_patches_are_the_grid_tiles_of_the_photographs_split_by_position() -> None:
    import skimage.data

    def counts(tiles) -> Counter:
        return Counter(hashlib.sha256(np.ascontiguousarray(t).tobytes()).digest() for t in tiles)

    levels = packaged.photo_patch_levels()
    assert levels["train"].shape == (960, 32, 32, 3) and levels["test"].shape == (239, 32, 32, 3)
    photos = [getattr(skimage.data, name)() for name in packaged.PHOTOGRAPHS]
    photos = [p[0] if isinstance(p, tuple) else p for p in photos]
    train, test = counts(levels["train"]), counts(levels["test"])
    assert train + test == counts(t for p in photos for t in _reference_tiles(p))
    shared = train & test  # only tiles of one constant colour (the astronaut's black corner)
    assert all(
        len(np.unique(levels["test"][i])) == 1
        for i, t in enumerate(levels["test"])
        if hashlib.sha256(t.tobytes()).digest() in shared
    )
    for photo in photos:  # a fifth of each photograph's tiles is in test
        own = counts(_reference_tiles(photo))
        assert (own & test).total() == own.total() // 5
    arrays = DataSpec("photo-patches").load()
    np.testing.assert_array_equal(np.rint(arrays["test"] * 255), levels["test"])


def test_changed_package_data_is_refused_naming_the_version(monkeypatch) -> None:
    monkeypatch.setitem(packaged.DIGITS_SHA256, "test", "0" * 64)
    with pytest.raises(data.DataError) as err:
        DataSpec("digits").load()
    version = importlib.metadata.version("scikit-learn")
    assert f"scikit-learn {version} gives digits test levels with sha256" in _one_line(err)
    assert f"(made with scikit-learn {packaged.RECORDED_WITH['scikit-learn']})" in str(err.value)


def test_missing_package_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "skimage.data", None)  # as if scikit-image were absent
    with pytest.raises(data.DataError) as err:
        DataSpec("photo-patches").load()
    message = _one_line(err)
    assert "scikit-image, which is not installed. Fix: pip install 'jvae[samples]'" in message
