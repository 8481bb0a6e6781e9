"""``DataSpec``: which dataset, which part of it, and the validation split carved from it."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from jvae.data.checks import check_arrays
from jvae.data.files import DataError
from jvae.data.mnist import MNIST_SCALES
from jvae.data.names import DATASETS, check_dataset_name, dataset_event_shape, load_dataset
from jvae.options import check_at_least, check_choice, option

_TFDS_DEFAULTS = {"image_feature": "", "train_split": "train", "test_split": "test"}


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """The data of a run: float32 examples ``[N, *event_shape]``.

    ``dataset`` is a bundled dataset (:data:`jvae.data.DATASETS`), ``npz:PATH`` (an ``.npz``
    with a ``train`` array and optionally ``test`` and ``validation``,
    :mod:`jvae.data.npz`) or ``tfds:NAME[/CONFIG]`` (any TFDS dataset,
    :mod:`jvae.data.tfds_catalog`; ``image_feature``, ``train_split`` and ``test_split`` choose
    its examples). ``validation`` examples are carved from the end of the training set (for
    MNIST, 10,000 are exactly the pickle's validation split, as an npz file's ``validation``
    array is); ``train_subset`` then keeps the first training examples and ``test_subset`` the
    first test examples (0: all). ``mnist_scale`` is MNIST's grey-level scale (a pixel's byte
    b as b / 255, the original files' values, or b / 256, the pickle's:
    :func:`~jvae.data.load_mnist`).

    >>> DataSpec("photo-patches").event_shape
    (32, 32, 3)
    """

    dataset: str = option(
        "mnist",
        f"dataset: {', '.join(DATASETS)}; npz:PATH (an .npz with a train array, optionally "
        "test and validation); tfds:NAME[/CONFIG] (a TFDS dataset)",
    )
    train_subset: int = option(0, "first N training examples (0: all)")
    test_subset: int = option(0, "first N test examples (0: all)")
    validation: int = option(0, "training examples held out for model choice (0: none)")
    image_feature: str = option(
        "", "tfds: feature holding the examples ('': the first Image feature)"
    )
    train_split: str = option("train", "tfds: split to train on (a slice too: train[:45000])")
    test_split: str = option("test", "tfds: split to test on (a slice too: train[45000:])")
    mnist_scale: int = option(
        255, "mnist: grey level b/255 (the original files, the IWAE paper's code) or b/256 "
        "(the pickle's values, jvae's MNIST before 2026-12-04)", MNIST_SCALES,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_dataset_name(self.dataset)
        check_choice("mnist_scale", self.mnist_scale, MNIST_SCALES)
        if self.dataset != "mnist" and self.mnist_scale != 255:
            raise ValueError(
                f"mnist_scale is an option of dataset='mnist', not of {self.dataset!r}. Fix: "
                "leave it unset."
            )
        for name in ("train_subset", "test_subset", "validation"):
            check_at_least(name, getattr(self, name), 0)
        if not self.dataset.startswith("tfds:"):
            changed = [k for k, v in _TFDS_DEFAULTS.items() if getattr(self, k) != v]
            if changed:
                raise ValueError(
                    f"{', '.join(changed)}: options of a tfds: dataset, not of "
                    f"dataset={self.dataset!r}. Fix: leave them unset."
                )

    def _loader_options(self) -> dict[str, Any]:
        if self.dataset == "mnist" and self.mnist_scale != 255:  # the loader's default
            return {"scale": self.mnist_scale}
        if not self.dataset.startswith("tfds:"):
            return {}
        return {k: getattr(self, k) for k in _TFDS_DEFAULTS}

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of one example (``(H, W, C)`` images, ``(D,)`` vectors), read without
        reading the examples (an npz file's header, a TFDS builder's feature info)."""
        return dataset_event_shape(self.dataset, self.image_feature)

    def load(self, data_dir: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
        """``{'train', 'test'}`` and, with a validation split, ``'valid'``: float32
        ``[N, *event_shape]``, checked (:func:`~jvae.data.check_arrays` with
        ``data_kind='real'``: non-empty, finite, one event shape; one-line
        :class:`~jvae.data.DataError`). ``data_dir``: the bundled datasets' source files, or
        the TFDS directory of a ``tfds:`` dataset."""
        arrays = load_dataset(self.dataset, data_dir, **self._loader_options())
        train, test = arrays["train"], arrays["test"]
        out = {}
        if self.validation:
            if self.validation >= len(train):
                raise ValueError(
                    f"validation={self.validation} leaves no training examples (of {len(train)})."
                )
            out["valid"] = train[-self.validation :]
            train = train[: -self.validation]
        if self.train_subset:
            train = train[: self.train_subset]
        if self.test_subset:
            test = test[: self.test_subset]
        out = check_arrays({"train": train, "test": test, **out}, "real", self.dataset)
        expected = self.event_shape
        if out["train"].shape[1:] != expected:
            raise DataError(
                f"{self.dataset} examples have shape {out['train'].shape[1:]}, not the "
                f"dataset's event shape {expected}."
            )
        return out
