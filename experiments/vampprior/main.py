"""Rebuilds the VampPrior paper's HVAE table (Tomczak & Welling 2018, table 2): a two-level
hierarchical VAE with a standard normal prior, a mixture of Gaussians, the VampPrior with
training images as pseudo-inputs, and the learned VampPrior; then the VampPrior under IWAE (k=5),
trained with plain reparameterisation and with DReG.

    python experiments/vampprior/main.py --preset smoke
    python experiments/vampprior/main.py --preset cpu        # resumable: rerun to continue

Rows train in their own folders under the preset's ``workdir``; a row with an ``eval.json`` is
read back, a killed one resumes. ``table.md``, one JSON per row and each row's figures go to the
preset's ``results`` folder.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

if __package__ in (None, ""):  # run as a script: make `experiments` importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from experiments.vampprior.configs import PRESETS, get_config  # noqa: E402
from experiments.vampprior.table import copy_figures, markdown, summarise  # noqa: E402
from jvae.reports.machine import describe  # noqa: E402
from jvae.run import experiment  # noqa: E402
from jvae.run.config import Config  # noqa: E402


def run_table(spec: dict, data_dir: str | None = None, root: pathlib.Path | None = None) -> str:
    """Every row of ``spec`` (a preset's config); returns the markdown table, which is also
    rewritten after each row (a table of the rows finished so far)."""
    root = root or pathlib.Path.cwd()
    workdir, results = root / spec["workdir"], root / spec["results"]
    rows: dict[str, dict] = {}
    table = ""
    for name, row in spec["rows"].items():
        config = Config.from_preset(spec["preset"], **{**spec["overrides"], **row})
        folder = workdir / name
        result = experiment.train_and_evaluate_once(config, folder, data_dir)
        rows[name] = summarise(folder, config, result)
        copy_figures(folder, results / "figures", name)
        (results / "rows").mkdir(parents=True, exist_ok=True)
        (results / "rows" / f"{name}.json").write_text(json.dumps(rows[name], indent=2))
        table = markdown(rows, spec["preset"], describe())
        (results / "table.md").write_text(table)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="smoke", choices=PRESETS)
    parser.add_argument("--data-dir", help="dataset folder (default: ../shared/data)")
    args = parser.parse_args(argv)
    print(run_table(get_config(args.preset), args.data_dir))


if __name__ == "__main__":
    main()
