"""``TrainSpec``: batch size, passes, optimiser and its schedule, and the run's guards."""

from __future__ import annotations

import dataclasses

import optax

from jvae.options import check_at_least, check_choice, option
from jvae.training.train import LR_SCHEDULES, make_optimizer


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """How a model is trained: ``epochs`` passes at ``batch_size`` with Adam
    (:func:`~jvae.training.train.make_optimizer`: ``learning_rate`` under ``lr_schedule``,
    ``adam_b1``, ``adam_eps``). A step whose loss or gradient is not finite is skipped; more than
    ``max_nonfinite`` such steps stop the run. With a validation split, ``patience`` > 0 stops
    training after that many epochs without a better validation ELBO."""

    batch_size: int = option(100, "examples per step")
    epochs: int = option(2, "passes over the training data")
    learning_rate: float = option(1e-3, "Adam's base learning rate")
    lr_schedule: str = option("paper", "paper (IWAE's 3^i passes) or constant", LR_SCHEDULES)
    adam_eps: float = option(1e-4, "Adam's epsilon (the IWAE paper's 1e-4)")
    adam_b1: float = option(0.9, "Adam's beta1 (the IWAE paper's text: 0.9; its code: 0.99)")
    max_nonfinite: int = option(100, "skipped non-finite steps before a run stops")
    patience: int = option(0, "early stopping: epochs without improvement (0: off)")

    def __post_init__(self) -> None:
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        for name in ("batch_size", "epochs"):
            check_at_least(name, getattr(self, name), 1)
        for name in ("max_nonfinite", "patience"):
            check_at_least(name, getattr(self, name), 0)
        if not 0.0 <= self.adam_b1 < 1.0:
            raise ValueError(f"adam_b1 must be in [0, 1); got {self.adam_b1}.")
        if self.learning_rate <= 0 or self.adam_eps <= 0:
            raise ValueError(
                f"learning_rate and adam_eps must be > 0; got {self.learning_rate}, "
                f"{self.adam_eps}."
            )

    def optimizer(self, steps_per_epoch: int) -> optax.GradientTransformation:
        """The optimiser, its schedule counted in passes of ``steps_per_epoch`` steps."""
        return make_optimizer(
            steps_per_epoch, self.learning_rate, self.lr_schedule, self.adam_eps, self.adam_b1
        )
