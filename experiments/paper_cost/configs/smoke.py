"""Seconds: a row of the IWAE table's paper preset and one of the sandwich's (with AIS), a few
steps and images each (what the tests run)."""


def get_config() -> dict:
    return dict(
        preset="smoke",
        experiments=("iwae_table", "sandwich"),
        only=("iwae_table/mnist_l2_iwae_k5", "sandwich/vae_k1"),
        steps=3,
        eval_k=10,
        eval_images=2,
        min_seconds=0.0,
        ais_steps=3,
        workdir="runs/paper_cost/smoke",
        results="experiments/paper_cost/results/smoke",
    )
