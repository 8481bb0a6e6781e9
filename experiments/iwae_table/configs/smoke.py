"""Seconds: IWAE at k=5 with 1 and 2 stochastic layers, tiny data (what the tests run). The
test NLL is L_4: on the tests' 8 test images (the fewest the reconstruction figure shows) the
memory planner's two trial shapes (4 and 8 images x 4 draws) include the whole evaluation, so
nothing more compiles."""


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
                overrides=dict(epochs=1, nll_k=4, decoder_bias="zero"),
            ),
        ),
        layer_overrides={},
        overrides=dict(epochs=1, nll_k=4, decoder_bias="data_mean"),
        workdir="runs/iwae_table/smoke",
        results="experiments/iwae_table/results/smoke",
    )
