"""``python -m experiments.iwae_table --preset smoke|cpu|paper``."""

from experiments.iwae_table.main import main

main()
