"""The rows: a VAE, an IAF posterior, an AF prior (2 steps each, on the IWAE paper's 1-layer
MLP nets), VLAE (AF prior with a small-field PixelCNN decoder) and, for the collapse contrast, a
PixelCNN decoder with a large field trained with the plain ELBO and a standard normal prior.

A PixelCNN decoder keeps every layer's feature maps for each of the ``eval_batch * nll_chunk``
images decoded at once when the test bound is evaluated (about 0.8 MB per image at 16 channels
and radius 3: 41 GB at the library's 500 x 100), so its rows decode 100 x 10 at a time."""

PIXELCNN_EVALUATION = dict(eval_batch=100, nll_chunk=10)


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
        "vlae": dict(
            prior="af",
            flow_steps=2,
            decoder="pixelcnn",
            receptive_field=small_field,
            **PIXELCNN_EVALUATION,
        ),
        "pixelcnn_large_field": dict(
            decoder="pixelcnn", receptive_field=large_field, **PIXELCNN_EVALUATION, **budget
        ),
    }
