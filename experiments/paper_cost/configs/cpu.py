"""Every row of every experiment's ``paper`` preset on this machine: 20 or more training steps
timed after compilation (2 s at least), the test NLL of 4 images at K=10 or more (2 s at least;
scaled to the preset's K and test images), AIS at T=20 for the sandwich (scaled to its ladder
of T)."""


def get_config() -> dict:
    return dict(
        preset="cpu",
        experiments=(
            "iwae_table",
            "bounds_mnist",
            "vampprior",
            "vlae",
            "elbo_surgery",
            "beta_vae",
            "colour",
            "sandwich",
        ),
        only=(),
        steps=20,
        eval_k=10,
        eval_images=4,
        min_seconds=2.0,
        ais_steps=20,
        workdir="runs/paper_cost/cpu",
        results="experiments/paper_cost/results/cpu",
    )
