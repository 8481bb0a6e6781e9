"""Rebuilds the IWAE paper's table 1 (Burda et al. 2015): VAE and IWAE with 1 and 2 stochastic
layers for k in {1, 5, 50}, on MNIST and Omniglot; test NLL (K=5000) and active units.

    python experiments/iwae_table/main.py --preset smoke
    python experiments/iwae_table/main.py --preset cpu        # resumable: rerun to continue

Each row trains in its own results folder under the preset's ``workdir`` (checkpoints there,
never committed); a row whose ``eval.json`` exists is not run again, and a killed row resumes
from its last checkpoint. The table (``table.md``), one JSON per row and ``nll_vs_k.png`` go to
the preset's ``results`` folder.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

if __package__ in (None, ""):  # run as a script: make `experiments` importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from experiments.iwae_table.configs import PRESETS, get_config  # noqa: E402
from experiments.iwae_table.table import (  # noqa: E402
    control_name,
    figure,
    markdown,
    row_name,
    summarise,
)
from jvae.reports.machine import describe  # noqa: E402
from jvae.run import experiment  # noqa: E402
from jvae.run.config import Config  # noqa: E402


def run_table(
    spec: dict,
    data_dir: str | None = None,
    root: pathlib.Path | None = None,
    only: tuple[str, ...] = (),
) -> str:
    """Every row of ``spec`` (a preset's config); returns the markdown table, which is also
    rewritten (with the figure) after each row. With ``only`` (row names), only those rows are
    trained; the others enter the table when finished. The ``controls`` (single runs with their
    own overrides, e.g. a 1-layer row at the 2-layer rows' budget) follow in a table of their
    own."""
    root = root or pathlib.Path.cwd()
    workdir, results = root / spec["workdir"], root / spec["results"]
    (results / "rows").mkdir(parents=True, exist_ok=True)

    def finished_or_run(config: Config, name: str) -> dict | None:
        """The row's JSON (trained, resumed or read back, and written), or None when ``only``
        leaves an unfinished row out."""
        if only and name not in only and not (workdir / name / "eval.json").exists():
            return None
        result = experiment.train_and_evaluate_once(config, workdir / name, data_dir)
        row = summarise(workdir / name, config, result)
        (results / "rows" / f"{name}.json").write_text(json.dumps(row, indent=2))
        return row

    rows = {}
    for dataset in spec["datasets"]:
        for layers in spec["layers"]:
            for k in spec["ks"]:
                for model in spec["models"]:
                    config = Config.from_preset(
                        spec["preset"],
                        dataset=dataset,
                        layers=layers,
                        k=k,
                        model="iwae" if k == 1 else model,
                        **{**spec["overrides"], **spec["layer_overrides"].get(layers, {})},
                    )
                    row = finished_or_run(config, row_name(dataset, layers, model, k))
                    if row is None:
                        continue
                    rows[dataset, layers, k, model] = row
                    (results / "table.md").write_text(markdown(rows, spec["preset"], describe()))
                    figure(rows, results / "nll_vs_k.png")
    controls = []
    for control in spec["controls"]:
        config = Config.from_preset(
            spec["preset"],
            **{key: control[key] for key in ("dataset", "layers", "k", "model")},
            **control["overrides"],
        )
        row = finished_or_run(config, control_name(config))
        if row is None:
            continue
        controls.append(row)
        (results / "table.md").write_text(markdown(rows, spec["preset"], describe(), controls))
    return (results / "table.md").read_text()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="smoke", choices=PRESETS)
    parser.add_argument("--data-dir", help="dataset folder (default: ../shared/data)")
    parser.add_argument("--only", nargs="+", default=(), help="train only these rows (names)")
    args = parser.parse_args(argv)
    print(run_table(get_config(args.preset), args.data_dir, only=tuple(args.only)))


if __name__ == "__main__":
    main()
