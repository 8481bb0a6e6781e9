"""A 2-core CPU budget: the four models trained at stated short budgets (the 1-layer rows 10
passes at batch 100 with the IWAE paper's schedule, the HVAE 10 epochs with a 2-epoch KL
warm-up and no validation carve-out, VLAE 1 pass with a 16-channel radius-3 PixelCNN); then,
on the first 100 test images, L_K up to K=5000 and AIS at T = 1, 10, 100, 1,000 (16 chains,
10 leapfrog steps, a 20-step pilot, as Wu et al. 2017), and BDMC on 100 images simulated from
each model at the same T. The HVAE's gradient costs about 10x the 1-layer MLP's here (T=100
took 9 minutes on 100 images under load), so it stops at T=100; a PixelCNN gradient costs far
more, so VLAE is measured on 20 images at T up to 100 (the `paper` preset runs the rest)."""

from experiments.sandwich.configs.rows import rows


def get_config() -> dict:
    return dict(
        budget="2 CPU cores, short training budgets (`configs/cpu.py`)",
        preset="cpu",
        rows=rows(
            dict(vae_k1=10, iwae_k50=10, hvae_vamp=10, vlae=1),
            pixelcnn_field=3,
            pixelcnn_channels=16,
        ),
        overrides=dict(nll_k=100, test_subset=100),
        row_overrides=dict(hvae_vamp=dict(validation=0, patience=0, kl_warmup=1000)),
        examples=100,
        simulated=100,
        max_k=5000,
        ais_steps=1000,
        row_measure=dict(
            hvae_vamp=dict(ais_steps=100), vlae=dict(examples=20, simulated=20, ais_steps=100)
        ),
        ais=dict(num_chains=16, leapfrog_steps=10, warmup_steps=20),
        workdir="runs/sandwich/cpu",
        results="experiments/sandwich/results/cpu",
    )
