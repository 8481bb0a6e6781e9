"""The experiments run end to end on the smoke preset (tiny data), and their committed tables
regenerate unchanged from their committed row JSON."""

import importlib
import json
import pathlib
import re
import runpy
import subprocess
import sys

import numpy as np
import pytest

import jvae.data.spec
from experiments import TABLES, runner
from jvae.run import experiment
from jvae.run.spec import RunSpec

ROOT = pathlib.Path(__file__).parents[1]  # on pytest's path (pyproject: pythonpath)
EXPERIMENTS = (*TABLES, "paper_cost")


def _data(monkeypatch, arrays):
    """Every run (and the surgery's images) loads ``arrays`` as its dataset."""
    monkeypatch.setattr(
        jvae.data.spec, "load_dataset", lambda name, data_dir=None, **options: arrays
    )


def _regenerated(markdown, config: dict, rows: dict, committed: str) -> str:
    """``markdown(config, rows, machine)`` with the machine recovered from ``committed``
    (the machine a table was made on is in no row); the template itself when none matches."""
    mark = "\x00machine\x00"
    pieces = markdown(config, rows, mark).split(mark)
    pattern = re.escape(pieces[0]) + "(.+?)" + r"\1".join(map(re.escape, pieces[1:]))
    found = re.fullmatch(pattern, committed, re.S)
    return markdown(config, rows, found[1] if found else mark)


COMMITTED = [
    (name, preset)
    for name in EXPERIMENTS
    for preset in ("cpu", "paper")
    if (ROOT / "experiments" / name / "results" / preset / "table.md").exists()
]


@pytest.mark.parametrize(("name", "preset"), COMMITTED)
def test_committed_tables_regenerate_from_their_rows(name, preset):
    configs = importlib.import_module(f"experiments.{name}.configs")
    table = importlib.import_module(f"experiments.{name}.table")
    config = configs.get_config(preset)
    results = ROOT / config["results"]
    rows = runner.read_rows(results)
    files = {"table.md": table.markdown}
    if name == "beta_vae":
        files["timing.md"] = table.timing_markdown
    for filename, markdown in files.items():
        committed = (results / filename).read_text()
        assert _regenerated(markdown, config, rows, committed) == committed, filename


def test_experiments_run_as_modules(monkeypatch, capsys):
    """``python -m experiments.<name>`` (and the other scripts) with no path set up: one in a
    fresh interpreter from the root, every one's ``__main__`` in this one."""
    command = [sys.executable, "-m", "experiments.iwae_table.z1_usage", "--help"]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "--kl-threshold" in out
    modules = {f"experiments.{name}": "--preset" for name in EXPERIMENTS}
    modules["experiments.vlae.prior_width"] = "--prior-draws"
    modules["experiments.iwae_table.differences"] = "--preset"
    modules["experiments.iwae_table.grey_levels"] = "--k"
    for module, flag in modules.items():
        monkeypatch.setattr(sys, "argv", [module, "--help"])
        with pytest.raises(SystemExit) as done:
            runpy.run_module(module, run_name="__main__")
        assert done.value.code == 0 and flag in capsys.readouterr().out


