"""Towards Chen et al. 2017's setting on a GPU: 100 passes, PixelCNNs of 32 channels, test NLL
with K=5000 on all 10,000 test images."""

from experiments.vlae.configs.rows import rows


def get_config() -> dict:
    return dict(
        preset="paper",
        rows=rows(small_field=6, large_field=27),
        overrides=dict(model="vae", k=1, epochs=100, nll_k=5000, pixelcnn_channels=32),
        rate_samples=100,
        figure_images=8,
        figure_samples=6,
        workdir="runs/vlae/paper",
        results="experiments/vlae/results/paper",
    )
