"""``python -m experiments.sandwich --preset smoke|cpu|paper``."""

from experiments.sandwich.main import main

main()
