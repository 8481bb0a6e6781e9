"""Command-line flags generated from the specs' fields, and library errors in flag terms.

Every field of :class:`~jvae.run.spec.RunSpec` and its sub-specs becomes ``--field-name``
(name, type, choices and help from the field, written once beside the code that builds it);
an unset flag is ``None`` and takes the preset's value. The library's errors name its
arguments (``kl_weight``, ``decoder_bias='zero'``); :func:`as_flags` rewrites them as flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing

from jvae.run.spec import SPECS, RunSpec


def _fields() -> list[dataclasses.Field]:
    top = [f for f in dataclasses.fields(RunSpec) if f.name not in SPECS]
    return top + [f for cls in SPECS.values() for f in dataclasses.fields(cls)]


def _type(field: dataclasses.Field, owner: type) -> type:
    hint = typing.get_type_hints(owner)[field.name]
    if isinstance(hint, types.UnionType):  # float | None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def flag(name: str) -> str:
    """``'kl_weight'`` -> ``'--kl-weight'``."""
    return "--" + name.replace("_", "-")


def add_spec_flags(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One flag per spec field (``--preset`` defaults to ``smoke``; every other flag to
    ``None``, i.e. the preset's value)."""
    owners = {f.name: RunSpec for f in dataclasses.fields(RunSpec) if f.name not in SPECS}
    for cls in SPECS.values():
        owners |= {f.name: cls for f in dataclasses.fields(cls)}
    for field in _fields():
        if field.name in skip:
            continue
        kind = _type(field, owners[field.name])
        choices = field.metadata["choices"] or None
        default = field.default if field.name == "preset" else None
        shown = "" if field.default is None else f" (default {field.default!r})"
        parser.add_argument(
            flag(field.name),
            type=kind,
            choices=choices,
            default=default,
            help=field.metadata["help"] + ("" if choices else shown),
        )


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """The :class:`RunSpec` of the parsed flags: the preset, then the flags given."""
    given = {f.name: getattr(args, f.name, None) for f in _fields() if f.name != "preset"}
    return RunSpec.from_preset(args.preset, **given)


_NAMES = sorted({f.name for f in _fields()}, key=len, reverse=True)
_ASSIGNED = re.compile(r"\b(" + "|".join(_NAMES) + r")=('([^']*)'|[^\s,;:)]+)")
_MENTIONED = re.compile(r"\b(" + "|".join(n for n in _NAMES if "_" in n) + r")\b")


def as_flags(message: str) -> str:
    """A library message in flag terms: ``name=value`` becomes ``--name value`` and an
    argument name with an underscore becomes its flag.

    >>> as_flags("prior='vamp' mixes Gaussian posteriors: use posterior='gaussian'.")
    '--prior vamp mixes Gaussian posteriors: use --posterior gaussian.'
    >>> as_flags("kl_weight must be >= 0; got -1.")
    '--kl-weight must be >= 0; got -1.'
    """

    def assigned(m: re.Match) -> str:
        value = m.group(3) if m.group(3) is not None else m.group(2)
        return f"{flag(m.group(1))} {value}"

    message = _ASSIGNED.sub(assigned, message)
    return _MENTIONED.sub(lambda m: flag(m.group(1)), message)
