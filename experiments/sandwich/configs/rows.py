"""The models measured: the committed experiments' own rows (the same RunSpec fields), each
with the budget a preset gives it (``epochs``).

- ``vae_k1``, ``iwae_k50``: the IWAE table's 1-layer MNIST rows (``experiments.iwae_table``)
  with the paper's data-mean output bias;
- ``hvae_vamp``: the VampPrior table's HVAE (L=2) with a learned VampPrior
  (``experiments.vampprior``);
- ``vlae``: the VLAE table's AF prior with a small-field PixelCNN decoder (``experiments.vlae``).
"""

from __future__ import annotations

from experiments.vampprior.configs.rows import ROWS as VAMPPRIOR_ROWS
from experiments.vlae.configs.rows import rows as vlae_rows

#: The experiment each row comes from (for the table).
SOURCES = {
    "vae_k1": "iwae_table",
    "iwae_k50": "iwae_table",
    "hvae_vamp": "vampprior",
    "vlae": "vlae",
}


def rows(
    epochs: dict[str, int], pixelcnn_field: int, pixelcnn_channels: int, components: int = 500
) -> dict[str, dict]:
    """``{row name: RunSpec fields}`` of the four models, trained ``epochs[name]`` passes."""
    iwae_table = dict(dataset="mnist", layers=1, model="iwae", decoder_bias="data_mean")
    vlae = vlae_rows(small_field=pixelcnn_field, large_field=pixelcnn_field)["vlae"]
    out = {
        "vae_k1": dict(iwae_table, k=1),
        "iwae_k50": dict(iwae_table, k=50),
        "hvae_vamp": dict(VAMPPRIOR_ROWS["hvae_vamp"], architecture="hvae", components=components),
        "vlae": dict(vlae, model="vae", k=1, pixelcnn_channels=pixelcnn_channels),
    }
    return {
        name: dict(fields, epochs=epochs[name]) for name, fields in out.items() if name in epochs
    }
