"""Seconds: one epoch on tiny data with 16 components for every prior and for IWAE + DReG
(what the tests run)."""

from experiments.vampprior.configs.rows import ROWS

SMOKE_ROWS = ("hvae_sg", "hvae_mog", "hvae_vamp_data", "hvae_vamp_iwae5_dreg")


def get_config() -> dict:
    return dict(
        preset="smoke",
        rows={name: ROWS[name] for name in SMOKE_ROWS},
        overrides=dict(
            architecture="hvae",
            epochs=1,
            batch_size=20,
            components=16,
            validation=40,
            kl_warmup=5,
            nll_k=8,
        ),  # fmt: skip
        workdir="runs/vampprior/smoke",
        results="experiments/vampprior/results/smoke",
    )
