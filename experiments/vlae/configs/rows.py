"""The rows: a VAE, an IAF posterior, an AF prior (2 steps each, on the IWAE paper's 1-layer
MLP nets), VLAE (AF prior with a small-field PixelCNN decoder) and, for the collapse contrast, a
PixelCNN decoder with a large field trained with the plain ELBO and a standard normal prior."""


def rows(
    small_field: int, large_field: int, large_field_epochs: int | None = None
) -> dict[str, dict]:
    """The rows' overrides of the preset's; ``large_field_epochs`` gives the collapse row its own
    budget (``None``: the preset's)."""
    budget = {} if large_field_epochs is None else dict(epochs=large_field_epochs)
    return {
        "vae": dict(),
        "iaf_vae": dict(posterior="iaf", flow_steps=2),
        "af_vae": dict(prior="af", flow_steps=2),
        "vlae": dict(prior="af", flow_steps=2, decoder="pixelcnn", receptive_field=small_field),
        "pixelcnn_large_field": dict(decoder="pixelcnn", receptive_field=large_field, **budget),
    }