@pytest.mark.slow
def test_iwae_table_smoke_and_row_by_row_resume(tmp_path, grey_data, monkeypatch):
    from experiments.iwae_table import main

    arrays = {"train": grey_data[:400], "test": (grey_data[400:408] > 0.5).astype(np.float32)}
    _data(monkeypatch, arrays)
    spec = main.get_config("smoke")
    table = main.run_table(spec, root=tmp_path)
    lines = [line for line in table.splitlines() if line.startswith(("| 1 | ", "| 2 | "))]
    assert len(lines) == 2  # the paper's layout: one line per (layers, k)
    assert "| 85.54 (22) |" in lines[0] and "| 83.89 (21+5) |" in lines[1]  # the paper's cells
    results = tmp_path / spec["results"]
    assert (results / "table.md").read_text() == table
    assert (results / "nll_vs_k.png").stat().st_size > 0
    rows = sorted(p.name for p in (results / "rows").iterdir())
    control = "mnist_l1_iwae_k5_1passes_zero_bias.json"
    assert rows == ["mnist_l1_iwae_k5.json", control, "mnist_l2_iwae_k5.json"]
    for name in rows:
        row = json.loads((results / "rows" / name).read_text())
        assert 0.0 < row["nll"] < 800.0 and row["passes"] == 1 and row["train_seconds"] > 0
        assert len(row["active_units"]) == row["layers"]
        assert row["decoder_bias"] == ("zero" if name == control else "data_mean")
    controls = table.split("## Controls")[1]
    assert "| mnist | 1 | 5 | IWAE |" in controls and "| zero |" in controls
    # row_overrides reach only their row: its learning curves are the logged records
    workdir = tmp_path / spec["workdir"]
    assert sorted(p.name for p in (results / "curves").iterdir()) == ["mnist_l1_iwae_k5.json"]
    curve = json.loads((results / "curves" / "mnist_l1_iwae_k5.json").read_text())
    logged = json.loads((workdir / "mnist_l1_iwae_k5" / "metrics.jsonl").read_text())
    assert curve["passes"] == curve["test_passes"] == [1]
    assert curve["train_bound"] == [round(-logged["loss"], 4)] and curve["test_elbo"][0] < 0
    assert (results / "learning_curves.png").stat().st_size > 0
    # z1 usage: its variance count is the row's active units of z1, computed independently
    from experiments.iwae_table.z1_usage import z1_usage

    deep = json.loads((results / "rows" / "mnist_l2_iwae_k5.json").read_text())
    usage = z1_usage(workdir / "mnist_l2_iwae_k5", images=8, samples=4)
    assert usage["variance_active"] == deep["active_units"][0]
    assert 0 <= usage["kl_active"] <= 100 and np.isfinite(usage["kl_total"])
    with pytest.raises(ValueError, match="holds no 2-layer chain"):
        z1_usage(workdir / "mnist_l1_iwae_k5")
    # the smoke spec trains 1 pass of the preset's 2: every cell is marked and the note says so
    assert [line.count("†") for line in lines] == [1, 1]
    assert "† a smaller stated budget of passes: 1 (the preset's is 2)." in table
    # a finished row is read back, never trained again; an interrupted one resumes
    monkeypatch.setattr(experiment, "train_and_evaluate", _must_not_train)
    assert main.run_table(spec, root=tmp_path) == table
    (results / "rows" / "mnist_l2_iwae_k5.json").unlink()  # killed in its evaluation
    (tmp_path / spec["workdir"] / "mnist_l2_iwae_k5" / "eval.json").unlink()
    with pytest.raises(AssertionError, match="mnist_l2_iwae_k5 run again with resume=True"):
        main.run_table(spec, root=tmp_path)
    # the table written before that failure still holds the rows after it (the control)
    assert "| mnist | 1 | 5 | IWAE |" in (results / "table.md").read_text().split("## Controls")[1]
    # --only: the other unfinished rows wait, the finished ones stay in the table
    (results / "rows" / control).unlink()
    only = main.run_table(spec, root=tmp_path, only=("mnist_l1_iwae_k5",))
    assert "## Controls" not in only and only.split("\n\n")[:2] == table.split("\n\n")[:2]
    assert "Not yet run (the table is filled row by row): mnist_l2_iwae_k5." in only
    assert "Not yet run" not in table
    # --only runs its rows in the order named (here against the table's order)
    (results / "rows" / "mnist_l1_iwae_k5.json").unlink()
    main.run_table(spec, root=tmp_path, only=(control[: -len(".json")], "mnist_l1_iwae_k5"))
    written = [
        (results / "rows" / n).stat().st_mtime_ns for n in (control, "mnist_l1_iwae_k5.json")
    ]
    assert written[0] < written[1]


