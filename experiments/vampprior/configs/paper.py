"""Tomczak & Welling 2018: up to 2,000 epochs with early stopping after 50 without improvement,
KL warm-up over 100 epochs, Adam 5e-4, batch 100, C=500, test NLL with S=5000 (a GPU's job)."""

from experiments.vampprior.configs.rows import ROWS


def get_config() -> dict:
    return dict(
        preset="paper",
        rows=ROWS,
        overrides=dict(architecture="hvae"),
        workdir="runs/vampprior/paper",
        results="experiments/vampprior/results/paper",
    )
