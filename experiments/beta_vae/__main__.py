"""``python -m experiments.beta_vae --preset smoke|cpu|paper``."""

from experiments.beta_vae.main import main

main()