@pytest.mark.slow
def test_iwae_paper_code_differences_smoke(tmp_path, grey_data, monkeypatch):
    """Each difference from the paper's code trains as its own run per seed, with exactly its
    field changed; the table's paired differences are the rows' NLL differences, seed by seed."""
    from experiments.iwae_table import differences

    _data(monkeypatch, {"train": grey_data[:100], "test": grey_data[400:408]})
    config = differences.get_config("smoke")
    table = differences.run_table(config, root=tmp_path)
    rows = runner.read_rows(tmp_path / config["results"] / "differences")
    assert sorted(rows) == [f"{v}/seed{s}" for v in ("base", "beta1", "grey255") for s in (0, 1)]
    assert {rows[f"grey255/seed{s}"]["mnist_scale"] for s in (0, 1)} == {255}
    assert {(r["mnist_scale"], r["adam_b1"]) for n, r in rows.items() if "base" in n} == {
        (256, 0.9)
    }
    assert rows["beta1/seed1"]["adam_b1"] == 0.99 and rows["beta1/seed1"]["mnist_scale"] == 256
    line = next(x for x in table.splitlines() if x.startswith("| Adam beta1 0.99 |"))
    paired = [rows[f"beta1/seed{s}"]["nll"] - rows[f"base/seed{s}"]["nll"] for s in (0, 1)]
    assert line.endswith(f"| {np.mean(paired):+.2f} ({paired[0]:+.2f}, {paired[1]:+.2f}) |")
    monkeypatch.setattr(experiment, "train_and_evaluate", _must_not_train)
    assert differences.run_table(config, root=tmp_path) == table  # read back


def _must_not_train(spec, workdir, data_dir=None, resume=False, progress=True, sweep=None):
    raise AssertionError(f"{workdir.name} run again with resume={resume}")


@pytest.mark.slow
def test_vampprior_table_smoke(tmp_path, grey_data, monkeypatch):
    from experiments.vampprior import main

    _data(monkeypatch, {"train": grey_data[:200], "test": grey_data[400:408]})
    spec = main.get_config("smoke")
    table = main.run_table(spec, root=tmp_path)
    results = tmp_path / spec["results"]
    lines = [line for line in table.splitlines() if line.startswith("| hvae")]
    assert [line.split("|")[1].strip() for line in lines] == list(spec["rows"])
    by_name = dict(zip(spec["rows"], lines))
    assert "| 85.89 |" in by_name["hvae_sg"] and "| 85.71 |" in by_name["hvae_vamp_data"]
    dreg = by_name["hvae_vamp_iwae5_dreg"]  # the paper has no IWAE row: no number beside it
    assert dreg.split("|")[3].strip() == "IWAE k=5" and "| dreg |" in dreg
    assert dreg.endswith("| – |")
    for name in spec["rows"]:
        row = json.loads((results / "rows" / f"{name}.json").read_text())
        assert np.isfinite(row["nll"]) and row["passes"] == 1 and row["best_epoch"] == 1
        assert len(row["active_units"]) == 2
    assert (results / "figures" / "hvae_vamp_data_pseudo_inputs.png").exists()
    assert not (results / "figures" / "hvae_sg_pseudo_inputs.png").exists()


@pytest.mark.slow
def test_vlae_table_smoke(tmp_path, grey_data, monkeypatch):
    from experiments.vlae import main

    _data(monkeypatch, {"train": grey_data[:100], "test": grey_data[400:408]})
    spec = main.get_config("smoke")
    table = main.run_table(spec, root=tmp_path)
    results = tmp_path / spec["results"]
    lines = [line for line in table.splitlines() if line.startswith("| ") and "PixelCNN" in line]
    assert [line.split("|")[1].strip() for line in lines] == ["vlae", "pixelcnn_large_field"]
    assert "| 79.03 |" in lines[0]  # the paper's VLAE beside ours
    for name in spec["rows"]:
        row = json.loads((results / "rows" / f"{name}.json").read_text())
        assert np.isfinite(row["nll"]) and row["kl"] > -0.5 and row["passes"] == 1
    assert json.loads((results / "rows" / "vlae.json").read_text())["receptive_field"] == 1
    assert (results / "collapse.png").stat().st_size > 0


