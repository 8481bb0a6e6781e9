r"""Evaluation within a memory budget: the batch and sample chunk an evaluator runs at, chosen
from what XLA reports for the compiled function, for any model (no per-decoder table).

An evaluator over ``B`` examples that draws its ``K`` samples ``C`` at a time holds about

.. math:: \text{bytes}(B, C) \approx a + B\,(r + s\,C)

(:func:`compiled_bytes`: XLA's temp + argument + output bytes; :math:`a` the arguments, mostly
the parameters; :math:`r` what one example holds whatever the chunk (a dense ``[K, B]`` array of
log-weights, say); :math:`s` the bytes of one draw of one example through encoder, decoder and
likelihood). :func:`plan_evaluation` compiles two small candidates (``PROBE`` examples with
``PROBE`` and ``2 PROBE`` draws; two batch sizes when the chunk is pinned), fits :math:`r` and
:math:`s` from their temp bytes, takes the largest :math:`B\,C` under the budget (the chunk
first, up to ``K``, then the batch, up to ``N``; both evened, ``ceil(K / ceil(K / C))``, so no
chunk or batch is left nearly empty), compiles that shape and checks XLA's figure, shrinking
until it fits. The compiled function is returned, so the evaluation does not compile again:
two small compilations are the planning's cost, and the plan is a deterministic function of
the budget and the compiled program.

The default budget, :func:`default_memory_bytes`, is a fixed 2 GiB, or a quarter of the
device's memory (the host's RAM on CPU) where that is smaller: fixed rather than a fraction, so
the plan, and with it the Monte-Carlo keys of each batch and chunk, is the same on every
machine of a backend with 8 GiB or more. At K=5000 on 28x28 images it runs 2,500 draws at once
through the conv decoder (1.5 GB by XLA's count), 1,250 through the PixelCNN (1.6 GB) and
63 x 5,000 through the MLP (2.0 GB), on CPU.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

import jax

DEFAULT_MEMORY_BYTES = 2 * 2**30
PROBE = 4
MAX_TRIES = 4


class Plan(NamedTuple):
    """An evaluation shape: ``batch_size`` examples per call, ``chunk_size`` draws at a time,
    and ``bytes``, XLA's figure for the compiled evaluation (:func:`compiled_bytes`)."""

    batch_size: int
    chunk_size: int
    bytes: int


def compiled_bytes(compiled: jax.stages.Compiled) -> int:
    """XLA's bytes for a compiled function: temp + argument + output - aliased (donated)."""
    m = compiled.memory_analysis()
    if m is None:
        raise ValueError(
            "XLA reports no memory analysis on this backend; pass batch_size and chunk_size."
        )
    return int(
        m.temp_size_in_bytes
        + m.argument_size_in_bytes
        + m.output_size_in_bytes
        - m.alias_size_in_bytes
    )


