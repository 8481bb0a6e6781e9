"""Seconds: the Gaussian (dequantised) and the large-field PixelCNN (3 channels, radius 3) for
one pass over 40 training tiles, tested on 4 with K=4 (what the tests run; the other rows take
the same path as one of these, and tests/test_likelihoods_real.py and tests/test_logistic.py
test their likelihoods)."""

from experiments.colour.configs.rows import rows


def get_config() -> dict:
    return dict(
        preset="smoke",
        rows={
            name: row
            for name, row in rows(small_field=1, large_field=3).items()
            if name in ("conv_gaussian", "pixelcnn_large_field")
        },
        overrides=dict(
            dataset="photo-patches",
            model="vae",
            k=1,
            epochs=1,
            batch_size=20,
            lr_schedule="constant",
            train_subset=40,
            test_subset=4,
            nll_k=4,
            pixelcnn_channels=3,
        ),  # fmt: skip
        rate_samples=2,
        figure_images=3,
        workdir="runs/colour/smoke",
        results="experiments/colour/results/smoke",
    )
