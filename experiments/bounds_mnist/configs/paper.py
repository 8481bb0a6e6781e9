"""Rainforth et al. 2018's comparison at the IWAE paper's schedule: k=64 (MIWAE and PIWAE M=8
groups of 8, CIWAE beta=0.5), 3,280 passes, test NLL with K=5000 on all 10,000 test images
(for an accelerator)."""


def get_config() -> dict:
    return dict(
        preset="paper",
        k=64,
        groups=8,
        ciwae_beta=0.5,
        overrides=dict(),
        workdir="runs/bounds_mnist/paper",
        results="experiments/bounds_mnist/results/paper",
    )
