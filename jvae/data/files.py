"""Where dataset files live, and how they are checked: locations, checksums, atomic writes.
Every failure is a :class:`DataError` whose message names the file and the fix.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

CACHE_ROOT = Path("~/.cache/jvae").expanduser()
_REPO_ROOT = Path(__file__).resolve().parents[2]


class DataError(ValueError):
    """A dataset file is missing, corrupt, or holds invalid values (a ``ValueError``: bad input);
    the message says the fix."""


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
    return CACHE_ROOT / "data"


def tfds_dir() -> Path:
    """Directory where TFDS builders prepare data: env ``JVAE_TFDS_DIR`` or
    ``~/.cache/jvae/tfds``."""
    env = os.environ.get("JVAE_TFDS_DIR")
    return Path(env).expanduser() if env else CACHE_ROOT / "tfds"


def is_writable(directory: Path) -> bool:
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


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of the file at ``path`` by a :mod:`hashlib` ``algorithm``."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path: Path, expected: str, fix: str, algorithm: str = "sha256") -> Path:
    """Return ``path`` if its ``algorithm`` digest is ``expected``, else raise
    :class:`DataError` ending with ``fix`` (what the user should do)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Missing data file {path}. {fix}")
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise DataError(
            f"Checksum mismatch for {path}: expected {algorithm} {expected}, got {actual}. {fix}"
        )
    return path


def verify_sha256(path: Path, expected: str, fix: str) -> Path:
    """Return ``path`` if its sha256 is ``expected``, else raise :class:`DataError` ending with
    ``fix`` (what the user should do)."""
    return verify_checksum(path, expected, fix, "sha256")


def atomic_write(data: bytes, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
