"""The whole table on 2 CPU cores: 100 passes of the paper's learning-rate schedule (its first
100 of 3,280) at batch 100, test NLL with K=5000 on every test image. About 4 hours of training
and 1 hour of evaluation on an idle 2-core machine (MNIST k=50 is the long row, ~70 min)."""


def get_config() -> dict:
    return dict(
        preset="cpu",
        datasets=("mnist", "omniglot"),
        layers=(1, 2),
        ks=(1, 5, 50),
        models=("vae", "iwae"),
        overrides=dict(),
        workdir="runs/iwae_table/cpu",
        results="experiments/iwae_table/results/cpu",
    )
