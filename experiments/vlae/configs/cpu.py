"""A 2-core CPU budget: every row 30 passes over the 60,000 training images (batch 100, the IWAE
paper's learning-rate schedule), PixelCNNs of 16 channels with a radius-3 field (VLAE) or a
radius-14 field (the collapse contrast), test NLL with K=200 on the first 1,000 test images (a
PixelCNN decoder makes K=5000 on 10,000 images days of CPU time), KL per test image from 10
draws. The large-field row trains 12 passes, about the cost of VLAE's 30 (a radius-14 PixelCNN
step costs about 2.8 times a radius-3 one: measured 2026-12-05 alone on 2 cores, ~7.0 minutes a
pass against ~2.5), so the two PixelCNN rows compare at near-equal training time (about 80
minutes each). The MLP rows (VAE, IAF-VAE, AF-VAE: minutes each) train again for 100 passes, to
see whether AF-VAE overtakes IAF-VAE given time (Chen et al.'s table 2 and the lecture's
theorem). Until 2026-12-04 this preset was 10 passes (the large-field row 4)."""

from experiments.vlae.configs.rows import rows


def get_config() -> dict:
    return dict(
        preset="cpu",
        rows=rows(small_field=3, large_field=14, large_field_epochs=12, mlp_long_epochs=100),
        overrides=dict(
            model="vae", k=1, epochs=30, nll_k=200, test_subset=1000, pixelcnn_channels=16
        ),  # fmt: skip
        rate_samples=10,
        figure_images=6,
        figure_samples=4,
        workdir="runs/vlae/cpu",
        results="experiments/vlae/results/cpu",
    )