def test_iwae_orderings_read_the_papers_table_and_flag_a_reversal():
    """Every comparison behind the paper's four claims over its full table (16 pairs in k, 8
    IWAE-VAE pairs counted for NLL and units, 10 depth pairs): the paper's own table breaks
    exactly one, its Omniglot VAE from k=5 (107.62) to k=50 (107.80). In the section an
    IWAE cell worse than its VAE, and one with as many units, is flagged and tallied."""
    from experiments.iwae_table import orderings
    from experiments.iwae_table.table import PAPER

    found = orderings.comparisons(PAPER)
    assert len(found) == 16 + 16 + 10 == len(set(found))

    value = {key: orderings.value(cell) for key, cell in PAPER.items()}
    assert value["mnist", 2, 50, "iwae"] == (82.90, 33)  # "26+7" summed
    broken = [c for c in found if not orderings.holds(c[0], value[c[1]], value[c[2]])]
    assert broken == [
        (orderings.NLL_FALLS_WITH_K, ("omniglot", 1, 50, "vae"), ("omniglot", 1, 5, "vae"))
    ]
    rows = {key: dict(nll=nll + 5, active_units=[units]) for key, (nll, units) in value.items()
            if key[0] == "mnist" and key[1] == 1 and key[2] < 50}  # fmt: skip
    rows["mnist", 1, 5, "iwae"] = dict(rows["mnist", 1, 5, "vae"], nll=91.60, active_units=[20])
    lines = orderings.markdown(rows, PAPER)
    assert "| IWAE beats the VAE | mnist, 1 layer, k=5: VAE → IWAE | 91.47 → 91.60 (+0.13) | "\
        "**no** | 86.47 → 85.54 (-0.93) | yes |" in lines  # fmt: skip
    assert "Holding: ours 2 of 4, the paper's 4 of 4." in lines
    assert orderings.markdown({k: v for k, v in rows.items() if k[2] == 1}, PAPER) == []


def test_vlae_longer_mlp_rows_keep_their_model_and_paper_number():
    """``mlp_long_epochs`` repeats exactly the MLP rows at that budget; the table labels such a
    row by its model (and the paper's NLL), and says that budgets differ."""
    from experiments.vlae.configs.rows import MLP_ROWS, rows
    from experiments.vlae.table import markdown, specs

    base = rows(small_field=1, large_field=3)
    longer = rows(small_field=1, large_field=3, mlp_long_epochs=7)
    added = {name: row for name, row in longer.items() if name not in base}
    assert added == {f"{n}_7passes": dict(r, epochs=7) for n, r in MLP_ROWS.items()}
    config = dict(preset="smoke", rows=longer, overrides=dict(epochs=1))
    runs = specs(config)
    assert runs["af_vae_7passes"] == runs["af_vae"].replace(epochs=7)
    row = dict(nll=100.0, nll_k=4, elbo=-101.0, kl=1.0, kl_stderr=0.1, distortion=99.0,
               active_units=[3], receptive_field=None, train_seconds=60.0, eval_seconds=6.0,
               test_examples=8)  # fmt: skip
    table = markdown(config, {"af_vae": dict(row, passes=1), "af_vae_7passes": dict(row, passes=7)},
                     "M")  # fmt: skip
    assert "| af_vae_7passes | AF-VAE (AF prior, 2 steps) | 100.00 |" in table
    assert table.count("| 79.30 |") == 2 and "compare NLLs at equal passes" in table


