"""Progress of a training run: a bar on a terminal, else one line a minute at most."""

from __future__ import annotations

import sys
import time

from jvae.run.spec import RunSpec

#: Seconds between two progress lines when output is not a terminal.
LOG_EVERY = 60.0


class EpochLog:
    """Progress: a bar on an interactive terminal; otherwise (a log file, a pipe) one line
    ``epoch E/N  loss L  S steps/s  ETA`` for the first and last epoch and at most every
    :data:`LOG_EVERY` seconds between."""

    def __init__(self, spec: RunSpec, size: int, start: int, enabled: bool):
        from jvae.reports.progress import progress_bar
        from jvae.terminal import interactive

        self.total, self.start = spec.train.epochs, start
        self.enabled, self.last = enabled, -float("inf")
        self.t0 = time.perf_counter()
        model, objective = spec.model, spec.objective
        name = f"{model.architecture} {model.prior} {objective.model} k={objective.k}"
        self.name = name if size == 1 else f"sweep of {size}: {name}"
        self.bar = None
        if enabled and interactive():
            self.bar = progress_bar(None, True, total=self.total, initial=start, desc=self.name)

    def epoch(self, epoch: int, loss: float, steps_per_s: float) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.2f}")
            return
        now = time.perf_counter()
        if epoch not in (self.start + 1, self.total) and now - self.last < LOG_EVERY:
            return
        self.last = now
        done = epoch - self.start
        eta = (now - self.t0) / done * (self.total - epoch)
        print(
            f"{self.name}: epoch {epoch}/{self.total}  loss {loss:.3f}  {steps_per_s:.1f} steps/s"
            f"  ETA {_duration(eta)}",
            file=sys.stdout,
            flush=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    """``'1h02m'``, ``'3m05s'`` or ``'12s'``."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
