"""Seconds: every objective for one pass over tiny data (what the tests run)."""


def get_config() -> dict:
    return dict(
        preset="smoke",
        k=4,
        groups=2,
        ciwae_beta=0.5,
        overrides=dict(epochs=1, nll_k=8),
        workdir="runs/bounds_mnist/smoke",
        results="experiments/bounds_mnist/results/smoke",
    )
