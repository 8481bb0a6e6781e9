"""The IWAE paper's schedule (3,280 passes at batch 20) for every row, for a GPU; the surgery
over all 60,000 training images with 8 draws each, finer figures."""

from experiments.elbo_surgery.configs import table_rows


def get_config() -> dict:
    return dict(
        preset="paper",
        rows=table_rows("paper"),
        overrides=dict(),
        evaluate=True,
        n=0,
        num_samples=8,
        batch_size=1000,
        chunk_size=2048,
        seed=0,
        figure=dict(row="vae_2d", images=6, ks=(1, 5, 50), resolution=120, inner=4000),
        workdir="runs/elbo_surgery/paper",
        results="experiments/elbo_surgery/results/paper",
    )