@pytest.mark.slow
def test_bounds_table_smoke(tmp_path, grey_data, monkeypatch):
    _data(monkeypatch, {"train": grey_data[:300], "test": grey_data[400:440]})
    from experiments.bounds_mnist import main
    from experiments.bounds_mnist import table as table_lib

    spec = main.get_config("smoke")
    table = main.run_table(spec, root=tmp_path, only=("VAE", "IWAE-DReG"))
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    assert [r.split("|")[1].strip() for r in rows] == ["VAE", "IWAE-DReG"]
    for row in rows:
        nll, neg_elbo = float(row.split("|")[4]), float(row.split("|")[5])
        assert 0.0 < nll <= neg_elbo + 1.0  # NLL estimate (K=8) vs -L_1 on the same model
    # Rerun for every objective: the finished rows are read back, in the table's order.
    table = main.run_table(spec, root=tmp_path)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    assert [r.split("|")[1].strip() for r in rows] == list(table_lib.OBJECTIVES)
    assert (tmp_path / spec["results"] / "rows" / "piwae.json").exists()
    assert (tmp_path / spec["results"] / "nll_vs_elbo.png").stat().st_size > 0


@pytest.mark.slow
def test_elbo_surgery_smoke_reuse_and_resume(tmp_path, grey_data, monkeypatch):
    from experiments.elbo_surgery import main

    _data(monkeypatch, {"train": grey_data[:200], "test": grey_data[400:420]})
    spec = main.get_config("smoke")
    table = main.run_table(spec, root=tmp_path)
    results = tmp_path / spec["results"]
    assert (results / "table.md").read_text() == table
    surgery, budget = table.split("\n\n")[1:3]
    lines = [line for line in surgery.splitlines() if line.startswith("| VAE")]
    assert len(lines) == 2 and "| -129.63 | 7.41 | 7.20 | 0.21 |" in lines[0]  # the paper's
    passes = spec["overrides"].get("epochs") or RunSpec.from_preset("smoke").train.epochs
    assert f"| VAE 2-D | {passes} |" in budget  # each model's training budget
    for name, analytic in (("vae_2d", True), ("vamp_2d", False)):
        row = json.loads((results / "rows" / f"{name}.json").read_text())
        se = row["stderr"]
        assert row["n"] == 200 and row["analytic_kl"] == analytic and row["nll"] is None
        assert -4 * se["mutual_info"] < row["mutual_info"] <= row["log_n"] + 1e-6
        assert row["elbo"] == pytest.approx(row["reconstruction"] - row["avg_kl"], abs=1e-6)
        assert abs(row["identity_gap"]) < 4 * se["identity_gap"] + 1e-5
    for png in ("posterior_qew.png", "posterior_qew_toy.png"):
        assert (results / png).stat().st_size > 1000
    assert not list(results.rglob("checkpoints"))  # checkpoints live under the workdir only
    # Finished rows are read back; a row reusing a finished run trains nothing.
    vae_2d = tmp_path / spec["workdir"] / "vae_2d"
    (vae_2d / "eval.json").write_text(json.dumps({"nll": 123.0}))
    spec["rows"]["reused"] = dict(
        label="VAE 2-D again", overrides=dict(model="vae"), reuse=f"{spec['workdir']}/vae_2d"
    )
    monkeypatch.setattr(main, "train", lambda *args, **kwargs: pytest.fail("trained"))
    monkeypatch.setattr(main, "train_and_evaluate", lambda *a, **k: pytest.fail("trained"))
    again = main.run_table(spec, root=tmp_path)
    assert again.splitlines()[:6] == table.splitlines()[:6]  # text, header, the two rows
    reused = json.loads((results / "rows" / "reused.json").read_text())
    first = json.loads((results / "rows" / "vae_2d.json").read_text())
    assert reused["nll"] == 123.0 and "| 123.00 |" in again
    assert not (tmp_path / spec["workdir"] / "reused").exists()
    diff_se = np.hypot(reused["stderr"]["elbo"], first["stderr"]["elbo"])
    assert abs(reused["elbo"] - first["elbo"]) < 4 * diff_se  # the same model, fresh draws


