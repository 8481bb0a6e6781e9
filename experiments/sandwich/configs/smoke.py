"""Seconds: the VAE (k=1) and the VLAE for one pass over tiny data (a 4-channel PixelCNN of
field 1), L_K up to K=20 and AIS at T = 1, 10 with 2 chains on 4 test images, BDMC on 4
simulated images (what the tests run)."""

from experiments.sandwich.configs.rows import rows


def get_config() -> dict:
    return dict(
        budget="seconds (tiny data, what the tests run)",
        preset="smoke",
        rows=rows(dict(vae_k1=1, vlae=1), pixelcnn_field=1, pixelcnn_channels=4, components=16),
        overrides=dict(batch_size=20, nll_k=4, test_subset=4),
        row_overrides=dict(),
        examples=4,
        simulated=4,
        max_k=20,
        ais_steps=10,
        row_measure=dict(),
        ais=dict(num_chains=2, leapfrog_steps=2, warmup_steps=4),
        workdir="runs/sandwich/smoke",
        results="experiments/sandwich/results/smoke",
    )
