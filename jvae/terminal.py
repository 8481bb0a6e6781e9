"""Whether output goes to a person at a terminal or to a log: the one test that decides
whether progress bars (:mod:`jvae.reports.progress`, TFDS's own) are drawn."""

from __future__ import annotations

import sys


def interactive() -> bool:
    """Whether standard error is a terminal (not a log file or a pipe)."""
    return sys.stderr.isatty()
