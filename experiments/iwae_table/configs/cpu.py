"""The whole table on 2 CPU cores: 100 passes of the paper's learning-rate schedule (its first
100 of 3,280) at batch 100, test NLL with K=5000 on every test image (1-layer rows: about 4
hours of training and 1 hour of evaluation on this machine; MNIST k=50 is the long row).

The 2-layer rows (784-200-200-100, 100-100-100-50) have a stated budget of 20 passes, every
one of them alike so that their orderings in k and objective stay fair: at 100 passes they
would add about 5 hours, over the issue's 8. They start the decoder's output bias at the
logits of the training pixels' means, as Burda et al.'s code does: from a zero bias the
2-layer chain trains far more slowly (and at the first wave's narrower widths collapsed). The
1-layer rows were trained from a zero bias before this was found and are kept; the table's
details give each row's budget and bias."""

from experiments.iwae_table.configs import PAPER_RUN


def get_config() -> dict:
    return dict(
        preset="cpu",
        datasets=("mnist", "omniglot"),
        layers=(1, 2),
        ks=(1, 5, 50),
        models=("vae", "iwae"),
        overrides=dict(),
        layer_overrides={2: dict(decoder_bias="data_mean", epochs=20)},
        # 1-layer rows at the 2-layer rows' budget: k=1 from either bias (2 layers against 1 at
        # equal passes, and what the bias alone does), IWAE k=50, and VAE against IWAE at k=5
        # on Omniglot (whose 20 passes are only 4,860 steps).
        controls=(
            *(
                dict(
                    dataset=d,
                    layers=1,
                    k=1,
                    model="iwae",
                    overrides=dict(epochs=20, decoder_bias=b),
                )
                for d in ("mnist", "omniglot")
                for b in ("zero", "data_mean")
            ),
            *(
                dict(
                    dataset=d,
                    layers=1,
                    k=50,
                    model="iwae",
                    overrides=dict(epochs=20, decoder_bias="data_mean"),
                )
                for d in ("mnist", "omniglot")
            ),
            *(
                dict(
                    dataset="omniglot",
                    layers=1,
                    k=5,
                    model=m,
                    overrides=dict(epochs=20, decoder_bias="data_mean"),
                )
                for m in ("vae", "iwae")
            ),
        ),
        differences=dict(
            summary="1 layer, k=1, the data-mean output bias, MNIST",
            base=dict(PAPER_RUN, epochs=30, nll_k=1000),
            variants=dict(
                grey255=dict(mnist_scale=255),
                beta1=dict(adam_b1=0.99),
                eps=dict(adam_eps=5e-6),
                paper_code=dict(mnist_scale=255, adam_b1=0.99, adam_eps=5e-6),
            ),
            labels=dict(
                grey255="MNIST grey levels b/255 (theirs)",
                beta1="Adam beta1 0.99 (their code's)",
                eps="Adam eps 5e-6 (theirs, on our mean-gradient scale)",
                paper_code="all three, as their code",
            ),
            seeds=(0,),
            base_seeds=(0, 1),
        ),  # fmt: skip
        workdir="runs/iwae_table/cpu",
        results="experiments/iwae_table/results/cpu",
    )
