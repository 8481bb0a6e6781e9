"""``python -m experiments.colour --preset smoke|cpu|paper``."""

from experiments.colour.main import main

main()
