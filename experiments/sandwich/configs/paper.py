"""The issue's full measurement, for an accelerator: the models at their experiments' `paper`
budgets (IWAE paper: 3,280 passes; VampPrior paper: up to 2,000 epochs with early stopping;
VLAE: the VLAE table's `paper` budget of 100 passes), 1,000 test images, L_K up to K=5000, AIS
at T = 1, 10, ..., 10,000 with 16 chains, BDMC on 1,000 simulated images (Wu et al. 2017 use T
up to 100,000 on decoder-based models)."""

from experiments.sandwich.configs.rows import rows


def get_config() -> dict:
    return dict(
        budget="the papers' training schedules (for an accelerator)",
        preset="paper",
        rows=rows(
            dict(vae_k1=3280, iwae_k50=3280, hvae_vamp=2000, vlae=100),
            pixelcnn_field=3,
            pixelcnn_channels=32,
        ),
        overrides=dict(nll_k=100, test_subset=1000),
        row_overrides=dict(),
        examples=1000,
        simulated=1000,
        max_k=5000,
        ais_steps=10_000,
        row_measure=dict(),
        ais=dict(num_chains=16, leapfrog_steps=10, warmup_steps=20),
        workdir="runs/sandwich/paper",
        results="experiments/sandwich/results/paper",
    )
