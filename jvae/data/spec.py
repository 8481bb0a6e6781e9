"""``DataSpec``: which dataset, which part of it, and the validation split carved from it."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from jvae.data import DATASETS, IMAGE_SHAPES, check_finite, load_dataset
from jvae.options import check_at_least, check_choice, option


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """The data of a run: grey levels in [0, 1], one flattened image per row.

    ``validation`` images are carved from the end of the training set (for MNIST, 10,000 are
    exactly the pickle's validation split); ``train_subset`` then keeps the first training
    images and ``test_subset`` the first test images (0: all).
    """

    dataset: str = option("mnist", "dataset", DATASETS)
    train_subset: int = option(0, "first N training examples (0: all)")
    test_subset: int = option(0, "first N test examples (0: all)")
    validation: int = option(0, "training images held out for model choice (0: none)")

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        for name in ("train_subset", "test_subset", "validation"):
            check_at_least(name, getattr(self, name), 0)

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(height, width)`` of the dataset's images."""
        return IMAGE_SHAPES[self.dataset]

    def load(self, data_dir: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
        """``{'train', 'test'}`` and, with a validation split, ``'valid'``: grey levels
        ``[N, D]``, checked for non-finite rows (one-line :class:`~jvae.data.DataError`)."""
        arrays = load_dataset(self.dataset, data_dir)
        train, test = arrays["train"], arrays["test"]
        out = {}
        if self.validation:
            if self.validation >= len(train):
                raise ValueError(
                    f"validation={self.validation} leaves no training images (of {len(train)})."
                )
            out["valid"] = train[-self.validation :]
            train = train[: -self.validation]
        if self.train_subset:
            train = train[: self.train_subset]
        if self.test_subset:
            test = test[: self.test_subset]
        for name, x in (("train", train), ("test", test), *out.items()):
            check_finite(x, f"{self.dataset} {name}")
        return {"train": train, "test": test, **out}
