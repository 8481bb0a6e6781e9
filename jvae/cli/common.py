"""What every ``jvae`` subcommand shares: errors as one line in flag terms, exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Callable


def guarded(fn: Callable[[], int]) -> int:
    """Runs ``fn``; a bad flag, missing or corrupt data, a missing results folder or a diverged
    run prints ``jvae: error: ...`` (the library's argument names as flags) and returns 2;
    Ctrl-C returns 130."""
    from jvae.cli.flags import as_flags
    from jvae.data import DataError
    from jvae.run.train import TrainingDiverged

    try:
        return fn()
    except (ValueError, DataError, FileNotFoundError, TrainingDiverged) as err:
        print(f"jvae: error: {as_flags(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
