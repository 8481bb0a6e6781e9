"""``python -m experiments.bounds_mnist --preset smoke|cpu|paper``."""

from experiments.bounds_mnist.main import main

main()
