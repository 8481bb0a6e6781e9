"""``python -m experiments.vampprior --preset smoke|cpu|paper``."""

from experiments.vampprior.main import main

main()
