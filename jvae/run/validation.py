"""Model choice on a validation split: the validation ELBO each epoch, the best state kept,
and early stopping that a resumed run continues."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import jax
import numpy as np

from jvae.diagnostics import nll
from jvae.models.model import Model
from jvae.run.spec import RunSpec
from jvae.training.checkpoint import Checkpoints
from jvae.training.train import TrainState


class Validation:
    """Validation ELBO each epoch, the best state kept in ``workdir/best`` and the early-stopping
    record in ``workdir/early_stopping.json`` (so a resumed run continues the same watch)."""

    def __init__(self, model: Model, spec: RunSpec, workdir: pathlib.Path, data: np.ndarray):
        self.data, self.spec = data, spec
        self.model = model
        self.key = jax.random.PRNGKey(spec.seed + 2)
        self.best = Checkpoints(workdir / "best", max_to_keep=1)
        self.record_path = workdir / "early_stopping.json"
        self.record = {"best_epoch": 0, "best_elbo": -float("inf"), "stopped_at": None}
        if self.record_path.exists():
            self.record = json.loads(self.record_path.read_text())

    def elbo(self, params: Any) -> float:
        values = nll.dataset_bound(
            self.model, params, self.key, self.data, 1, memory_bytes=self.spec.eval.memory_bytes
        )
        return float(np.mean(values))

    def update(self, epoch: int, state: TrainState) -> tuple[float, bool]:
        """Records epoch ``epoch``'s validation ELBO; returns it and whether to stop."""
        value = self.elbo(state.params)
        if value > self.record["best_elbo"]:
            self.record.update(best_epoch=epoch, best_elbo=value)
            self.best.save(epoch, state)
        patience = self.spec.train.patience
        stop = bool(patience) and epoch - self.record["best_epoch"] >= patience
        if stop:
            self.record["stopped_at"] = epoch
        if jax.process_index() == 0:
            self.record_path.write_text(json.dumps(self.record))
        return value, stop

    @property
    def stopped(self) -> bool:
        return self.record["stopped_at"] is not None

    def restore_best(self, like: TrainState) -> TrainState:
        return self.best.restore(like) if self.best.latest_step() is not None else like

    def close(self) -> None:
        self.best.close()
