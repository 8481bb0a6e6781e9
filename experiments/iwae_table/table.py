"""The IWAE paper's table 1 beside ours: the rows (one run each), their JSON, the markdown and
the NLL-against-k figure."""

from __future__ import annotations

import pathlib
from typing import Any

from experiments.iwae_table import orderings
from experiments.iwae_table.orderings import Key
from jvae.data import DATASET_NOTES
from jvae.reports.figures import plt
from jvae.reports.kl_curves import read_records
from jvae.run.experiment import training_budget
from jvae.run.spec import PRESETS, RunSpec

# Burda et al. 2015, table 1: test NLL (active units), keyed by (dataset, layers, k, model).
PAPER: dict[tuple[str, int, int, str], tuple[float, str]] = {}
for dataset, rows in {
    "mnist": [
        (1, 1, (86.76, "19"), (86.76, "19")),
        (1, 5, (86.47, "20"), (85.54, "22")),
        (1, 50, (86.35, "20"), (84.78, "25")),
        (2, 1, (85.33, "16+5"), (85.33, "16+5")),
        (2, 5, (85.01, "17+5"), (83.89, "21+5")),
        (2, 50, (84.78, "17+5"), (82.90, "26+7")),
    ],
    "omniglot": [
        (1, 1, (108.11, "28"), (108.11, "28")),
        (1, 5, (107.62, "28"), (106.12, "34")),
        (1, 50, (107.80, "28"), (104.67, "41")),
        (2, 1, (107.58, "28+4"), (107.56, "30+5")),
        (2, 5, (106.31, "30+5"), (104.79, "38+6")),
        (2, 50, (106.30, "30+5"), (103.38, "44+7")),
    ],
}.items():
    for layers, k, vae, iwae in rows:
        PAPER[dataset, layers, k, "vae"] = vae
        PAPER[dataset, layers, k, "iwae"] = iwae


#: The measured worth of MNIST's grey levels b / 256 against b / 255 (``grey_levels.py``).
GREY_LEVEL_WORTH = (
    "0.76 nats of L_5000 (0.755 ± 0.017, paired over the 10,000 test images, on the "
    "paper-schedule 1-layer model after its 3,280 passes: `results/paper/grey_levels.json`)"
)


#: The paragraph on the rows not finished yet (``{rows}``: their names) unless a config gives
#: its own (``pending_note``).
PENDING_NOTE = "Not yet run (the table is filled row by row): {rows}."
#: The controls' paragraph unless a config gives its own (``controls_note``).
CONTROLS_NOTE = (
    "Single runs that separate one factor from the table's rows (e.g. a 1-layer model at the "
    "2-layer rows' budget, with either decoder bias)."
)


def row_name(dataset: str, layers: int, model: str, k: int) -> str:
    """The row's folder name; at k=1 VAE and IWAE train the same objective and share a row."""
    return f"{dataset}_l{layers}_{'iwae' if k == 1 else model}_k{k}"


def control_name(spec: RunSpec) -> str:
    """A control run's folder name: its row's, then its passes and decoder bias."""
    base = row_name(spec.data.dataset, spec.model.layers, spec.objective.model, spec.objective.k)
    return f"{base}_{spec.train.epochs}passes_{spec.model.decoder_bias}_bias"


def plan(config: dict[str, Any]) -> list[tuple[Key | None, str, RunSpec]]:
    """The rows of ``config`` (a preset's), in order: ``(key, name, spec)``, the table's cells
    (``key``: dataset, layers, k, model; at k=1 both models name the same run) then the
    ``controls`` (``key`` None: single runs with their own overrides, e.g. a 1-layer row at
    the 2-layer rows' budget). A cell's run takes the config's ``overrides``, then its layers'
    ``layer_overrides``, then its own ``row_overrides`` (by row name)."""
    out: list[tuple[Key | None, str, RunSpec]] = []
    for dataset in config["datasets"]:
        for layers in config["layers"]:
            for k in config["ks"]:
                for model in config["models"]:
                    name = row_name(dataset, layers, model, k)
                    spec = RunSpec.from_preset(
                        config["preset"],
                        dataset=dataset,
                        layers=layers,
                        k=k,
                        model="iwae" if k == 1 else model,
                        **{
                            **config["overrides"],
                            **config["layer_overrides"].get(layers, {}),
                            **config.get("row_overrides", {}).get(name, {}),
                        },
                    )
                    out.append(((dataset, layers, k, model), name, spec))
    for control in config["controls"]:
        spec = RunSpec.from_preset(
            config["preset"],
            **{key: control[key] for key in ("dataset", "layers", "k", "model")},
            **control["overrides"],
        )
        out.append((None, control_name(spec), spec))
    return out


def specs(config: dict[str, Any]) -> dict[str, RunSpec]:
    """``{row name: run}`` of ``config``, each run once."""
    return {name: spec for _, name, spec in plan(config)}


