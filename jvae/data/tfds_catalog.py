"""Any dataset of the TFDS catalogue (``dataset='tfds:NAME[/CONFIG]'``), read without
TensorFlow.

The dataset is looked up in a TFDS data directory: the one given (``data_dir``, the command
line's ``--data-dir``), else the first of :func:`~jvae.data.tfds_dir` and TFDS's own default
(``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``) where it is prepared. One that is prepared
nowhere is downloaded and prepared into TFDS's default directory, where the machine has a
network; elsewhere the error says how to prepare it. It is read through
``builder.as_data_source`` (the ``array_record`` format, which needs no TensorFlow).

The examples are one feature of the builder: ``image_feature``, by default its first ``Image``
feature (any numeric feature of fixed shape may be named), converted by
:func:`jvae.data.checks.to_float32` (uint8 images become :math:`v / 255`). Its shape gives the
event shape by :func:`jvae.data.checks.event_shape_of` (``(H, W)`` gains a channel axis).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core import constants

from jvae.data.checks import event_shape_of, to_float32
from jvae.data.files import DataError, tfds_dir
from jvae.terminal import interactive


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def tfds_data_dirs(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, ...]:
    """The TFDS data directories searched, in order: ``data_dir`` alone when given, else
    :func:`~jvae.data.tfds_dir` then TFDS's default (``$TFDS_DATA_DIR`` or
    ``~/tensorflow_datasets``)."""
    if data_dir is not None:
        return (Path(data_dir).expanduser(),)
    default = Path(constants.get_default_data_dir()).expanduser()
    return tuple(dict.fromkeys((tfds_dir(), default)))


def _prepare_hint(name: str, directory: Path) -> str:
    return (
        f"Fix: where there is a network, run `tfds build {name} --data_dir {directory} "
        f"--file_format array_record` (or tfds.builder({name!r}, data_dir=...)"
        ".download_and_prepare(file_format='array_record')) and bring that folder here, or "
        "pass data_dir (--data-dir) naming the TFDS directory where it is prepared."
    )


def catalog_builder(
    name: str, data_dir: str | os.PathLike[str] | None = None
) -> tfds.core.DatasetBuilder:
    """The builder of TFDS dataset ``name`` (``NAME[/CONFIG][:VERSION]``) in the first
    directory of :func:`tfds_data_dirs` where it is prepared, else in the last one.

    Raises:
      DataError: TFDS knows no such dataset or config (one line, with the directories).
    """
    directories = tfds_data_dirs(data_dir)
    unprepared, errors = [], []
    for directory in directories:
        try:
            builder = tfds.builder(name, data_dir=str(directory))
        except Exception as e:  # TFDS raises many kinds; each means "not known here"
            errors.append(e)
            continue
        if builder.is_prepared():
            return builder
        unprepared.append(builder)
    if not unprepared:
        raise DataError(
            f"TFDS has no dataset {name!r} ({_first_line(errors[0])}), in its catalogue or "
            f"prepared in {', '.join(map(str, directories))}. Fix: check the name and config "
            "(tfds.list_builders()), or pass data_dir (--data-dir) naming the TFDS directory "
            "where it is prepared."
        )
    return unprepared[-1]


def _feature(builder: tfds.core.DatasetBuilder, name: str, image_feature: str) -> str:
    """The name of the feature holding the examples (see the module)."""
    features = builder.info.features
    if image_feature:
        if image_feature not in features:
            raise DataError(
                f"TFDS dataset {name!r} has no feature {image_feature!r}; its features: "
                f"{sorted(features)}. Fix: image_feature= one of those."
            )
        return image_feature
    for key, feature in features.items():
        if isinstance(feature, tfds.features.Image):
            return key
    raise DataError(
        f"TFDS dataset {name!r} has no Image feature (its features: {sorted(features)}). Fix: "
        "name the feature holding the examples with image_feature=."
    )


def _shape_and_dtype(
    builder: tfds.core.DatasetBuilder, name: str, feature: str
) -> tuple[tuple[int, ...], np.dtype]:
    info = builder.info.features[feature]
    shape, dtype = getattr(info, "shape", None), getattr(info, "np_dtype", None)
    if shape is None or dtype is None or not np.issubdtype(dtype, np.number) or not shape:
        raise DataError(
            f"feature {feature!r} of TFDS dataset {name!r} is a {type(info).__name__}, not an "
            "array of numbers per example. Fix: image_feature= an Image or Tensor feature."
        )
    if any(d is None or d < 0 for d in shape):
        raise DataError(
            f"feature {feature!r} of TFDS dataset {name!r} has no fixed shape ({shape}); jvae "
            "needs one event shape. Fix: choose a dataset or config of fixed-size examples "
            "(e.g. tfds:imagenet_resized/32x32)."
        )
    return tuple(int(d) for d in shape), np.dtype(dtype)


def tfds_event_shape(
    name: str, image_feature: str = "", data_dir: str | os.PathLike[str] | None = None
) -> tuple[int, ...]:
    """The event shape of TFDS dataset ``name``, from its builder's feature info only (no
    example is read; the dataset need not be prepared when TFDS knows its code)."""
    builder = catalog_builder(name, data_dir)
    return _event_shape(builder, name, _feature(builder, name, image_feature))


def _event_shape(builder: tfds.core.DatasetBuilder, name: str, feature: str) -> tuple[int, ...]:
    shape, _ = _shape_and_dtype(builder, name, feature)
    return event_shape_of((0, *shape), f"TFDS dataset {name!r} feature {feature!r}")


def _read(builder: tfds.core.DatasetBuilder, name: str, split: str, feature: str) -> np.ndarray:
    """Every example's ``feature`` in ``split``, stacked in the split's order."""
    try:
        source = builder.as_data_source(split=split)
    except NotImplementedError as e:  # prepared in a format without random access
        raise DataError(
            f"TFDS dataset {name!r} in {builder.data_dir} is not stored as array_record, which "
            f"jvae reads without TensorFlow ({_first_line(e)}). "
            f"{_prepare_hint(name, Path(builder.data_dir_root))}"
        ) from None
    except (ValueError, KeyError, AssertionError) as e:
        raise DataError(
            f"TFDS dataset {name!r} has no split {split!r} ({_first_line(e)}); its splits: "
            f"{sorted(builder.info.splits)}. Fix: train_split= and test_split= name splits "
            "(slices such as 'train[:90%]' too)."
        ) from None
    shape, dtype = _shape_and_dtype(builder, name, feature)
    out = np.empty((len(source), *shape), dtype)
    for i, example in enumerate(source):
        out[i] = example[feature]
    return out


def load_tfds(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    image_feature: str = "",
    train_split: str = "train",
    test_split: str = "test",
) -> dict[str, np.ndarray]:
    """``{'train', 'test'}`` float32 ``[N, *event_shape]`` of TFDS dataset ``name``: the
    ``image_feature`` (default: the first Image feature) of every example of ``train_split``
    and ``test_split`` (slices such as ``'train[:90%]'`` too), uint8 images as :math:`v / 255`.
    Looked up in ``data_dir`` (else :func:`~jvae.data.tfds_dir`, then TFDS's default directory)
    and prepared first where it is not prepared yet (see :mod:`jvae.data.tfds_catalog`).

    Raises:
      DataError: no such dataset, feature or split; not prepared and not downloadable (names
        the directory and how to prepare it); stored in a format other than array_record.
    """
    builder = catalog_builder(name, data_dir)
    if not builder.is_prepared():
        if not interactive():
            tfds.display_progress_bar(False)  # its bars would flood a log file
        try:
            builder.download_and_prepare(file_format="array_record")
        except Exception as e:  # a download fails in many ways; each needs the same fix
            directory = Path(builder.data_dir_root)
            raise DataError(
                f"TFDS dataset {name!r} is not prepared in {directory} and could not be "
                f"downloaded ({_first_line(e)}). {_prepare_hint(name, directory)}"
            ) from None
    feature = _feature(builder, name, image_feature)
    shape = _event_shape(builder, name, feature)
    arrays = {
        "train": _read(builder, name, train_split, feature),
        "test": _read(builder, name, test_split, feature),
    }
    return to_float32({split: x.reshape(len(x), *shape) for split, x in arrays.items()})
