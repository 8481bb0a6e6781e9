"""A GPU's job: the papers' budgets on the dSprites grid (the full 737,280-image file is not
available here): KL weights {1, 2, 4, 8, 16} x 5 seeds and controlled capacity x 5 seeds
(Burgess et al.: gamma 1000, C_max 25 nats over 100,000 steps), 300 passes (194,400 steps),
disentanglement_lib's metric settings (10,000 / 5,000 points)."""

from experiments.beta_vae.configs import table_rows

SEEDS = [0, 1, 2, 3, 4]


def get_config() -> dict:
    return dict(
        preset="paper",
        overrides=dict(dataset="dsprites", architecture="higgins-mlp", model="vae", epochs=300),
        groups=dict(
            beta=dict(
                overrides=dict(), sweep=dict(kl_weight=[1.0, 2.0, 4.0, 8.0, 16.0], seed=SEEDS)
            ),
            capacity=dict(
                overrides=dict(capacity=25.0, capacity_steps=100_000, capacity_gamma=1000.0),
                sweep=dict(capacity=[25.0], seed=SEEDS),
            ),
        ),
        rows=table_rows(candidates=(2.0, 4.0, 8.0, 16.0), capacity=25.0, gamma=1000.0),
        seeds=tuple(SEEDS),
        pca_points=10_000,
        metrics=dict(beta_vae_metric=dict(), factor_vae_metric=dict(), mig=dict()),
        grid="grid",
        workdir="runs/beta_vae/paper",
        results="experiments/beta_vae/results/paper",
    )
