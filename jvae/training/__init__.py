"""Training: train step and scanned epoch, data parallelism, checkpoints."""

from jvae.training.train import (
    TrainState,
    init_state,
    make_epoch,
    make_optimizer,
    make_train_step,
    paper_schedule,
)

__all__ = [
    "TrainState",
    "init_state",
    "make_epoch",
    "make_optimizer",
    "make_train_step",
    "paper_schedule",
]
