"""Seconds: one epoch on tiny data with 16 components for the standard normal prior, the
VampPrior on training images and IWAE + DReG with a VampPrior (what the tests run; the mixture
of Gaussians trains in tests/test_prior_estimators.py). Validation on 4 images and the test
NLL as L_4 (on the tests' 8 test images): the memory planner's trial shapes (4, then 8 images)
include the whole evaluation, so nothing more compiles."""

from experiments.vampprior.configs.rows import ROWS

SMOKE_ROWS = ("hvae_sg", "hvae_vamp_data", "hvae_vamp_iwae5_dreg")


def get_config() -> dict:
    return dict(
        preset="smoke",
        rows={name: ROWS[name] for name in SMOKE_ROWS},
        overrides=dict(
            architecture="hvae",
            epochs=1,
            batch_size=20,
            components=16,
            validation=4,
            kl_warmup=5,
            nll_k=4,
        ),  # fmt: skip
        workdir="runs/vampprior/smoke",
        results="experiments/vampprior/results/smoke",
    )
