"""``jvae train | evaluate | tightness``: command-line entry points writing a results folder.

Errors in the flags or the data print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys

from jvae.cli import tightness, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jvae", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train.add_parsers(sub)
    tightness.add_parser(sub)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its message
        return int(exit_.code or 0)
    if args.command == "tightness":
        return tightness.run(args)

    from jvae.data import DataError
    from jvae.run.experiment import TrainingDiverged

    try:
        result = train.run(args)
    except (ValueError, DataError, FileNotFoundError, TrainingDiverged) as err:
        print(f"jvae: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if result is not None:
        print(
            f"test NLL (K={result['nll_k']}): {result['nll']:.2f} nats; active units "
            f"{'+'.join(map(str, result['active_units']))}; results in {args.workdir}/ "
            "(summary.md, samples.png, reconstructions.png, metrics.jsonl, eval.json)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