class TinySprites:
    """A FactorDataset of 64x64 rectangles: shape (square or bar), scale, orientation (bar
    along rows or columns), posX, posY: 2 x 2 x 2 x 4 x 4 = 128 images."""

    factor_names = ("shape", "scale", "orientation", "posX", "posY")
    factor_sizes = (2, 2, 2, 4, 4)

    def __init__(self):
        combos = np.stack(np.unravel_index(np.arange(128), self.factor_sizes), axis=1)
        self.grid = np.zeros((128, 64, 64), np.float32)
        for row, (shape, scale, orient, px, py) in enumerate(combos):
            h = w = 6 + 6 * scale
            if shape:
                (h, w) = (h, 3 * w) if orient else (3 * h, w)
            top, left = 4 + 10 * py, 4 + 10 * px
            self.grid[row, top : top + h, left : left + w] = 1.0
        self.grid = self.grid.reshape(128, 64, 64, 1)

    def sample_factors(self, rng, n):
        return np.stack([rng.integers(s, size=n) for s in self.factor_sizes], axis=1)

    def images(self, factors):
        return self.grid[np.ravel_multi_index(np.asarray(factors).T, self.factor_sizes)]


@pytest.mark.slow
def test_beta_vae_table_smoke(tmp_path, monkeypatch):
    from experiments.beta_vae import main

    sprites = TinySprites()
    _data(monkeypatch, {"train": np.concatenate([sprites.grid] * 2), "test": sprites.grid[::4]})
    monkeypatch.setattr(main, "factor_dataset", lambda spec, data_dir: sprites)
    spec = main.get_config("smoke")
    table = main.run_table(spec, root=tmp_path)
    results = tmp_path / spec["results"]
    assert (results / "table.md").read_text() == table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "±" in line]
    assert [r.split("|")[1].strip().split(" (chosen")[0] for r in rows] == [
        row["label"] for row in spec["rows"].values()
    ]
    assert "| 99.23 |" in rows[4] and "| 45.75 |" in rows[0]  # the paper beside beta=4, pixels
    assert "46,080 images" in table and "737,280" in table
    for line in rows:  # two seeds (capacity: one) each: a mean and a spread
        for cell in line.split("|")[2:6:3]:
            assert 0.0 <= float(cell.split("±")[0]) <= 100.0
    assert rows[-1].endswith("| 1 |") and rows[3].endswith("| 2 |")
    timing = (results / "timing.md").read_text()
    assert "trained models (posterior means)" in timing
    for figure in ("capacity_kl_per_dim", "beta4_traversals", "best_reconstructions"):
        assert (results / "figures" / f"{figure}.png").stat().st_size > 0
    members = sorted(p.name for p in (tmp_path / spec["workdir"] / "beta").iterdir() if p.is_dir())
    assert members == [f"kl_weight={b},seed={s}" for b in (1, 4) for s in (0, 1)]
    capacity = tmp_path / spec["workdir"] / "capacity" / "capacity=5,seed=0" / "metrics.jsonl"
    assert json.loads(capacity.read_text().splitlines()[-1])["capacity"] == 5.0
    # finished groups and scores are read back: nothing trains or scores again
    monkeypatch.setattr(main, "train", lambda *a, **k: pytest.fail("trained again"))
    monkeypatch.setattr(main.dis, "all_metrics", lambda *a, **k: pytest.fail("scored again"))
    assert main.run_table(spec, root=tmp_path) == table


