"""Seconds: IWAE at k=5 with 1 and 2 stochastic layers, tiny data (what the tests run). The
test NLL is L_4: on the tests' 8 test images (the fewest the reconstruction figure shows) the
memory planner's two trial shapes (4 and 8 images x 4 draws) include the whole evaluation, so
nothing more compiles."""

from experiments.iwae_table.configs import PAPER_RUN


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
        row_overrides={"mnist_l1_iwae_k5": dict(curve_every=1)},  # its learning curves
        differences=dict(
            summary="1 layer, k=1, the data-mean output bias",
            base=dict(PAPER_RUN, epochs=1, nll_k=4),
            variants=dict(grey255=dict(mnist_scale=255), beta1=dict(adam_b1=0.99)),
            labels=dict(grey255="MNIST grey levels b/255", beta1="Adam beta1 0.99"),
            seeds=(0, 1),
            base_seeds=(0, 1),
        ),  # fmt: skip
        workdir="runs/iwae_table/smoke",
        results="experiments/iwae_table/results/smoke",
    )
