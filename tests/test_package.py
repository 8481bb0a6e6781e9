"""jvae as a user installs it: ``python -m build`` makes a wheel and an sdist, the wheel
installs into a fresh virtual environment, and from there (no editable install, no repository
files on the path, run from a temporary folder) ``jvae --version`` prints the package's one
version and a smoke training runs.

The fresh environment gets jvae only from the wheel, installed ``--no-deps``; its
dependencies (JAX, Flax, TFDS, ...: about 1 GiB) come from the environment running the tests,
made visible by a ``.pth`` line that appends that environment's ``site-packages`` to the new
one's path. Installing them afresh took 4 min 15 s on this project's 2-core machine (a shared
load; the download is from the local package index and pip's cache), against a few seconds
this way; what a fresh install adds beyond it, that the wheel's declared requirements resolve,
is checked here against the metadata the wheel installed (every requirement present at a
satisfying version). A ``.pth`` line does not process the ``.pth`` files of the directory it
adds, so the test environment's editable jvae stays invisible: the test asserts that ``jvae``
is imported from the new environment. The fresh environment has no pip of its own (creating
one costs seconds); the test environment's pip installs into it (``pip --python``). The smoke
training compiles with quick XLA flags (``FAST_XLA``, as the rest of the suite).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

import pytest
from _workers import FAST_XLA

import jvae

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "XLA_FLAGS", "JAX_"))
    }
    env["HOME"] = os.environ.get("HOME", str(tmp))
    return env


def test_wheel_installs_and_trains_from_a_fresh_venv(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    dist = tmp_path / "dist"
    env = _clean_env(tmp_path)
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], tmp_path, env, 600)
    wheels = sorted(dist.glob("jvae-*.whl"))
    sdists = sorted(dist.glob("jvae-*.tar.gz"))
    assert [w.name for w in wheels] == [f"jvae-{jvae.__version__}-py3-none-any.whl"]
    assert [s.name for s in sdists] == [f"jvae-{jvae.__version__}.tar.gz"]
    t_build = time.perf_counter() - t0

    # A fresh environment, without the system's packages; the test environment's
    # site-packages appended (dependencies only: its .pth files are not processed).
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        tmp_path, env, 60,
    ).strip()  # fmt: skip
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "_jvae_test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
          "--no-index", str(wheels[0])], tmp_path, env, 300)  # fmt: skip

    work = tmp_path / "user"  # no repository file on the path: a folder of the user's own
    work.mkdir()
    # Where jvae is imported from, its version, and the wheel's declared requirements met by
    # what its environment sees (one interpreter: importing jvae takes seconds).
    where, installed, *rest = _run(
        [str(python), "-c",
         "import importlib.metadata as m\n"
         "from packaging.requirements import Requirement\n"
         "import jvae\n"
         "print(jvae.__file__); print(m.version('jvae'))\n"
         "for line in m.requires('jvae') or []:\n"
         "    r = Requirement(line)\n"
         "    if r.marker and not r.marker.evaluate({'extra': ''}):\n"
         "        continue\n"
         "    try:\n"
         "        v = m.version(r.name)\n"
         "    except m.PackageNotFoundError:\n"
         "        print('missing', r); continue\n"
         "    if not r.specifier.contains(v, prereleases=True):\n"
         "        print('unsatisfied', r, v)\n"],
        work, env, 120,
    ).strip().splitlines()  # fmt: skip
    assert where.startswith(str(env_dir)), f"jvae imported from {where}, not the wheel"
    assert installed == jvae.__version__
    missing = [line for line in rest if line.startswith(("missing ", "unsatisfied "))]
    assert missing == [], missing  # (rest: stderr too, e.g. a library's import warning)

    jvae_cli = str(env_dir / "bin" / "jvae")
    version = _run([jvae_cli, "--version"], work, env, 120).strip()
    assert version == f"jvae {jvae.__version__}"

    data_dir = ROOT.parent / "shared" / "data"
    if not (data_dir / "mnist").is_dir():
        pytest.skip(f"no MNIST under {data_dir}: the smoke training needs the project's data")
    out = _run(
        [jvae_cli, "train", "--preset", "smoke", "--epochs", "1", "--train-subset", "200",
         "--test-subset", "100", "--nll-k", "10", "--workdir", str(work / "run"),
         "--data-dir", str(data_dir), "--no-progress"],
        work, {**env, "XLA_FLAGS": FAST_XLA}, 600,
    )  # fmt: skip
    assert re.search(r"nll|NLL", out), out[-2000:]
    assert (work / "run").is_dir()
    print(
        f"build {t_build:.0f} s, install + version + smoke training "
        f"{time.perf_counter() - t0 - t_build:.0f} s; {version}"
    )
