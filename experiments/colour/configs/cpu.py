"""About 40 minutes of 2 CPU cores for the whole table: every row 6 passes over the 960
training tiles (batch 20, so 288 steps; Adam 1e-3 constant), PixelCNNs of 18 channels with a
radius-3 field (small) or a radius-14 one (large: each value sees the 14 rows above, about half
the tile), test NLL with K=5 on all 239 test tiles, KL per test tile from 4 draws.

Measured on this project's 2 cores while other jobs shared them (jax 0.10.2): a pass costs
about 30 s with a conv decoder, 20 s with the radius-3 PixelCNN and 45 s with the radius-14
one; each row's evaluation (bounds, rate, active units and the run's figures, among them 450
traversal images that a PixelCNN draws value by value) 1.5 to 6 minutes; the whole table 31
minutes. K=5000 is out of reach here: a conv decoder's 239 x 5000 test passes alone take about
5 hours a row; K=5 (with the ELBO beside it) bounds the NLL from above, and the rows share their
test tiles and K."""

from experiments.colour.configs.rows import rows


def get_config() -> dict:
    return dict(
        preset="cpu",
        rows=rows(small_field=3, large_field=14),
        overrides=dict(
            dataset="photo-patches",
            model="vae",
            k=1,
            epochs=6,
            batch_size=20,
            lr_schedule="constant",
            nll_k=5,
            pixelcnn_channels=18,
        ),  # fmt: skip
        rate_samples=4,
        figure_images=8,
        workdir="runs/colour/cpu",
        results="experiments/colour/results/cpu",
    )