def default_memory_bytes(device: jax.Device | None = None) -> int:
    """``min(2 GiB, memory / 4)``, memory the device's (``bytes_limit``) or, on CPU, the host's."""
    device = device or jax.devices()[0]
    total = (device.memory_stats() or {}).get("bytes_limit")
    if not total:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(min(DEFAULT_MEMORY_BYTES, total // 4))


def _even(size: int, total: int) -> int:
    """The size of ``ceil(total / size)`` equal parts of ``total``, ``<= size``."""
    return -(-total // -(-total // size))


class _Cost(NamedTuple):
    """``bytes(B, C) = fixed + B * (per_row + per_draw * C)``."""

    fixed: float
    per_row: float
    per_draw: float

    def __call__(self, batch: int, chunk: int) -> float:
        return self.fixed + batch * (self.per_row + self.per_draw * chunk)


def _analysis(compiled: jax.stages.Compiled) -> tuple[int, int]:
    """``(temp, total)`` bytes of a compiled function."""
    total = compiled_bytes(compiled)
    return int(compiled.memory_analysis().temp_size_in_bytes), total


def _choose(
    cost: _Cost,
    budget: int,
    num_examples: int,
    num_samples: int,
    batch_size: int | None,
    chunk_size: int | None,
) -> tuple[int, int]:
    """Largest ``(B, C)`` with ``cost(B, C) <= budget`` (pins kept; the chunk first)."""
    avail = budget - cost.fixed
    smallest = (batch_size or 1, chunk_size or 1)
    if cost(*smallest) > budget:
        raise ValueError(
            f"memory_bytes={budget} is below the ~{int(cost(*smallest))} bytes of "
            f"{smallest[0]} x {smallest[1]} draws; raise memory_bytes or pin smaller sizes."
        )
    if batch_size is None:
        chunk = chunk_size or min(num_samples, int((avail - cost.per_row) // cost.per_draw))
        chunk = _even(chunk, num_samples) if chunk_size is None else chunk
        batch = int(avail // (cost.per_row + cost.per_draw * chunk))
        return _even(min(num_examples, batch), num_examples), chunk
    chunk = int((avail / batch_size - cost.per_row) // cost.per_draw)
    return batch_size, _even(min(num_samples, chunk), num_samples)


def plan_evaluation(
    compile_at: Callable[[int, int], jax.stages.Compiled],
    num_examples: int,
    num_samples: int,
    memory_bytes: int | None = None,
    *,
    batch_size: int | None = None,
    chunk_size: int | None = None,
) -> tuple[Plan, jax.stages.Compiled]:
    """The largest evaluation shape under ``memory_bytes``, and the function compiled at it.

    Args:
      compile_at: ``(B, C) -> compiled`` evaluation of ``B`` examples drawing ``C`` at a time.
      num_examples: ``N``; the batch is at most ``N``.
      num_samples: ``K``; the chunk is at most ``K``.
      memory_bytes: budget for XLA's bytes (default :func:`default_memory_bytes`).
      batch_size, chunk_size: pin either (clipped to ``N``, ``K``); with both pinned nothing is
        planned and the budget is not checked.

    Returns:
      ``(plan, compiled)`` with ``plan.bytes <= memory_bytes`` unless both sizes are pinned.
    """
    for name, value in (("num_examples", num_examples), ("num_samples", num_samples)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1; got {value}.")
    for name, value in (
        ("memory_bytes", memory_bytes),
        ("batch_size", batch_size),
        ("chunk_size", chunk_size),
    ):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1 or None; got {value}.")
    budget = default_memory_bytes() if memory_bytes is None else memory_bytes
    batch_size = None if batch_size is None else min(batch_size, num_examples)
    chunk_size = None if chunk_size is None else min(chunk_size, num_samples)
    b1 = batch_size or min(PROBE, num_examples)
    c1 = chunk_size or min(PROBE, num_samples)
    compiled = {(b1, c1): compile_at(b1, c1)}
    temp1, t1 = _analysis(compiled[b1, c1])
    if chunk_size is None and num_samples > c1:
        b2, c2 = b1, min(2 * PROBE, num_samples)
    elif batch_size is None and num_examples > b1:
        b2, c2 = min(2 * PROBE, num_examples), c1
    else:  # nothing left to choose: the whole problem, or both pinned
        if t1 > budget and (batch_size is None or chunk_size is None):
            raise ValueError(
                f"memory_bytes={budget} is below XLA's {t1} bytes for the smallest "
                f"evaluation of {b1} x {c1} draws; raise memory_bytes."
            )
        return Plan(b1, c1, t1), compiled[b1, c1]
    compiled[b2, c2] = compile_at(b2, c2)
    temp2, _ = _analysis(compiled[b2, c2])
    per_draw = max((temp2 - temp1) / (b2 * c2 - b1 * c1), 1.0)
    per_row = max(temp1 - per_draw * b1 * c1, 0.0) / b1 if c2 > c1 else 0.0
    cost = _Cost(t1 - temp1, per_row, per_draw)
    b, c = _choose(cost, budget, num_examples, num_samples, batch_size, chunk_size)
    for _ in range(MAX_TRIES):
        if (b, c) not in compiled:
            compiled[b, c] = compile_at(b, c)
        used = compiled_bytes(compiled[b, c])
        if used <= budget:
            return Plan(b, c, used), compiled[b, c]
        scale = (used - cost.fixed) / (cost(b, c) - cost.fixed) / 0.9
        cost = _Cost(cost.fixed, cost.per_row * scale, cost.per_draw * scale)
        smaller = _choose(cost, budget, num_examples, num_samples, batch_size, chunk_size)
        if smaller[0] * smaller[1] >= b * c:
            raise ValueError(
                f"memory_bytes={budget} is below XLA's {used} bytes for the smallest "
                f"evaluation of {b} x {c} draws; raise memory_bytes."
            )
        b, c = smaller
    raise ValueError(
        f"no evaluation shape fits memory_bytes={budget} after {MAX_TRIES} compilations; "
        "raise memory_bytes or pin batch_size and chunk_size."
    )