def keyed(config: dict[str, Any], rows: dict[str, dict]) -> dict[Key, dict]:
    """The finished table cells: ``{(dataset, layers, k, model): row}``."""
    return {key: rows[name] for key, name, _ in plan(config) if key and name in rows}


def summarise(workdir: pathlib.Path, spec: RunSpec, result: dict[str, Any]) -> dict[str, Any]:
    """One row's JSON: the evaluation, the budget and the wall times."""
    return {
        "dataset": spec.data.dataset,
        "layers": spec.model.layers,
        "k": spec.objective.k,
        "model": spec.objective.model,
        "nll": result["nll"],
        "nll_k": result["nll_k"],
        "active_units": result["active_units"],
        "bounds": result["bounds"],
        **training_budget(workdir),
        "batch_size": spec.train.batch_size,
        "decoder_bias": spec.model.decoder_bias,
        **({"mnist_scale": spec.data.mnist_scale} if spec.data.dataset == "mnist" else {}),
        "eval_seconds": result["eval_seconds"],
        "test_examples": result["test_examples"],
        "seed": spec.seed,
        "preset": spec.preset,
    }


def _cell(row: dict | None, budget: int) -> str:
    """NLL (active units), marked with a dagger when the row trained fewer passes than
    ``budget``."""
    if row is None:
        return "–"
    short = "†" if row["passes"] < budget else ""
    return f"{row['nll']:.2f}{short} ({'+'.join(map(str, row['active_units']))})"


def markdown(config: dict[str, Any], rows: dict[str, dict], machine: str) -> str:
    """The table of the finished ``rows`` (name -> JSON) of ``config``: the cells in the
    paper's layout, then the details, then the controls (if any are finished)."""
    controls = [rows[name] for key, name, _ in plan(config) if key is None and name in rows]
    unfinished = [name for key, name, _ in plan(config) if key and name not in rows]
    pending = ", ".join(dict.fromkeys(unfinished))  # k=1: VAE and IWAE cells share a run
    notes = (
        *((config.get("pending_note", PENDING_NOTE).format(rows=pending),) if pending else ()),
        *config.get("notes", ()),
    )
    return _markdown(
        keyed(config, rows), config["preset"], machine, controls, notes,
        config.get("controls_note", CONTROLS_NOTE),
    )  # fmt: skip


def _markdown(
    rows: dict[Key, dict],
    preset: str,
    machine: str,
    controls: list[dict] | None = None,
    notes: tuple[str, ...] = (),
    controls_note: str = "",
) -> str:
    """The paper's layout (ours beside the paper's, per dataset and model), the ``notes``
    (paragraphs of the preset's config), then the details, then the ``controls`` (row JSONs)
    if any, after their ``controls_note``."""
    datasets = sorted({key[0] for key in rows}, key=["mnist", "omniglot"].index)
    layers_ks = sorted({key[1:3] for key in rows})
    budget = PRESETS[preset]["epochs"]
    head = ["layers", "k"]
    for d in datasets:
        for m in ("vae", "iwae"):
            head += [f"{m.upper()} {d} (ours)", "paper"]
    lines = [
        f"# The IWAE table (Burda et al. 2015, table 1), preset `{preset}`",
        "",
        "Test NLL in nats (K=5000 importance samples unless the details say otherwise) and, in",
        "brackets, active units per stochastic layer (bottom first). The paper trains 3,280",
        f"passes; the budget of each row is in the details below. Machine: {machine}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + " --- |" * len(head),
    ]
    for layers, k in layers_ks:
        cells = [str(layers), str(k)]
        for d in datasets:
            for m in ("vae", "iwae"):
                paper = PAPER.get((d, layers, k, m))
                cells += [
                    _cell(rows.get((d, layers, k, m)), budget),
                    f"{paper[0]:.2f} ({paper[1]})",
                ]
        lines.append("| " + " | ".join(cells) + " |")
    short = sorted({r["passes"] for r in rows.values() if r["passes"] < budget})
    biased = any(r["decoder_bias"] == "data_mean" for r in rows.values())
    lines += [
        "",
        "At k=1 VAE and IWAE train the same objective: one run serves both columns.",
        *(
            [
                f"† a smaller stated budget of passes: {', '.join(map(str, short))} (the preset's "
                f"is {budget})."
            ]
            if short
            else []
        ),
        *(
            [
                "Decoder bias `data_mean`: the output bias starts at the logits of the training "
                "pixels' means (as Burda et al.'s code does), `zero` at zero."
            ]
            if biased
            else []
        ),
        "",
        *_grey_level_note(rows),
        *(line for note in notes for line in (note, "")),
        *(f"Data: {DATASET_NOTES[d]}\n" for d in datasets if d in DATASET_NOTES),
        *orderings.markdown(rows, PAPER),
        *_details(
            [
                (key[3], rows[key])
                for key in sorted(rows, key=lambda key: (datasets.index(key[0]), *key[1:]))
            ]
        ),
    ]
    if controls:
        lines += [
            "",
            "## Controls",
            "",
            controls_note,
            "",
            *_details([(r["model"], r) for r in controls]),
        ]
    return "\n".join(lines) + "\n"


