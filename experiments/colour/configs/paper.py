"""The papers' configuration, for a GPU and a user with CIFAR-10 in their TFDS data directory
(`--dataset tfds:cifar10`; `tfds build cifar10` where the machine has a network): PixelCNNs of
120 channels (PixelCNN++ used 160 filters in a U-net of ResNet blocks; ours is a plain gated
stack) with a radius-3 field (VLAE's small field) and the largest useful one, 31 (every earlier
pixel, PixelVAE's end of the scale); up to 2000 passes (batch 32, Adam 1e-3 constant) with
early stopping on 5,000 training images held out (patience 50, the best epoch evaluated), test
NLL with K=5000 on the 10,000 test images, KL from 100 draws. The papers' CIFAR-10 bits/dim
stand beside the rows (VLAE 2.95, Gated PixelCNN 3.03, IAF-VAE 3.11)."""

from experiments.colour.configs.rows import rows


def get_config() -> dict:
    return dict(
        preset="paper",
        rows=rows(small_field=3, large_field=31),
        overrides=dict(
            dataset="tfds:cifar10",
            model="vae",
            k=1,
            epochs=2000,
            batch_size=32,
            lr_schedule="constant",
            validation=5000,
            patience=50,
            nll_k=5000,
            pixelcnn_channels=120,
        ),  # fmt: skip
        rate_samples=100,
        figure_images=8,
        workdir="runs/colour/paper",
        results="experiments/colour/results/paper",
    )
