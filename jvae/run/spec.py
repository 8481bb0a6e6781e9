"""``RunSpec``: one spec per layer (data, model, objective, training, evaluation) and the
presets that fill them.

A run is described by the specs of the layers that build it: :class:`DataSpec` (arrays),
:class:`ModelSpec` (the model), :class:`ObjectiveSpec` (the loss and its estimator),
:class:`TrainSpec` (optimiser, passes, guards) and :class:`EvalSpec` (test NLL). Each checks
itself where it is made, with one-line errors in the library's argument names. Every field
name is unique across the specs, so a run can also be written flat (``k=5, prior='vamp'``),
as the command line and the experiments' configs do; ``config.json`` in a results folder
stores the nested form and older, flat ``config.json`` files still load.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from jvae.data.spec import DataSpec
from jvae.diagnostics.spec import EvalSpec
from jvae.models.dsprites_vae import DSPRITES_ARCHITECTURES
from jvae.models.spec import ModelSpec
from jvae.objectives.spec import ObjectiveSpec
from jvae.options import check_choice, option
from jvae.training.spec import TrainSpec

#: The sub-specs of a run, by attribute name.
SPECS: dict[str, type] = {
    "data": DataSpec,
    "model": ModelSpec,
    "objective": ObjectiveSpec,
    "train": TrainSpec,
    "eval": EvalSpec,
}
PRESETS: dict[str, dict[str, Any]] = {
    # what the tests and the README's quick job run (about a minute).
    "smoke": dict(batch_size=100, epochs=2, train_subset=2000, test_subset=500, nll_k=500),
    # a full table on 2 CPU cores: 100 passes with the paper's schedule compressed.
    "cpu": dict(batch_size=100, epochs=100, nll_k=5000),
    # Burda et al. 2015: batch 20, 3^i passes at 1e-3 * 10^(-i/7), i = 0..7 (3,280 passes).
    "paper": dict(batch_size=20, epochs=3280, nll_k=5000),
}
# Tomczak & Welling 2018: Adam 5e-4, batch 100, 10k validation images carved from the 60k
# training images, early stopping after 50 epochs without improvement, KL warm-up over 100
# epochs (500 steps each), up to 2000 epochs. The cpu preset is a 100-epoch budget.
_HVAE = dict(learning_rate=5e-4, lr_schedule="constant", adam_eps=1e-8)
ARCHITECTURE_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "hvae": {
        "smoke": dict(**_HVAE, validation=500, kl_warmup=20),
        "cpu": dict(**_HVAE, validation=10_000, patience=50, kl_warmup=12_500),
        "paper": dict(
            **_HVAE, batch_size=100, epochs=2000, validation=10_000, patience=50, kl_warmup=50_000
        ),
    },
    # Burgess et al. 2018: Adam 5e-4, batch 64 (Higgins et al. 2017 used Adagrad 1e-2, batch 64).
    **{
        name: {
            preset: dict(batch_size=64, learning_rate=5e-4, lr_schedule="constant", adam_eps=1e-8)
            for preset in PRESETS
        }
        for name in DSPRITES_ARCHITECTURES
    },
}
# Fields of older, flat config.json files: renamed, or gone (evaluation batching is now chosen
# from a memory budget by the evaluators themselves).
_RENAMED = {"beta": "ciwae_beta"}


def _added(saved: dict[str, Any]) -> dict[str, Any]:
    """Fields added since runs were first saved, with the value a saved run had: MNIST was
    read as the pickle's b / 256 until the default became the original files' b / 255."""
    return {"mnist_scale": 256} if saved.get("dataset", "mnist") == "mnist" else {}


_RETIRED = ("eval_batch", "nll_chunk")


def spec_fields() -> dict[str, str]:
    """``{field name: sub-spec}`` over every sub-spec (the names are unique)."""
    owners: dict[str, str] = {}
    for part, cls in SPECS.items():
        for field in dataclasses.fields(cls):
            if field.name in owners or field.name in ("preset", "seed"):
                raise TypeError(f"spec field {field.name!r} is not unique.")
            owners[field.name] = part
    return owners


_OWNERS = spec_fields()


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """A whole run: a preset's name, the seed, and one spec per layer.

    ``seed`` seeds initialisation, data order and draws (training key ``PRNGKey(seed)``),
    a VampPrior "data"'s pseudo-inputs, and the evaluation (``PRNGKey(seed + 1)``).

    >>> spec = RunSpec.from_preset("smoke", model="vae", k=5, prior="mog")
    >>> spec.objective.name, spec.model.prior, spec.train.epochs
    ('elbo', 'mog', 2)
    >>> spec.replace(k=50).objective.k
    50
    """

    preset: str = option("smoke", "preset: smoke, cpu or paper", tuple(PRESETS))
    seed: int = option(0, "seed of initialisation, data order and draws")
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    objective: ObjectiveSpec = dataclasses.field(default_factory=ObjectiveSpec)
    train: TrainSpec = dataclasses.field(default_factory=TrainSpec)
    eval: EvalSpec = dataclasses.field(default_factory=EvalSpec)

    def __post_init__(self) -> None:
        """Checks the run by building what it describes (its model for its data's images,
        the objective's KL reweighting against that model): a one-line ``ValueError`` here,
        before any data is read or anything compiles."""
        check_choice("preset", self.preset, tuple(PRESETS))
        if self.train.patience and not self.data.validation:
            raise ValueError("patience (early stopping) needs validation > 0 images to watch.")
        model = self.model.build(self.data.event_shape)
        _, reweighting = self.objective.kl_choices()
        if reweighting is not None:
            reweighting.check(model)

    @classmethod
    def from_flat(cls, values: dict[str, Any]) -> RunSpec:
        """A run from flat ``{field: value}`` (unknown names refused in one line)."""
        unknown = sorted(set(values) - set(_OWNERS) - {"preset", "seed"})
        if unknown:
            raise ValueError(f"unknown run fields {unknown}; known: {sorted(_OWNERS)}.")
        parts: dict[str, dict[str, Any]] = {part: {} for part in SPECS}
        for name, value in values.items():
            if name in _OWNERS:
                parts[_OWNERS[name]][name] = value
        top = {name: values[name] for name in ("preset", "seed") if name in values}
        return cls(**top, **{part: SPECS[part](**kw) for part, kw in parts.items()})

    @classmethod
    def from_preset(cls, preset: str = "smoke", **overrides: Any) -> RunSpec:
        """The preset's values, then the architecture's (e.g. the HVAE's Adam 5e-4 and
        validation split), then the ``overrides`` that are not ``None`` (flat names)."""
        check_choice("preset", preset, tuple(PRESETS))
        given = {k: v for k, v in overrides.items() if v is not None}
        arch = ARCHITECTURE_PRESETS.get(given.get("architecture", "iwae"), {}).get(preset, {})
        return cls.from_flat({**PRESETS[preset], **arch, **given, "preset": preset})

    def flat(self) -> dict[str, Any]:
        """Every field by its flat name."""
        out: dict[str, Any] = {"preset": self.preset, "seed": self.seed}
        for part in SPECS:
            out.update(dataclasses.asdict(getattr(self, part)))
        return out

    def replace(self, **values: Any) -> RunSpec:
        """This run with some fields (flat names) changed, checked again."""
        return RunSpec.from_flat({**self.flat(), **values})

    def differences(self, other: RunSpec) -> dict[str, tuple[Any, Any]]:
        """``{field: (mine, other's)}`` of the fields that differ."""
        mine, theirs = self.flat(), other.flat()
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}

    def to_json(self) -> str:
        nested = {"preset": self.preset, "seed": self.seed}
        nested |= {part: dataclasses.asdict(getattr(self, part)) for part in SPECS}
        return json.dumps(nested, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        """A saved run: nested (this version) or flat (``config.json`` of earlier versions,
        whose retired fields are dropped and renamed ones mapped). A field added since a run
        was saved takes the value the run had (:func:`_added`), so it resumes and evaluates on
        what it was trained on."""
        saved = json.loads(text)
        if all(part in saved and isinstance(saved[part], dict) for part in SPECS):
            flat = {k: v for k, v in saved.items() if k not in SPECS}
            for part in SPECS:
                flat.update(saved[part])
        else:
            flat = {_RENAMED.get(k, k): v for k, v in saved.items() if k not in _RETIRED}
        return cls.from_flat({**_added(flat), **flat})
