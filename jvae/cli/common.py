"""What every ``jvae`` subcommand shares: errors as one line and exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Callable


def guarded(fn: Callable[[], int]) -> int:
    """Runs ``fn``; a bad flag, missing or corrupt data, a missing results folder or a diverged
    run prints ``jvae: error: ...`` and returns 2; Ctrl-C returns 130."""
    from jvae.data import DataError
    from jvae.run.experiment import TrainingDiverged

    try:
        return fn()
    except (ValueError, DataError, FileNotFoundError, TrainingDiverged) as err:
        print(f"jvae: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
