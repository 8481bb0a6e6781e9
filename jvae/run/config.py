"""Run configuration: presets and one-line validation before anything compiles."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from jvae.estimators import ESTIMATORS
from jvae.models.build import ARCHITECTURES, POSTERIORS, PRIORS
from jvae.models.conv_models import DECODERS, LIKELIHOODS
from jvae.models.dsprites_vae import DSPRITES_ARCHITECTURES
from jvae.training.train import LR_SCHEDULES

PRESETS: dict[str, dict[str, Any]] = {
    # seconds: what the tests and the README's quick job run.
    "smoke": dict(batch_size=100, epochs=2, train_subset=2000, test_subset=500, nll_k=500),
    # a full table on 2 CPU cores: 100 passes with the paper's schedule compressed.
    "cpu": dict(batch_size=100, epochs=100, train_subset=0, test_subset=0, nll_k=5000),
    # Burda et al. 2015: batch 20, 3^i passes at 1e-3 * 10^(-i/7), i = 0..7 (3,280 passes).
    "paper": dict(batch_size=20, epochs=3280, train_subset=0, test_subset=0, nll_k=5000),
}
# A PixelCNN decoder keeps every layer's feature maps for each of the eval_batch * nll_chunk
# images decoded at once by the test bound (about 0.8 MB per image at 16 channels and radius 3:
# 41 GB at the defaults' 500 x 100), so it evaluates 100 x 10 images at a time.
DECODER_EVALUATION: dict[str, dict[str, Any]] = {"pixelcnn": dict(eval_batch=100, nll_chunk=10)}
# Tomczak & Welling 2018: Adam 5e-4, batch 100, 10k validation images carved from the 60k
# training images, early stopping after 50 epochs without improvement, KL warm-up over 100
# epochs (500 steps each), up to 2000 epochs. The cpu preset is a 100-epoch budget.
ARCHITECTURE_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "hvae": {
        "smoke": dict(
            learning_rate=5e-4,
            lr_schedule="constant",
            adam_eps=1e-8,
            validation=500,
            kl_warmup=20,
        ),
        "cpu": dict(
            learning_rate=5e-4,
            lr_schedule="constant",
            adam_eps=1e-8,
            validation=10_000,
            patience=50,
            kl_warmup=12_500,
        ),
        "paper": dict(
            batch_size=100,
            epochs=2000,
            learning_rate=5e-4,
            lr_schedule="constant",
            adam_eps=1e-8,
            validation=10_000,
            patience=50,
            kl_warmup=50_000,
        ),
    },
    # Burgess et al. 2018: Adam 5e-4, batch 64 (Higgins et al. 2017 used Adagrad 1e-2, batch 64).
    **{
        name: {
            preset: dict(batch_size=64, learning_rate=5e-4, lr_schedule="constant", adam_eps=1e-8)
            for preset in ("smoke", "cpu", "paper")
        }
        for name in DSPRITES_ARCHITECTURES
    },
}
MODELS = ("vae", "iwae")
BOUNDS = ("elbo", "iwae", "miwae", "ciwae", "piwae", "renyi")
DATASETS = ("mnist", "omniglot", "dsprites")
# The initial output bias of the decoder: zero (Flax's default), or the logits of the training
# pixels' means (Burda et al.'s code; see jvae.components.likelihoods.data_mean_logits).
DECODER_BIASES = ("zero", "data_mean")


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that defines a training run; ``Config.from_preset`` fills the schedule.

    ``model='vae'`` trains the ELBO averaged over ``k`` samples, ``model='iwae'`` the bound
    ``L_k``; ``bound`` overrides that choice (``miwae``/``piwae`` use ``groups``, ``ciwae``
    uses ``beta``, ``renyi`` uses ``alpha``). ``architecture`` is the IWAE paper's chain
    (``layers`` 1 or 2, ``latent_size`` for 1 layer, 0 = 50) or the VampPrior paper's ``hvae``;
    ``prior`` is over the top latent (``components`` for mixtures, ``flow_steps`` for the AF
    prior); ``posterior`` is ``'gaussian'`` or ``'iaf'`` (``flow_steps`` steps) on the latent
    read from x; ``decoder`` is the architecture's own ``'mlp'``, the ``'conv'`` pair or a
    ``'pixelcnn'`` of radius ``receptive_field`` (:mod:`jvae.models.conv_models`), with a
    ``'bernoulli'`` or (8-bit grey levels, no binarisation) ``'logistic'`` ``likelihood``;
    ``decoder_bias='data_mean'`` starts the MLP decoder's output bias at the logits of the
    training pixels' means instead of zero.
    ``kl_warmup`` raises the
    KL weight linearly from 0 to 1 over that many steps (``kl_cycles`` > 0: that many cyclical
    ramps instead). ``kl_weight`` (beta), ``free_bits`` (lambda nats per group of
    ``free_bits_groups`` groups, 0 = one per latent dimension) and ``capacity`` (C_max nats,
    reached after ``capacity_steps``, weight ``capacity_gamma``) reweight the ELBO's KL term
    (:class:`jvae.objectives.KLReweighting`, ``None`` = not used); ``kl_weight`` with another
    bound tempers its log-weights instead. ``validation`` images are carved from
    the end of the training set: the best epoch by validation ELBO is kept, and with
    ``patience`` > 0 training stops after that many epochs without improvement.
    ``sample_shards > 1`` splits the ``nll_k`` samples of the test NLL over that many devices
    (see :mod:`jvae.training.parallel`).
    """

    model: str = "iwae"
    k: int = 1
    layers: int = 1
    preset: str = "smoke"
    seed: int = 0
    bound: str = ""
    estimator: str = "reparam"
    groups: int = 1
    beta: float = 0.5
    alpha: float = 0.5
    dataset: str = "mnist"
    batch_size: int = 100
    epochs: int = 2
    learning_rate: float = 1e-3
    train_subset: int = 0
    test_subset: int = 0
    nll_k: int = 5000
    nll_chunk: int = 100
    eval_batch: int = 500
    max_nonfinite: int = 100
    sample_shards: int = 1
    architecture: str = "iwae"
    prior: str = "sg"
    components: int = 500
    latent_size: int = 0
    kl_warmup: int = 0
    validation: int = 0
    patience: int = 0
    lr_schedule: str = "paper"
    adam_eps: float = 1e-4
    posterior: str = "gaussian"
    flow_steps: int = 2
    decoder: str = "mlp"
    likelihood: str = "bernoulli"
    decoder_bias: str = "zero"
    receptive_field: int = 6
    pixelcnn_channels: int = 32
    kl_weight: float | None = None
    kl_cycles: int = 0
    free_bits: float | None = None
    free_bits_groups: int = 0
    capacity: float | None = None
    capacity_steps: int = 0
    capacity_gamma: float = 1000.0

    @classmethod
    def from_preset(cls, preset: str = "smoke", **overrides: Any) -> Config:
        """The preset's values, then the architecture's (e.g. the HVAE's Adam 5e-4 and
        validation split) and the decoder's (a PixelCNN's evaluation batching), then
        ``overrides`` that are not ``None``."""
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}.")
        given = {k: v for k, v in overrides.items() if v is not None}
        arch = ARCHITECTURE_PRESETS.get(given.get("architecture", "iwae"), {}).get(preset, {})
        decoder = DECODER_EVALUATION.get(given.get("decoder", "mlp"), {})
        return cls(preset=preset, **{**PRESETS[preset], **arch, **decoder, **given})

    @property
    def objective(self) -> str:
        """The bound trained: ``bound`` if set, else ELBO for ``vae`` and IWAE for ``iwae``."""
        return self.bound or ("elbo" if self.model == "vae" else "iwae")

    @property
    def reweights_kl(self) -> bool:
        """Whether the ELBO's KL term is reweighted (beta-VAE, free bits, capacity) rather than
        a bound of (tempered) log-weights trained."""
        chosen = (self.kl_weight, self.free_bits, self.capacity)
        return self.objective == "elbo" and any(v is not None for v in chosen)

    def __post_init__(self) -> None:
        checks = [
            (self.model in MODELS, f"unknown model {self.model!r}; choose one of {MODELS}"),
            (self.k >= 1, f"k (samples per example) must be >= 1, got {self.k}"),
            (self.layers in (1, 2), f"layers must be 1 or 2, got {self.layers}"),
            (self.objective in BOUNDS, f"unknown bound {self.bound!r}; choose one of {BOUNDS}"),
            (
                self.estimator in ESTIMATORS,
                f"unknown estimator {self.estimator!r}; choose one of {ESTIMATORS}",
            ),
            (self.dataset in DATASETS, f"unknown dataset {self.dataset!r}; choose {DATASETS}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}"),
            (self.nll_k >= 1 and self.nll_chunk >= 1, "nll_k and nll_chunk must be >= 1"),
            (self.max_nonfinite >= 0, "max_nonfinite must be >= 0"),
            (
                self.sample_shards >= 1 and self.nll_k % self.sample_shards == 0,
                f"sample_shards={self.sample_shards} must be >= 1 and divide nll_k={self.nll_k}",
            ),
            (
                self.objective not in ("miwae", "piwae") or self.k % self.groups == 0,
                f"k={self.k} must be divisible by groups={self.groups} for {self.objective}",
            ),
            (0.0 <= self.beta <= 1.0, f"beta must lie in [0, 1], got {self.beta}"),
            (
                self.architecture in ARCHITECTURES,
                f"unknown architecture {self.architecture!r}; choose one of {ARCHITECTURES}",
            ),
            (self.prior in PRIORS, f"unknown prior {self.prior!r}; choose one of {PRIORS}"),
            (
                self.components >= 1,
                f"--components must be >= 1 (mixture components), got {self.components}",
            ),
            (
                not (
                    self.prior.startswith("vamp")
                    and self.architecture == "iwae"
                    and self.layers == 2
                ),
                f"--prior {self.prior} mixes posteriors q(z2 | u) of pseudo-inputs, but the IWAE "
                "chain infers z2 from z1, not x: use --layers 1 or --architecture hvae",
            ),
            (self.latent_size >= 0, f"latent_size must be >= 0, got {self.latent_size}"),
            (
                not self.latent_size
                or (self.architecture == "iwae" and self.layers == 1)
                or self.architecture in DSPRITES_ARCHITECTURES,
                "--latent-size applies to the 1-layer iwae and the dSprites architectures only",
            ),
            (self.kl_warmup >= 0, f"kl_warmup (steps) must be >= 0, got {self.kl_warmup}"),
            (self.validation >= 0, f"validation must be >= 0, got {self.validation}"),
            (
                self.patience >= 0 and (self.patience == 0 or self.validation > 0),
                "--patience (early stopping) needs --validation > 0 images to watch",
            ),
            (
                self.lr_schedule in LR_SCHEDULES,
                f"unknown lr_schedule {self.lr_schedule!r}; choose one of {LR_SCHEDULES}",
            ),
            (self.adam_eps > 0, f"adam_eps must be > 0, got {self.adam_eps}"),
            (
                self.posterior in POSTERIORS,
                f"unknown posterior {self.posterior!r}; choose one of {POSTERIORS}",
            ),
            (self.flow_steps >= 0, f"--flow-steps must be >= 0, got {self.flow_steps}"),
            (
                not (self.posterior == "iaf" and self.architecture == "iwae" and self.layers == 2),
                "--posterior iaf applies to the 1-layer iwae model and to the hvae's q(z2 | x)",
            ),
            (
                not (self.posterior == "iaf" and self.prior.startswith("vamp")),
                f"--prior {self.prior} mixes Gaussian posteriors q(z | u), which an IAF "
                "posterior is not: use --posterior gaussian or another prior",
            ),
            (
                self.architecture not in DSPRITES_ARCHITECTURES
                or (self.layers == 1 and self.posterior == "gaussian"),
                f"--architecture {self.architecture} has one Gaussian latent layer: use --layers 1 "
                "and --posterior gaussian",
            ),
            *self._kl_checks(),
            *self._decoder_checks(),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message + ".")

    def _decoder_checks(self) -> list[tuple[bool, str]]:
        """The decoder options' checks."""
        conv_ok = self.architecture == "hvae" or (self.architecture == "iwae" and self.layers == 1)
        return [
            (
                self.decoder in DECODERS,
                f"unknown decoder {self.decoder!r}; choose one of {DECODERS}",
            ),
            (
                self.likelihood in LIKELIHOODS,
                f"unknown likelihood {self.likelihood!r}; choose one of {LIKELIHOODS}",
            ),
            (
                self.decoder == "mlp" or conv_ok,
                f"--decoder {self.decoder} applies to the 1-layer iwae and the hvae architectures",
            ),
            (
                self.likelihood == "bernoulli" or self.decoder != "mlp",
                "--likelihood logistic needs --decoder conv or pixelcnn",
            ),
            (
                self.decoder_bias in DECODER_BIASES,
                f"unknown decoder_bias {self.decoder_bias!r}; choose one of {DECODER_BIASES}",
            ),
            (
                self.decoder_bias == "zero"
                or (self.architecture == "iwae" and self.decoder == "mlp"),
                "--decoder-bias data_mean sets the output bias of the iwae architecture's MLP "
                "decoder: use --architecture iwae --decoder mlp, or --decoder-bias zero",
            ),
            (
                self.receptive_field >= 1,
                f"--receptive-field must be >= 1, got {self.receptive_field}",
            ),
            (self.pixelcnn_channels >= 1, "--pixelcnn-channels must be >= 1"),
        ]

    def _kl_checks(self) -> list[tuple[bool, str]]:
        """The KL options' checks: ranges, and the combinations that have no meaning."""
        set_ = {
            name: value is not None
            for name, value in (
                ("--kl-weight", self.kl_weight),
                ("--free-bits", self.free_bits),
                ("--capacity", self.capacity),
            )
        }
        non_negative = [
            (name, value)
            for name, value in (
                ("--kl-weight", self.kl_weight),
                ("--free-bits", self.free_bits),
                ("--capacity", self.capacity),
                ("--kl-cycles", self.kl_cycles),
                ("--free-bits-groups", self.free_bits_groups),
                ("--capacity-steps", self.capacity_steps),
            )
            if value is not None
        ]
        return [
            *((value >= 0, f"{name} must be >= 0, got {value}") for name, value in non_negative),
            (self.capacity_gamma > 0, f"--capacity-gamma must be > 0, got {self.capacity_gamma}"),
            (
                not self.kl_cycles or self.kl_cycles <= self.kl_warmup,
                f"--kl-cycles {self.kl_cycles} splits --kl-warmup STEPS into cycles: give "
                f"--kl-warmup >= {self.kl_cycles}",
            ),
            (
                not (set_["--free-bits"] and set_["--capacity"]),
                "--free-bits and --capacity are two different KL penalties: choose one",
            ),
            (
                not set_["--capacity"]
                or not (set_["--kl-weight"] or self.kl_warmup or self.kl_cycles),
                "--capacity weights |KL - C| by --capacity-gamma and raises C over "
                "--capacity-steps: drop --kl-weight, --kl-warmup and --kl-cycles",
            ),
            (
                self.objective == "elbo" or not (set_["--free-bits"] or set_["--capacity"]),
                f"--free-bits and --capacity reweight the ELBO's KL term, not the {self.objective} "
                "bound: use --model vae",
            ),
            (
                not self.reweights_kl or self.estimator == "reparam",
                "the KL reweightings (--kl-weight, --free-bits, --capacity) of the ELBO train with "
                f"--estimator reparam (an analytic KL has no score term); got {self.estimator}",
            ),
        ]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Config:
        """A saved config; fields added since it was written take their defaults."""
        return cls(**json.loads(text))
