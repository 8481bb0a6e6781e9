#!/usr/bin/env bash
# The test suite: installs the package with its test and docs extras into .venv, then runs
# pytest (unit and property tests, doctests of the package and of README.md, the package built
# and installed from its wheel, and the documentation site built with warnings as errors, its
# tutorials executed; where Chromium is installed, the built pages checked in it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,docs]'
# worksteal: an idle worker takes half of the other's queue, so the slow tests (run first,
# tests/conftest.py) end together instead of one worker waiting for the other.
exec .venv/bin/python -m pytest -n 2 --dist worksteal --durations=15 tests jvae README.md "$@"
