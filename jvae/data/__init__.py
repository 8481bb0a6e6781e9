"""Datasets as float32 arrays ``[N, *event_shape]``, their checks, and binarisation.

``load_dataset(name)`` returns ``{'train', 'test', ...}`` for a bundled dataset (``mnist``,
``omniglot`` and ``dsprites`` from offline TFDS builders; ``digits`` and ``photo-patches``
shipped by scikit-learn and scikit-image), an ``npz:PATH`` file or any ``tfds:NAME[/CONFIG]``
dataset; :func:`dataset_event_shape` gives a name's event shape without reading examples
(:data:`EVENT_SHAPES` for the bundled ones). :func:`check_arrays` checks a dataset against a
likelihood's kind of data before anything compiles. dSprites also gives an exact factor
sampler (:func:`dsprites_factors`, a :class:`FactorDataset`). A run reads its data through
:class:`jvae.data.spec.DataSpec`.
"""

from __future__ import annotations

from jvae.data.binarize import binarize, static_binarize
from jvae.data.checks import DATA_KINDS, check_arrays, check_finite, to_float32
from jvae.data.dsprites import (
    DSpritesFactors,
    JvaeDsprites,
    dsprites_builder,
    dsprites_factors,
    load_dsprites,
)
from jvae.data.factors import FactorDataset
from jvae.data.files import DataError, data_dir, tfds_dir, verify_sha256
from jvae.data.mnist import (
    JvaeMnist,
    extract_mnist_from_wheel,
    fetch_mnist_pickle,
    load_mnist,
    mnist_builder,
)
from jvae.data.names import (
    DATASET_NOTES,
    DATASETS,
    EVENT_SHAPES,
    check_dataset_name,
    dataset_event_shape,
    load_dataset,
)
from jvae.data.npz import load_npz
from jvae.data.omniglot import (
    OMNIGLOT_NOTE,
    JvaeOmniglot,
    load_omniglot,
    omniglot_builder,
    omniglot_split,
)
from jvae.data.packaged import digits_levels, load_digits, load_photo_patches, photo_patch_levels
from jvae.data.tfds_catalog import load_tfds

__all__ = [
    "DATASETS",
    "DATASET_NOTES",
    "DATA_KINDS",
    "EVENT_SHAPES",
    "OMNIGLOT_NOTE",
    "DSpritesFactors",
    "DataError",
    "FactorDataset",
    "JvaeDsprites",
    "JvaeMnist",
    "JvaeOmniglot",
    "binarize",
    "check_arrays",
    "check_dataset_name",
    "check_finite",
    "data_dir",
    "dataset_event_shape",
    "digits_levels",
    "dsprites_builder",
    "dsprites_factors",
    "extract_mnist_from_wheel",
    "fetch_mnist_pickle",
    "load_dataset",
    "load_digits",
    "load_dsprites",
    "load_mnist",
    "load_npz",
    "load_omniglot",
    "load_photo_patches",
    "load_tfds",
    "mnist_builder",
    "omniglot_builder",
    "omniglot_split",
    "photo_patch_levels",
    "static_binarize",
    "tfds_dir",
    "to_float32",
    "verify_sha256",
]
