"""Seconds: a 2-D VAE and a 2-D VampPrior VAE (2 components), one pass over tiny data, no test
evaluation, coarse figures (what the tests run)."""

from experiments.elbo_surgery.configs import PAPER


def get_config() -> dict:
    rows = {
        "vae_2d": dict(
            label="VAE 2-D", overrides=dict(model="vae", k=1, latent_size=2), paper=PAPER[2]
        ),
        "vamp_2d": dict(
            label="VAE 2-D, VampPrior", overrides=dict(model="vae", latent_size=2, prior="vamp")
        ),
    }
    return dict(
        preset="smoke",
        rows=rows,
        overrides=dict(epochs=1, components=2),
        evaluate=False,
        n=0,
        num_samples=2,
        batch_size=100,
        chunk_size=64,
        seed=0,
        figure=dict(row="vae_2d", images=2, ks=(1, 5), resolution=12, inner=20),
        workdir="runs/elbo_surgery/smoke",
        results="experiments/elbo_surgery/results/smoke",
    )
