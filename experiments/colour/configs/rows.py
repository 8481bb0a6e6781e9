"""The rows: one conv VAE per likelihood (a Gaussian with a predicted variance on dequantised
data, a discretised logistic, a mixture of discretised logistics with coupled colours), then
PixelCNN decoders (discretised logistic per value, R before G before B) of a small and a large
receptive field, all with the IWAE paper's 1-layer latent (50 units, N(0, I) prior) and the
plain ELBO."""


def rows(
    small_field: int, large_field: int, large_field_epochs: int | None = None
) -> dict[str, dict]:
    """The rows' overrides of the preset's; ``large_field_epochs`` gives the large-field row its
    own budget (``None``: the preset's)."""
    budget = {} if large_field_epochs is None else dict(epochs=large_field_epochs)
    pixelcnn = dict(decoder="pixelcnn", likelihood="logistic")
    return {
        "conv_gaussian": dict(decoder="conv", likelihood="gaussian"),
        "conv_logistic": dict(decoder="conv", likelihood="logistic"),
        "conv_logistic_mixture": dict(decoder="conv", likelihood="logistic-mixture"),
        "pixelcnn_small_field": dict(**pixelcnn, receptive_field=small_field),
        "pixelcnn_large_field": dict(**pixelcnn, receptive_field=large_field, **budget),
    }
