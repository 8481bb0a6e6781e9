"""Every row trained with the cpu budget (100 passes at batch 100, test NLL with K=5000), then
the surgery over all 60,000 training images (2 draws each)."""

from experiments.elbo_surgery.configs import table_rows


def get_config() -> dict:
    return dict(
        preset="cpu",
        rows=table_rows("cpu"),
        overrides=dict(),
        evaluate=True,
        n=0,
        num_samples=2,
        batch_size=500,
        chunk_size=512,
        seed=0,
        figure=dict(row="vae_2d", images=4, ks=(1, 5, 50), resolution=80, inner=1000),
        workdir="runs/elbo_surgery/cpu",
        results="experiments/elbo_surgery/results/cpu",
    )
