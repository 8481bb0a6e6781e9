"""``python -m experiments.vlae --preset smoke|cpu|paper``."""

from experiments.vlae.main import main

main()
