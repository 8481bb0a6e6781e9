"""Atomic orbax checkpoints of a :class:`~jvae.train.TrainState`.

Orbax writes each step into a temporary folder (``<step>.orbax-checkpoint-tmp*``) and renames
it when complete, so a process killed while saving leaves the previous checkpoint usable; the
leftover temporary folder is ignored and removed when the checkpoints are next opened. The
latest ``max_to_keep`` are kept. With several processes every process calls :meth:`save` and
:meth:`restore` (orbax coordinates them); restored arrays take the shardings of ``like``.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpoints:
    """Save and restore train states under ``directory`` (one sub-folder per step)."""

    def __init__(self, directory: str | pathlib.Path, max_to_keep: int = 2) -> None:
        self.directory = pathlib.Path(directory).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep,
                create=True,
                cleanup_tmp_directories=True,
                enable_async_checkpointing=False,
            ),
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state: Any) -> None:
        self._manager.save(int(step), args=ocp.args.StandardSave(state))
        self._manager.wait_until_finished()

    def restore(self, like: Any, step: int | None = None) -> Any:
        """The state saved at ``step`` (default: the latest), with the structure of ``like``."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}.")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        restored = self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
        return jax.tree.unflatten(jax.tree.structure(like), jax.tree.leaves(restored))

    def close(self) -> None:
        self._manager.close()
