"""About an hour on 2 idle CPU cores: Higgins et al.'s MLP, KL weights {1, 2, 4, 8} x 3
seeds (one sweep of 12 models) and controlled capacity x 3 seeds (one sweep of 3), 5 passes
(3,240 steps of batch 64) over the 41,472 training images of the dSprites grid, metrics with
1,000 / 500 points (a tenth of disentanglement_lib's).

Sized by a timing run on the shared 2-core machine: 0.09-0.11 CPU-seconds per model step
(12 models side by side), so training is about 15 x 3,240 x 0.1 = 4,900 CPU-seconds (40-50
minutes of wall time on 2 idle cores), and the three metrics about 21 CPU-seconds per model
with these settings (190 s with disentanglement_lib's)."""

from experiments.beta_vae.configs import table_rows

EPOCHS = 5
STEPS = EPOCHS * (41_472 // 64)


def get_config() -> dict:
    return dict(
        preset="cpu",
        overrides=dict(dataset="dsprites", architecture="higgins-mlp", model="vae", epochs=EPOCHS),
        groups=dict(
            beta=dict(overrides=dict(), sweep=dict(kl_weight=[1.0, 2.0, 4.0, 8.0], seed=[0, 1, 2])),
            capacity=dict(
                # Burgess et al.: gamma 1000, C_max 25 nats reached over 100,000 steps; here over
                # the first 3/4 of the run.
                overrides=dict(capacity=25.0, capacity_steps=3 * STEPS // 4, capacity_gamma=1000.0),
                sweep=dict(capacity=[25.0], seed=[0, 1, 2]),
            ),
        ),
        rows=table_rows(candidates=(2.0, 4.0, 8.0), capacity=25.0, gamma=1000.0),
        seeds=(0, 1, 2),
        pca_points=10_000,
        metrics=dict(
            beta_vae_metric=dict(num_train=1000, num_eval=500),
            factor_vae_metric=dict(num_train=1000, num_eval=500, num_variance_estimate=5000),
            mig=dict(num_points=10_000),
        ),
        grid="grid",
        workdir="runs/beta_vae/cpu",
        results="experiments/beta_vae/results/cpu",
    )
