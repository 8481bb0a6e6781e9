#!/usr/bin/env bash
# The main job end to end: virtual environment, install, MNIST prepared offline (TFDS),
# a small IWAE trained for a few minutes, test NLL with K=5000, figures.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
workdir="${1:-results/quickstart}"
rm -rf "$workdir"
.venv/bin/jvae train --preset cpu --model iwae --k 5 --epochs 5 --test-subset 2000 \
    --workdir "$workdir"
echo "summary: $workdir/summary.md; figures: $workdir/samples.png $workdir/reconstructions.png"