def _grey_level_note(rows: dict[Key, dict]) -> list[str]:
    """A note on the MNIST rows read as the pickle's grey levels b / 256 (rows saved before
    ``mnist_scale`` existed were), which the paper's code reads as b / 255."""
    mnist = [r for r in rows.values() if r["dataset"] == "mnist"]
    old = [r for r in mnist if _on_b256(r)]
    if not old:
        return []
    which = "every MNIST row" if len(old) == len(mnist) else f"{len(old)} of the MNIST rows"
    return [
        f"MNIST grey levels: {which} here trained and tested on b/256 for each pixel's byte b "
        "(the pickle's values, jvae's MNIST before 2026-12-04); the paper's code reads the "
        f"original files' b/255, now jvae's default. Worth on the test NLL: {GREY_LEVEL_WORTH}; "
        "`python -m experiments.iwae_table.grey_levels RUN` measures it, `paper_code.md` lists "
        "every other difference from the paper's code.",
        "",
    ]


def _details(rows: list[tuple[str, dict]]) -> list[str]:
    """The details table: one line per ``(model label, row)``."""
    lines = [
        "| dataset | layers | k | model | NLL | L_1 (ELBO) | active units | passes | batch | "
        "decoder bias | train (s) | eval (s) | test images |",
        "|" + " --- |" * 13,
    ]
    for model, r in rows:
        lines.append(
            f"| {_dataset(r)} | {r['layers']} | {r['k']} | {model.upper()} | {r['nll']:.2f} | "
            f"{r['bounds']['1']['mean']:.2f} | {'+'.join(map(str, r['active_units']))} | "
            f"{r['passes']} | {r['batch_size']} | {r['decoder_bias']} | "
            f"{r['train_seconds']:.0f} | {r['eval_seconds']:.0f} | {r['test_examples']} |"
        )
    return lines


def _on_b256(row: dict) -> bool:
    """Whether an MNIST row read the pickle's b/256 (rows saved before ``mnist_scale`` did)."""
    return row["dataset"] == "mnist" and row.get("mnist_scale", 256) == 256


def _dataset(row: dict) -> str:
    """The row's dataset, MNIST marked with its grey levels where they were b/256."""
    return "mnist (b/256)" if _on_b256(row) else row["dataset"]


def figure(rows: dict[Key, dict], path: pathlib.Path) -> None:
    """Test NLL against k, one panel per dataset, ours solid and the paper's dashed."""
    datasets = sorted({key[0] for key in rows}, key=["mnist", "omniglot"].index)
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.6), squeeze=False)
    for ax, d in zip(axes[0], datasets, strict=True):
        for i, (layers, m) in enumerate([(1, "vae"), (1, "iwae"), (2, "vae"), (2, "iwae")]):
            ks = sorted(k for (dd, ll, k, mm) in rows if (dd, ll, mm) == (d, layers, m))
            if not ks:
                continue
            passes = sorted({rows[d, layers, k, m]["passes"] for k in ks})
            label = (
                f"{m.upper()}, {layers} layer{'s' if layers > 1 else ''}, "
                f"{'/'.join(map(str, passes))} passes"
            )
            ax.plot(
                ks, [rows[d, layers, k, m]["nll"] for k in ks], "o-", color=f"C{i}", label=label
            )
            ax.plot(ks, [PAPER[d, layers, k, m][0] for k in ks], "x--", color=f"C{i}", alpha=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("k (training samples)")
        ax.set_ylabel("test NLL (nats)")
        ax.set_title(f"{d}: ours (solid) vs paper (dashed)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def learning_curve(folder: pathlib.Path) -> dict[str, list[float]]:
    """A run's learning curves from its ``metrics.jsonl``: the trained bound (the epoch mean of
    the negative loss on the dynamically binarised training images) after each pass, and the
    test ELBO at the passes it was logged (``curve_every``)."""
    records = read_records(folder / "metrics.jsonl")
    tested = [r for r in records if "test_elbo" in r]
    return {
        "passes": [r["epoch"] for r in records],
        "train_bound": [round(-r["loss"], 4) for r in records],
        "test_passes": [r["epoch"] for r in tested],
        "test_elbo": [round(r["test_elbo"], 4) for r in tested],
    }


def curve_figure(curves: dict[str, dict[str, list[float]]], path: pathlib.Path) -> None:
    """Each row's train bound (thin) and test ELBO (markers) against passes, log-scaled."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for i, (name, c) in enumerate(sorted(curves.items())):
        ax.plot(c["passes"], c["train_bound"], color=f"C{i}", lw=0.8, alpha=0.7,
                label=f"{name}: train bound")  # fmt: skip
        ax.plot(c["test_passes"], c["test_elbo"], "o", color=f"C{i}", ms=2.5,
                label=f"{name}: test ELBO")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("passes over the training set")
    ax.set_ylabel("bound (nats per image)")
    ax.set_title("Learning curves under the paper's schedule", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
