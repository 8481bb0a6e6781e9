"""A 2-core CPU budget: every objective at k=10 (MIWAE and PIWAE M=2 groups of 5, CIWAE
beta=0.5) for 5 passes of the IWAE paper's schedule at batch 100 on the 1-layer model, test NLL
with K=5000 on the first 2,000 test images: early-training numbers at an equal budget, not
converged ones (about 20 minutes on 2 cores)."""


def get_config() -> dict:
    return dict(
        preset="cpu",
        k=10,
        groups=2,
        ciwae_beta=0.5,
        overrides=dict(epochs=5, test_subset=2000),
        workdir="runs/bounds_mnist/cpu",
        results="experiments/bounds_mnist/results/cpu",
    )
