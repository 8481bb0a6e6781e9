r"""Checks of a dataset's arrays before anything compiles, and the one rule turning stored
numbers into float32 examples.

A dataset is a dict of splits, each ``[N, *event_shape]``. :func:`check_arrays` refuses, in one
line naming the split and the fix, what a likelihood cannot model; its ``data_kind`` is the
likelihood's:

- ``'binary'`` (a Bernoulli): values in [0, 1]; grey levels are read as the probabilities of
  binary pixels and binarised afresh in every training step;
- ``'8bit'`` (a discretised logistic): values in [0, 1] on 256 levels, level
  :math:`\min(\lfloor 256 x \rfloor, 255)`;
- ``'real'`` (a Gaussian): any finite numbers.

Numbers become float32 by :func:`to_float32`: uint8 are 8-bit levels :math:`v / 255`, unless
every value of the dataset is 0 or 1 (binary images stored as uint8, as dSprites' file and
TFDS's ``binarized_mnist`` store them), which stay 0 and 1; bool becomes 0 and 1; other
integers and floats keep their values.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jvae.data.files import DataError

DATA_KINDS = ("binary", "8bit", "real")
_SHOWN_ROWS = 5
_RANGE_FIX = {
    "binary": "continuous data into a Bernoulli: use likelihood='gaussian' or rescale to [0, 1]",
    "8bit": "a discretised logistic models 8-bit levels in [0, 1]: rescale to [0, 1] "
    "(x / 255 for levels 0..255) or use likelihood='gaussian'",
}


def _prefix(name: str, split: str) -> str:
    return f"{name} {split}" if name else split


def bad_rows(x: np.ndarray, bad: np.ndarray, what: str, shown: int = _SHOWN_ROWS) -> str:
    """``'{what} in n of N rows (first rows: [...])'`` for a per-entry mask ``bad`` of
    ``x`` ``[N, ...]``."""
    rows = np.flatnonzero(bad.reshape(len(x), -1).any(axis=1))
    return f"{what} in {rows.size} of {len(x)} rows; first rows: {rows[:shown].tolist()}"


def check_finite(x: np.ndarray, name: str = "x") -> None:
    """Raise :class:`DataError` naming how many rows of ``x`` ``[N, ...]`` hold NaN or inf
    and the first of them, with the fix.

    >>> check_finite(np.array([[0.0, np.nan], [1.0, 2.0]]), "train")
    Traceback (most recent call last):
    ...
    jvae.data.files.DataError: train has non-finite values (NaN or inf) in 1 of 2 rows; first ...
    """
    x = np.asarray(x)
    finite = np.isfinite(x)
    if not finite.all():
        where = bad_rows(x, ~finite, "non-finite values (NaN or inf)")
        raise DataError(f"{name} has {where}. Fix: drop or impute those rows.")


def event_shape_of(shape: tuple[int, ...], where: str) -> tuple[int, ...]:
    """The event shape of an ``[N, ...]`` array: ``(D,)`` of ``[N, D]``, ``(H, W, 1)`` of
    ``[N, H, W]``, else the trailing axes as they are.

    >>> event_shape_of((10, 28, 28), "x"), event_shape_of((10, 5), "x")
    ((28, 28, 1), (5,))
    """
    if len(shape) < 2:
        raise DataError(
            f"{where} has shape {list(shape)}, not [N, *event_shape]. Fix: one example per "
            "row (x[:, None] for one number per example)."
        )
    return (*shape[1:], 1) if len(shape) == 3 else tuple(shape[1:])


def to_float32(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each split as float32 by the module's rule (uint8 :math:`v / 255`, unless the whole
    dataset's uint8 values are 0 or 1; bool 0/1; other numbers kept).

    >>> to_float32({"train": np.array([[0, 51, 255]], np.uint8)})["train"].tolist()
    [[0.0, 0.20000000298023224, 1.0]]
    >>> to_float32({"train": np.array([[0, 1, 1]], np.uint8)})["train"].tolist()
    [[0.0, 1.0, 1.0]]
    """
    levels = [x for x in arrays.values() if x.dtype == np.uint8 and x.size]
    binary = bool(levels) and all(int(x.max()) <= 1 for x in levels)
    out = {}
    for split, x in arrays.items():
        if x.dtype == np.uint8 and not binary:
            out[split] = x.astype(np.float32) / np.float32(255)
        else:
            out[split] = np.asarray(x).astype(np.float32, copy=False)
    return out


def check_arrays(
    arrays: Mapping[str, np.ndarray], data_kind: str, name: str = ""
) -> dict[str, np.ndarray]:
    """The splits of a dataset as float32 ``[N, *event_shape]``, checked for a likelihood that
    models ``data_kind`` data (``'binary'``, ``'8bit'`` or ``'real'``; see the module).

    Refused, each in one line naming the split (prefixed by ``name``) and the fix
    (:class:`DataError`): an empty split; a split with no event axis (``[N]``); a dtype that is
    not a number; non-finite values (how many rows, the first few); values outside [0, 1] for
    ``'binary'`` or ``'8bit'``; splits whose event shapes differ (both named). Integer and
    bool arrays are converted by :func:`to_float32`.

    >>> x = check_arrays({"train": np.ones((4, 3), np.int64)}, "binary")["train"]
    >>> x.dtype, x.shape
    (dtype('float32'), (4, 3))
    >>> check_arrays({"train": np.full((2, 3), 4.0)}, "binary")
    Traceback (most recent call last):
    ...
    jvae.data.files.DataError: train has values outside [0, 1] (min 4, max 4) in 2 of 2 rows; ...
    """
    if data_kind not in DATA_KINDS:
        raise ValueError(f"unknown data_kind {data_kind!r}; choose one of {DATA_KINDS}.")
    if not arrays:
        raise DataError(f"{name or 'the dataset'} has no splits; give at least 'train'.")
    for split, x in arrays.items():
        where = _prefix(name, split)
        x = np.asarray(x)
        event_shape_of(x.shape, where)
        if len(x) == 0:
            raise DataError(f"{where} is empty (shape {list(x.shape)}). Fix: give it examples.")
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or np.iscomplexobj(x):
            raise DataError(f"{where} has dtype {x.dtype}. Fix: give float, integer or bool.")
    converted = to_float32({split: np.asarray(x) for split, x in arrays.items()})
    for split, x in converted.items():
        check_finite(x, _prefix(name, split))
        if data_kind == "real":
            continue
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            outside = (x < 0) | (x > 1)
            where = bad_rows(x, outside, f"values outside [0, 1] (min {lo:.4g}, max {hi:.4g})")
            raise DataError(f"{_prefix(name, split)} has {where}: {_RANGE_FIX[data_kind]}.")
    (first, x0), *rest = converted.items()
    for split, x in rest:
        if x.shape[1:] != x0.shape[1:]:
            raise DataError(
                f"{_prefix(name, first)} has event shape {x0.shape[1:]} but "
                f"{_prefix(name, split)} has {x.shape[1:]}. Fix: give every split one event "
                "shape."
            )
    return converted
