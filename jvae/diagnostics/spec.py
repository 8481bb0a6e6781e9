"""``EvalSpec``: the test NLL's K, the memory its evaluators may use, and sample sharding."""

from __future__ import annotations

import dataclasses

from jvae.options import check_at_least, option


@dataclasses.dataclass(frozen=True)
class EvalSpec:
    """How a trained model is evaluated: the test NLL is :math:`-\\mathcal L_K` with
    ``K = nll_k``; every evaluator sizes its batches and sample chunks to ``eval_memory_mb``
    (0: the library's default budget, :mod:`jvae.diagnostics.memory`); ``sample_shards > 1``
    splits the K samples over that many devices (:mod:`jvae.training.parallel`). With
    ``curve_every`` > 0 training records the test ELBO (:math:`\\mathcal L_1` over the test set)
    every that many passes, a learning curve beside the training loss."""

    nll_k: int = option(5000, "K of the test NLL estimate")
    eval_memory_mb: int = option(0, "memory budget of the evaluators in MiB (0: default)")
    sample_shards: int = option(1, "devices sharing the K axis of the test NLL")
    curve_every: int = option(0, "log the test ELBO every N passes during training (0: never)")

    def __post_init__(self) -> None:
        check_at_least("nll_k", self.nll_k, 1)
        check_at_least("eval_memory_mb", self.eval_memory_mb, 0)
        check_at_least("sample_shards", self.sample_shards, 1)
        check_at_least("curve_every", self.curve_every, 0)
        if self.nll_k % self.sample_shards:
            raise ValueError(f"sample_shards={self.sample_shards} must divide nll_k={self.nll_k}.")

    @property
    def memory_bytes(self) -> int | None:
        """The evaluators' budget in bytes (``None``: their default)."""
        return self.eval_memory_mb * 2**20 if self.eval_memory_mb else None
