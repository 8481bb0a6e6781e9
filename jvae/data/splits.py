"""Seeded train/test splits of a dataset's rows."""

from __future__ import annotations

import numpy as np

SPLIT_SEED = 0


def shuffled_split(num: int, fraction: int, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """Rows of ``0..num-1``: ``perm = default_rng(seed).permutation(num)``, test the first
    ``num // fraction`` of ``perm`` and train the rest, both in that shuffled order (so any
    prefix, e.g. ``train_subset``, is a random sample).

    >>> {k: v.tolist() for k, v in shuffled_split(5, 2).items()}
    {'train': [3, 0, 1], 'test': [2, 4]}
    """
    perm = np.random.default_rng(seed).permutation(num).astype(np.int64)
    return {"train": perm[num // fraction :], "test": perm[: num // fraction]}
