"""The rows: a VAE, an IAF posterior, an AF prior (2 steps each, on the IWAE paper's 1-layer
MLP nets), VLAE (AF prior with a small-field PixelCNN decoder) and, for the collapse contrast, a
PixelCNN decoder with a large field trained with the plain ELBO and a standard normal prior."""

#: The MLP rows (the VAE, the IAF posterior and the AF prior), cheap enough to train longer.
MLP_ROWS = {
    "vae": dict(),
    "iaf_vae": dict(posterior="iaf", flow_steps=2),
    "af_vae": dict(prior="af", flow_steps=2),
}


def rows(
    small_field: int,
    large_field: int,
    large_field_epochs: int | None = None,
    mlp_long_epochs: int | None = None,
) -> dict[str, dict]:
    """The rows' overrides of the preset's; ``large_field_epochs`` gives the collapse row its own
    budget (``None``: the preset's); ``mlp_long_epochs`` adds the MLP rows again at that budget
    (named ``<row>_<epochs>passes``)."""
    budget = {} if large_field_epochs is None else dict(epochs=large_field_epochs)
    longer = {} if mlp_long_epochs is None else {
        f"{name}_{mlp_long_epochs}passes": dict(row, epochs=mlp_long_epochs)
        for name, row in MLP_ROWS.items()
    }  # fmt: skip
    return {
        **MLP_ROWS,
        "vlae": dict(prior="af", flow_steps=2, decoder="pixelcnn", receptive_field=small_field),
        "pixelcnn_large_field": dict(decoder="pixelcnn", receptive_field=large_field, **budget),
        **longer,
    }
