"""``python -m experiments.elbo_surgery --preset smoke|cpu|paper``."""

from experiments.elbo_surgery.main import main

main()