@pytest.mark.slow
def test_sandwich_table_smoke(tmp_path, grey_data, monkeypatch):
    """The VAE row end to end: trained, L_K, AIS and BDMC measured, the row's gaps consistent
    with its estimates, the sandwich ordered (upper above lower), read back without work."""
    from experiments.sandwich import main

    _data(monkeypatch, {"train": grey_data[:100], "test": (grey_data[400:408] > 0.5) * 1.0})
    config = main.get_config("smoke")
    table = main.run_table(config, root=tmp_path, only=("vae_k1",))
    results = tmp_path / config["results"]
    row = json.loads((results / "rows" / "vae_k1.json").read_text())
    assert [a["steps"] for a in row["ais"]] == [1, 10] and row["examples"] == 4
    best = {b["k"]: b["mean"] for b in row["bounds"]}[row["best_k"]]
    assert row["best_k"] == config["max_k"]
    for a in row["ais"]:  # a paired mean is the difference of the means
        assert a["minus_best"] == pytest.approx(a["mean"] - best, abs=1e-6)
    assert row["ais"][0]["equal_cost_k"] == config["ais"]["num_chains"]  # T=1: IS with K = C
    bdmc = row["bdmc"]
    assert bdmc["examples"] == 4 and all(b["gap"] > 0 for b in bdmc["rows"])
    assert bdmc["iwae"]["k"] == config["max_k"]
    assert "| VAE (k=1), 1 layer | `iwae_table` | 1 |" in table and "VLAE" not in table
    for path in ("sandwich.png", "reports/vae_k1/ais.png", "reports/vae_k1/tightness.json"):
        assert (results / path).stat().st_size > 0
    monkeypatch.setattr(experiment, "train_and_evaluate", _must_not_train)
    assert main.run_table(config, root=tmp_path, only=("vae_k1",)) == table  # read back


@pytest.mark.slow
def test_colour_table_smoke(tmp_path, monkeypatch):
    """The colour table on the bundled photo patches: the Gaussian row trains on patches
    dequantised within their 1/256 bins and reports the 8-bit NLL (the density's plus D log 256);
    every row has its figure; a rerun reads every row back."""
    from experiments.colour import main
    from jvae.data.packaged import photo_patch_levels

    config = main.get_config("smoke")
    table = main.run_table(config, root=tmp_path)
    results = tmp_path / config["results"]
    lines = [line for line in table.splitlines() if line.startswith(("| conv", "| pixelcnn"))]
    assert [line.split("|")[1].strip() for line in lines] == list(config["rows"])
    assert "| 3.03 (Gated PixelCNN, van den Oord et al. 2016) |" in lines[-1]
    levels = photo_patch_levels()
    with np.load(tmp_path / config["workdir"] / "dequantized.npz") as dequantized:
        for split in ("train", "test"):
            u = dequantized[split].astype(np.float64) * 256 - levels[split]
            assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    dims = 32 * 32 * 3
    for name in config["rows"]:
        row = json.loads((results / "rows" / f"{name}.json").read_text())
        assert np.isfinite(row["nll"]) and row["kl"] > -0.5 and row["passes"] == 1
        assert row["bits_per_dim"] == pytest.approx(row["nll"] / (dims * np.log(2.0)), rel=1e-5)
        assert (results / "figures" / f"{name}.png").stat().st_size > 0
        assert row["dequantized"] == (name == "conv_gaussian")
    gaussian = json.loads((results / "rows" / "conv_gaussian.json").read_text())
    assert gaussian["nll"] - gaussian["density_nll"] == pytest.approx(dims * 8 * np.log(2.0))
    assert (
        json.loads((results / "rows" / "pixelcnn_large_field.json").read_text())["receptive_field"]
        == 3
    )
    assert not list(results.rglob("checkpoints"))
    monkeypatch.setattr(experiment, "train_and_evaluate", _must_not_train)
    assert main.run_table(config, root=tmp_path) == table


