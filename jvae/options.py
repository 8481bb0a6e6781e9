"""Fields of the specs: a default, one line of help and the allowed values, written once.

Each layer describes what it builds with a frozen dataclass whose fields are made by
:func:`option` (:class:`jvae.data.spec.DataSpec`, :class:`jvae.models.spec.ModelSpec`, ...).
The command line generates its flags from these fields (name, type, default, help), so a
choice is declared in one place, beside the code that builds it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any


def option(default: Any, help: str, choices: Sequence[Any] = ()) -> Any:
    """A spec field with its ``help`` and, for a closed set of values, its ``choices``.

    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Spec:
    ...     k: int = option(1, "samples per example")
    >>> dataclasses.fields(Spec)[0].metadata["help"]
    'samples per example'
    """
    return dataclasses.field(default=default, metadata={"help": help, "choices": tuple(choices)})


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """One-line ``ValueError`` unless ``value`` is one of ``choices``.

    >>> check_choice("prior", "sg", ("sg", "mog"))
    >>> check_choice("prior", "vamp2", ("sg", "mog"))
    Traceback (most recent call last):
    ...
    ValueError: unknown prior 'vamp2'; choose one of ('sg', 'mog').
    """
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {tuple(choices)}.")


def check_at_least(name: str, value: float | int | None, lowest: float | int) -> None:
    """One-line ``ValueError`` unless ``value`` (when set) is at least ``lowest``."""
    if value is not None and value < lowest:
        raise ValueError(f"{name} must be >= {lowest}; got {value}.")
