"""A 2-core CPU budget: every row 100 epochs of the paper's setup (Adam 5e-4, batch 100, 500
pseudo-inputs/components, 10,000 validation images carved from the 60,000, the best epoch by
validation ELBO kept, KL warm-up over the first 25 epochs instead of 100), test NLL with K=5000.
The two IWAE (k=5) rows cost about 5x a VAE step: they train 30 epochs with a 10-epoch warm-up
(stated in the table), about 1.5 hours each on 2 cores."""

from experiments.vampprior.configs.rows import ROWS

IWAE_BUDGET = dict(epochs=30, kl_warmup=10 * 500)


def get_config() -> dict:
    return dict(
        preset="cpu",
        rows={
            name: {**row, **(IWAE_BUDGET if row["model"] == "iwae" else {})}
            for name, row in ROWS.items()
        },
        overrides=dict(architecture="hvae", epochs=100, kl_warmup=25 * 500),
        workdir="runs/vampprior/cpu",
        results="experiments/vampprior/results/cpu",
    )
