"""``python -m experiments.paper_cost --preset smoke|cpu``."""

from experiments.paper_cost.main import main

main()