@pytest.mark.slow
def test_paper_cost_smoke(tmp_path, monkeypatch):
    """The projection of an IWAE-table and a sandwich row of the paper presets: each row's hours
    follow from its measured speeds and the preset's passes, K and images (AIS over the ladder
    of T, BDMC's two chains); no dataset is read; a rerun reads the rows back."""
    from experiments.paper_cost import main
    from jvae.diagnostics.ais import gradient_evaluations
    from jvae.diagnostics.annealed import ais_steps_grid

    monkeypatch.setattr(jvae.data.spec, "load_dataset", _must_not_load)
    config = main.get_config("smoke")
    table = main.run_table(config, root=tmp_path)
    rows = runner.read_rows(tmp_path / config["results"])
    assert sorted(rows) == ["iwae_table/mnist_l2_iwae_k5", "sandwich/vae_k1"]
    deep = rows["iwae_table/mnist_l2_iwae_k5"]
    assert (deep["passes"], deep["steps_per_pass"], deep["nll_k"], deep["test_images"]) == (
        3280, 3000, 5000, 10_000)  # fmt: skip
    assert deep["train_hours"] == pytest.approx(
        3280 * 3000 / deep["steps_per_s"] / 3600, rel=0.01, abs=0.01
    )
    assert deep["eval_hours"] == pytest.approx(
        deep["nll_seconds_per_sample"] * 5000 * 10_000 / 3600, rel=0.01, abs=0.01
    )
    sandwich = rows["sandwich/vae_k1"]
    paper = importlib.import_module("experiments.sandwich.configs").get_config("paper")
    assert ais_steps_grid(paper["ais_steps"]) == (1, 10, 100, 1000, 10_000)
    evaluations = sum(gradient_evaluations(t) for t in ais_steps_grid(10_000))
    chains = paper["examples"] + 2 * paper["simulated"]
    assert sandwich["ais_hours"] == pytest.approx(
        sandwich["ais_seconds_per_evaluation"] * evaluations * chains / 3600, rel=0.01, abs=0.01
    )
    assert sandwich["eval_hours"] > sandwich["ais_hours"] > 0
    assert "| iwae_table | 1 |" in table and "| sandwich | vae_k1 | mnist | 20 | 3,280 |" in table
    monkeypatch.setattr(main, "measure_row", _must_not_measure)
    assert main.run_table(config, root=tmp_path) == table


def _must_not_load(name, data_dir=None):
    raise AssertionError(f"the cost projection read dataset {name}")


def _must_not_measure(*args, **kwargs):
    raise AssertionError("a measured row was measured again")


def test_grey_level_worth_pairs_the_two_binarisations(tmp_path, monkeypatch):
    """MNIST's b/256 and b/255 test sets share their draws (a pixel only turns on: full
    strokes that b/256 drops), and the reported difference is the paired one."""
    from experiments.iwae_table.grey_levels import grey_level_worth
    from jvae.run.train import train

    levels = np.random.default_rng(0).choice([0, 128, 250, 255], size=(60, 28, 28, 1))
    monkeypatch.setattr(
        jvae.data.spec,
        "load_dataset",
        lambda name, data_dir=None, scale=255: {
            "train": (levels[:40] / scale).astype(np.float32),
            "test": (levels[40:] / scale).astype(np.float32),
        },
    )
    spec = RunSpec.from_preset("smoke", epochs=1, batch_size=20, k=1, nll_k=4, mnist_scale=256)
    train(spec, tmp_path / "run", progress=False)
    worth = grey_level_worth(tmp_path / "run", (1, 3))
    assert worth["trained_on_mnist_scale"] == 256 and worth["only_zero_to_one"]
    assert worth["passes"] == 1 and worth["test_images"] == 20
    # each b = 255 pixel differs with probability 1/256, b = 250 with 250/255 - 250/256
    expected = 784 / 4 * (1 / 256 + 250 / 255 - 250 / 256)  # a quarter of pixels each
    assert 0 < worth["differing_pixels_per_image"] < 10 * expected
    for k in (1, 3):
        row = worth[f"L{k}"]
        assert row["diff"] == pytest.approx(row["rescaled"] - row["stored"], abs=1e-9)
        assert row["se"] >= 0.0
