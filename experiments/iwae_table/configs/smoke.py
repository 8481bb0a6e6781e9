"""Seconds: IWAE at k=5 with 1 and 2 stochastic layers, tiny data (what the tests run)."""


def get_config() -> dict:
    return dict(
        preset="smoke",
        datasets=("mnist",),
        layers=(1, 2),
        ks=(5,),
        models=("iwae",),
        controls=(
            dict(
                dataset="mnist",
                layers=1,
                k=5,
                model="iwae",
                overrides=dict(epochs=1, nll_k=10, decoder_bias="zero"),
            ),
        ),
        layer_overrides={},
        overrides=dict(epochs=1, nll_k=10, decoder_bias="data_mean"),
        workdir="runs/iwae_table/smoke",
        results="experiments/iwae_table/results/smoke",
    )
