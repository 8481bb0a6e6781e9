"""Seconds: the VAE, VLAE and the large-field contrast for one pass over tiny data, PixelCNNs
of 4 channels (what the tests run; tests/test_build.py trains the IAF and AF parts)."""

from experiments.vlae.configs.rows import rows


def get_config() -> dict:
    return dict(
        preset="smoke",
        rows={
            name: row
            for name, row in rows(small_field=1, large_field=3).items()
            if name in ("vae", "vlae", "pixelcnn_large_field")
        },
        overrides=dict(
            model="vae", k=1, epochs=1, batch_size=20, nll_k=4, test_subset=8, pixelcnn_channels=4
        ),  # fmt: skip
        rate_samples=2,
        figure_images=3,
        figure_samples=2,
        workdir="runs/vlae/smoke",
        results="experiments/vlae/results/smoke",
    )
