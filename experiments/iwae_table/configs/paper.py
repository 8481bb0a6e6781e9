"""Burda et al. 2015: 3,280 passes at batch 20 (3^i passes at 1e-3 * 10^(-i/7), i = 0..7),
test NLL with K=5000. Meant for a GPU/TPU: about 41 hours per k=50 row on 2 CPU cores."""


def get_config() -> dict:
    return dict(
        preset="paper",
        datasets=("mnist", "omniglot"),
        layers=(1, 2),
        ks=(1, 5, 50),
        models=("vae", "iwae"),
        controls=(),
        layer_overrides={},
        overrides=dict(decoder_bias="data_mean"),
        workdir="runs/iwae_table/paper",
        results="experiments/iwae_table/results/paper",
    )
