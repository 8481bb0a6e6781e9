"""Seconds: two KL weights x two seeds and one capacity model of a small MLP (4096-200-200-10),
one pass over tiny data, tiny metric settings (what the tests run, on synthetic sprites)."""

from experiments.beta_vae.configs import table_rows


def get_config() -> dict:
    return dict(
        preset="smoke",
        overrides=dict(
            dataset="dsprites",
            architecture="iwae",  # the IWAE paper's 1-layer MLP: small and quick to compile
            latent_size=10,
            model="vae",
            epochs=1,
            train_subset=2048,
            batch_size=32,
            nll_k=2,
            test_subset=16,
        ),
        groups=dict(
            beta=dict(overrides=dict(), sweep=dict(kl_weight=[1.0, 4.0], seed=[0, 1])),
            capacity=dict(
                overrides=dict(capacity=5.0, capacity_steps=2, capacity_gamma=100.0),
                sweep=dict(capacity=[5.0], seed=[0]),
            ),
        ),
        rows=table_rows(candidates=(4.0,), capacity=5.0, gamma=100.0),
        seeds=(0, 1),
        pca_points=256,
        metrics=dict(
            beta_vae_metric=dict(pairs=4, num_train=64, num_eval=32, batch_size=64),
            factor_vae_metric=dict(
                group_size=8, num_train=64, num_eval=32, num_variance_estimate=128, batch_size=64
            ),
            mig=dict(num_points=256, batch_size=64),
        ),
        grid="grid",
        workdir="runs/beta_vae/smoke",
        results="experiments/beta_vae/results/smoke",
    )
