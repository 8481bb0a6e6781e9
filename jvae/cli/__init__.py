"""``jvae <command>``: command-line entry points writing into a results folder.

Each command is a module of this package with ``add_parsers(subparsers)``, which sets the
parser's ``handler`` (``args -> exit status``). Errors in the flags or the data print one line
and exit with status 2.
"""

from __future__ import annotations

import argparse

import jvae
from jvae.cli import disentanglement, surgery, tightness, train

COMMANDS = (train, tightness, surgery, disentanglement)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jvae", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"jvae {jvae.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parsers(sub)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message
        return int(exit_.code or 0)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
