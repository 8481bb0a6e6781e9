"""The table's rows: the paper's four HVAE(L=2) priors, then IWAE (k=5) with a VampPrior, with
plain reparameterisation and with DReG (combinations no other library trains)."""

ROWS = {
    "hvae_sg": dict(prior="sg", model="vae", k=1),
    "hvae_mog": dict(prior="mog", model="vae", k=1),
    "hvae_vamp_data": dict(prior="vamp-data", model="vae", k=1),
    "hvae_vamp": dict(prior="vamp", model="vae", k=1),
    "hvae_vamp_iwae5": dict(prior="vamp", model="iwae", k=5),
    "hvae_vamp_iwae5_dreg": dict(prior="vamp", model="iwae", k=5, estimator="dreg"),
}
