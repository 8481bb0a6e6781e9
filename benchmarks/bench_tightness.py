"""Bound tightness: L_K against K (gap to the best estimate, JVI, ESS) and gradient SNR.

Always runs the linear-Gaussian model with a deliberately imperfect q (exact log p(x) known);
with ``--workdir`` also the latest checkpoint of a ``jvae train`` results folder (first
``--test-subset`` binarised test images, default 500). Reports go to
``benchmarks/results/tightness/{linear_gaussian,<run name>}/`` (``tightness.md``,
``tightness.json``, ``bound_vs_k.png``, ``snr_vs_k.png``), with the command, the machine and
the wall time appended to the markdown.

    python benchmarks/bench_tightness.py                       # linear-Gaussian (~2 min)
    python benchmarks/bench_tightness.py --workdir runs/iwae   # and a checkpoint
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, command, machine  # noqa: E402

from jvae.cli.tightness import checkpoint_report  # noqa: E402
from jvae.diagnostics import annealed  # noqa: E402
from jvae.reports.tightness import write_report  # noqa: E402


def _footer(wall: float, cpu: float, info: dict) -> str:
    return (
        f"\n---\n`{command()}`: {wall:.0f} s wall, {cpu:.0f} s CPU on {info['nproc']} cores "
        f"({info['cpu_model']}), jax {info['jax']}; load average at start "
        f"{', '.join(f'{v:.1f}' for v in info['loadavg_start'])}, at end "
        f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}.\n"
    )


def _report(results: dict, outdir: Path, t0: float, c0: float, info: dict) -> None:
    paths = write_report(results, outdir)
    times = os.times()
    footer = _footer(time.perf_counter() - t0, times.user + times.system - c0, info)
    paths["md"].write_text(paths["md"].read_text() + footer)
    print(paths["md"].read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", help="a `jvae train` results folder (optional)")
    p.add_argument("--data-dir")
    p.add_argument("--max-k", type=int, default=5000)
    p.add_argument("--test-subset", type=int, default=500)
    p.add_argument("--snr-draws", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-linear-gaussian", action="store_true")
    args = p.parse_args(argv)
    info = machine()
    key = jax.random.PRNGKey(args.seed)
    common = dict(
        num_examples=args.test_subset,
        max_k=args.max_k,
        snr_draws=args.snr_draws,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if not args.skip_linear_gaussian:
        t0, times = time.perf_counter(), os.times()
        results = annealed.linear_gaussian_report(key, **common)
        _report(
            results, RESULTS / "tightness" / "linear_gaussian", t0, times.user + times.system, info
        )
    if args.workdir:
        t0, times = time.perf_counter(), os.times()
        results = checkpoint_report(args.workdir, key, args.data_dir, **common)
        _report(
            results,
            RESULTS / "tightness" / Path(args.workdir).resolve().name,
            t0,
            times.user + times.system,
            info,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
