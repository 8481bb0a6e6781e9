"""Presets of the beta-VAE experiment: ``get_config(preset)`` returns the preset module's
config, a dict with

- ``preset``: the training preset of :meth:`jvae.run.spec.RunSpec.from_preset`;
  ``overrides``: run fields (flat names) of every model (dataset, architecture, budget,
  evaluation);
- ``groups``: ``{name: {overrides, sweep}}``, each trained as one sweep (one vmapped program,
  :func:`jvae.run.train.train` with ``sweep``): its run fields and the grid
  ``{field: values}`` of its members (KL weights x seeds; capacity models x seeds);
- ``rows``: the table's rows, ``{key: {label, kind, ...}}`` with ``kind`` ``'baseline'``
  (``representation``: ``raw_pixels``, ``pca`` or ``untrained``), ``'member'`` (``group`` and
  the swept ``value`` of ``field``, all seeds) or ``'best'`` (the ``group``'s ``candidates``
  value of ``field`` with the highest mean beta-VAE metric);
- ``seeds``: the metric seeds of the baselines; ``pca_points``: images PCA is fitted on;
  ``metrics``: keyword arguments of each metric
  (:func:`jvae.diagnostics.disentanglement.all_metrics`); ``grid``: the dSprites config the
  metrics sample from;
- ``workdir`` (training runs) and ``results`` (table, JSON, PNG), relative to the root.
"""

from __future__ import annotations

from typing import Any

from experiments.runner import preset_config

PRESETS = ("smoke", "cpu", "paper")

# Higgins et al. 2017, table 1 (dSprites, their beta-VAE metric, %): DESIGN.md section 5.
PAPER = {"raw_pixels": 45.75, "pca": 84.9, "untrained": 44.14, "vae": 61.58, "beta4": 99.23}


def table_rows(candidates: tuple[float, ...], capacity: float, gamma: float) -> dict[str, dict]:
    """The rows of every preset: raw pixels, PCA, the untrained model, the VAE (beta = 1),
    beta-VAE (beta = 4), the best beta of ``candidates``, controlled capacity."""
    best = ", ".join(f"{b:g}" for b in candidates)
    return {
        "raw_pixels": dict(label="raw pixels", kind="baseline", representation="raw_pixels"),
        "pca": dict(label="PCA (10 components)", kind="baseline", representation="pca"),
        "untrained": dict(label="untrained model", kind="baseline", representation="untrained"),
        "vae": dict(
            label="VAE (beta = 1)", kind="member", group="beta", field="kl_weight", value=1.0
        ),
        "beta4": dict(
            label="beta-VAE (beta = 4)", kind="member", group="beta", field="kl_weight", value=4.0
        ),
        "best": dict(
            label=f"beta-VAE, best beta of {{{best}}}",
            kind="best",
            group="beta",
            field="kl_weight",
            candidates=candidates,
        ),
        "capacity": dict(
            label=f"controlled capacity (C_max = {capacity:g}, gamma = {gamma:g})",
            kind="member",
            group="capacity",
            field="capacity",
            value=capacity,
        ),
    }


def get_config(preset: str) -> dict[str, Any]:
    return preset_config(__name__, PRESETS, preset)
