"""Training: ``step(rng_key, state, batch) -> (state, metrics)`` and a scanned epoch.

Fixed choices (model, bound or KL reweighting, estimator, K, optimiser, KL-weight schedule)
are bound by closure, so the step jits without static arguments. One epoch is one jitted
``lax.scan`` over minibatches of a dataset that stays on device; each step's key is
``fold_in(key, step)`` and each epoch's permutation ``fold_in(key, -1 - epoch)``, so a run
resumed from a checkpoint repeats the same stream and ends with the same parameters as an
uninterrupted one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jvae import bounds, compiler
from jvae.data.binarize import bernoulli_bytes
from jvae.estimators import make_objective
from jvae.models.model import Model
from jvae.objectives import KLReweighting, analytic_kl, make_kl_objective

PAPER_STAGES = 8


class TrainState(NamedTuple):
    """Optimisation state.

    Attributes:
      step: number of steps taken (applied or skipped), int32 scalar.
      params: model params pytree.
      opt_state: optax state.
      skipped: steps whose loss or gradient was not finite (never applied), int32 scalar.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    skipped: jax.Array


Step = Callable[[jax.Array, TrainState, jax.Array], tuple[TrainState, dict]]
EpochMetrics = Callable[[jax.Array, TrainState, jax.Array], dict]


def with_epoch_metrics(step: Step, epoch_metrics: EpochMetrics | None) -> Step:
    """``step`` carrying ``epoch_metrics``, ``(rng_key, state, batch) -> metrics`` of the state
    after an epoch's last step on its last batch, as its attribute ``epoch_metrics``: the
    diagnostics :func:`make_epoch` takes once an epoch rather than at every step (a plain
    function stays one, for ``jax.jit`` and ``chex.assert_max_traces``, which keeps it)."""
    step.epoch_metrics = epoch_metrics  # type: ignore[attr-defined]
    return step


def paper_schedule(steps_per_epoch: int, base_lr: float = 1e-3) -> optax.Schedule:
    r"""Burda et al.'s learning-rate schedule, indexed by passes over the data.

    The paper runs :math:`3^i` passes at :math:`10^{-3} \cdot 10^{-i/7}` for
    :math:`i = 0..7` (3,280 passes in all). A shorter run follows the same schedule and stops
    early: 100 passes are the paper's first 100 (1 + 3 + 9 + 27 passes in stages 0-3, then 60
    of stage 4's 81), which keeps the learning rate a short budget needs; the ``paper`` preset
    runs it to the end.
    """
    passes = np.cumsum([3**i for i in range(PAPER_STAGES)])[:-1]
    boundaries = jnp.asarray(passes * steps_per_epoch, jnp.int32)
    rates = jnp.asarray([base_lr * 10.0 ** (-i / 7.0) for i in range(PAPER_STAGES)], jnp.float32)

    def schedule(count: jax.Array) -> jax.Array:
        return rates[jnp.sum(count >= boundaries)]

    return schedule


LR_SCHEDULES = ("paper", "constant")


def learning_rate_schedule(
    steps_per_epoch: int, base_lr: float = 1e-3, name: str = "paper"
) -> optax.Schedule:
    """``'paper'``: :func:`paper_schedule`; ``'constant'``: ``base_lr`` throughout (the
    VampPrior paper's Adam at 5e-4)."""
    if name == "paper":
        return paper_schedule(steps_per_epoch, base_lr)
    if name == "constant":
        return optax.constant_schedule(base_lr)
    raise ValueError(f"unknown learning-rate schedule {name!r}; choose one of {LR_SCHEDULES}.")


def make_optimizer(
    steps_per_epoch: int,
    base_lr: float = 1e-3,
    schedule: str = "paper",
    eps: float = 1e-4,
    b1: float = 0.9,
) -> optax.GradientTransformation:
    """Adam (``b1``, beta2 0.999, ``eps``; the IWAE paper's 0.9 and 1e-4 by default) with the
    named :func:`learning_rate_schedule`."""
    lr = learning_rate_schedule(steps_per_epoch, base_lr, schedule)
    return optax.adam(lr, b1=b1, b2=0.999, eps=eps)


def init_state(
    rng_key: jax.Array, model: Model, optimizer: optax.GradientTransformation
) -> TrainState:
    params = model.init(rng_key)
    return TrainState(
        jnp.zeros((), jnp.int32), params, optimizer.init(params), jnp.zeros((), jnp.int32)
    )


def make_train_step(
    model: Model,
    optimizer: optax.GradientTransformation,
    num_samples: int,
    bound: bounds.Bound | None = None,
    estimator: str = "reparam",
    encoder_bound: bounds.Bound | None = None,
    binarize: bool = True,
    kl_schedule: optax.Schedule | None = None,
    reweighting: KLReweighting | None = None,
) -> Step:
    """One optimisation step on a batch ``[B, D]``: ``step(rng_key, state, batch) -> (state,
    metrics)``.

    The objective is a ``bound`` of the log-weights (default :func:`jvae.bounds.iwae`) with a
    gradient ``estimator`` (:func:`jvae.estimators.make_objective`) or, with ``reweighting``,
    a KL reweighting of the ELBO's terms (beta-VAE, free bits, controlled capacity:
    :func:`jvae.objectives.make_kl_objective`), which takes no bound but the ELBO, no estimator
    but ``'reparam'``, and carries its own KL schedule.

    With ``binarize`` the batch holds grey levels in [0, 1] and is binarised with a fresh draw
    (dynamic binarisation, :func:`jvae.data.binarize.bernoulli_bytes`: exact, a byte per pixel
    on MNIST's 1/256 grid). With ``kl_schedule`` the bound is taken of log-weights whose KL
    part is weighted by ``kl_schedule(state.step)`` (:mod:`jvae.objectives`). A step whose loss
    or gradient is not finite leaves params and optimiser state unchanged and increments
    ``state.skipped``. Metrics: ``loss``, ``finite``, the KL weight when there is one; a
    reweighting adds its ``reconstruction``, ``kl`` and ``capacity`` and the batch-mean KL per
    latent dimension ``kl_per_dim`` (its objective computes it; params before the update).
    Without a reweighting, ``kl_per_dim`` (where the model has it in closed form,
    :func:`jvae.objectives.analytic_kl`) is an end-of-epoch metric (``epoch_metrics``,
    :func:`make_kl_per_dim`): the step runs the encoder once.
    """
    if reweighting is not None:
        return with_epoch_metrics(
            _kl_train_step(
                model, optimizer, num_samples, bound, estimator, encoder_bound, binarize,
                kl_schedule, reweighting,
            ),
            None,
        )  # fmt: skip
    value_and_grad = make_objective(
        functools.partial(model.log_weights, num_samples=num_samples),
        bounds.iwae if bound is None else bound,
        estimator,
        encoder_bound,
    )

    def step(rng_key: jax.Array, state: TrainState, batch: jax.Array) -> tuple[TrainState, dict]:
        key_bin, key_z = jax.random.split(rng_key)
        x = bernoulli_bytes(key_bin, batch) if binarize else batch
        kl_weight = None if kl_schedule is None else kl_schedule(state.step)
        info, grads = value_and_grad(state.params, key_z, x, kl_weight)
        new_state, finite = _apply(optimizer, state, info.loss, grads)
        metrics = {"loss": info.loss, "finite": finite}
        if kl_weight is not None:
            metrics["kl_weight"] = kl_weight
        return new_state, metrics

    return with_epoch_metrics(step, make_kl_per_dim(model, binarize))


def make_kl_per_dim(model: Model, binarize: bool = True) -> EpochMetrics | None:
    r"""``(rng_key, state, batch[B, D]) -> {'kl_per_dim': [d]}``, the batch mean of the
    closed-form :math:`\mathrm{KL}(q(z_j \mid x) \,\|\, \mathcal N(0, 1))` per latent
    dimension j at ``state.params`` (:func:`jvae.objectives.analytic_kl`; the batch
    binarised with ``rng_key`` when ``binarize``), or ``None`` where the model has no closed
    form. :func:`make_epoch` evaluates it on the epoch's last batch after its last step.
    """
    kl_per_dim = analytic_kl(model)
    if kl_per_dim is None:
        return None

    def metrics(rng_key: jax.Array, state: TrainState, batch: jax.Array) -> dict:
        x = bernoulli_bytes(rng_key, batch) if binarize else batch
        return {"kl_per_dim": jnp.mean(kl_per_dim(state.params, x), axis=0)}

    return metrics


def _kl_train_step(
    model: Model,
    optimizer: optax.GradientTransformation,
    num_samples: int,
    bound: bounds.Bound | None,
    estimator: str,
    encoder_bound: bounds.Bound | None,
    binarize: bool,
    kl_schedule: optax.Schedule | None,
    reweighting: KLReweighting,
) -> Step:
    """:func:`make_train_step` of a KL reweighting; one-line ``ValueError`` for a choice it
    does not take."""
    if bound not in (None, bounds.elbo) or encoder_bound is not None:
        raise ValueError(
            "a KL reweighting (kl_weight, free_bits, capacity) reweights the ELBO's terms; use "
            "bound=bounds.elbo (model='vae') and no encoder_bound."
        )
    if estimator != "reparam":
        raise ValueError(
            "a KL reweighting trains with estimator='reparam' (an analytic KL has no score "
            f"term for STL or DReG to remove); got {estimator!r}."
        )
    if kl_schedule is not None:
        raise ValueError("a KL reweighting carries its own KL schedule; pass kl_schedule=None.")
    value_and_grad = make_kl_objective(model, num_samples, reweighting)

    def step(rng_key: jax.Array, state: TrainState, batch: jax.Array) -> tuple[TrainState, dict]:
        key_bin, key_z = jax.random.split(rng_key)
        x = bernoulli_bytes(key_bin, batch) if binarize else batch
        info, grads, metrics = value_and_grad(state.params, key_z, x, state.step)
        new_state, finite = _apply(optimizer, state, info.loss, grads)
        return new_state, {"loss": info.loss, "finite": finite, **metrics}

    return step


def _apply(
    optimizer: optax.GradientTransformation, state: TrainState, loss: jax.Array, grads: Any
) -> tuple[TrainState, jax.Array]:
    """The optimiser's update, taken only if the loss and every gradient are finite
    (``lax.cond``: a skipped step computes no update); returns the new state and that flag."""
    finite = jnp.isfinite(loss) & jnp.all(
        jnp.stack([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)])
    )

    def update() -> tuple[Any, Any]:
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        return optax.apply_updates(state.params, updates), opt_state

    params, opt_state = jax.lax.cond(finite, update, lambda: (state.params, state.opt_state))
    new_state = TrainState(
        step=state.step + 1,
        params=params,
        opt_state=opt_state,
        skipped=state.skipped + (~finite).astype(jnp.int32),
    )
    return new_state, finite


def make_epoch(
    step: Step,
    batch_size: int,
    shard_batch: Callable[[jax.Array], jax.Array] = lambda b: b,
    epoch_metrics: EpochMetrics | None = None,
) -> Step:
    """One pass over ``data[N, D]`` in a single ``lax.scan`` (drops the last partial batch).

    ``shard_batch`` places each gathered batch (e.g. a sharding constraint for data parallel
    training); the identity on one device. Returns the loss and every other metric of the step
    averaged over the steps whose loss and gradient were finite, ``nonfinite``, the number of
    the others, and the ``epoch_metrics`` (default: the step's own,
    :func:`with_epoch_metrics`, e.g. ``kl_per_dim``) of the final state on the epoch's
    last batch, with the key ``fold_in(permutation key, 1)``.

    On CPU, tracing it warns (:class:`jvae.compiler.SlowConvolutionWarning`) when the step's
    convolutions would run as naive loops inside the scan (:mod:`jvae.compiler`).
    """
    if epoch_metrics is None:
        epoch_metrics = getattr(step, "epoch_metrics", None)

    def epoch(rng_key: jax.Array, state: TrainState, data: jax.Array) -> tuple[TrainState, dict]:
        n = data.shape[0]
        steps = n // batch_size
        if steps == 0:
            raise ValueError(f"dataset of {n} examples is smaller than one batch ({batch_size}).")
        epoch_key = jax.random.fold_in(rng_key, -1 - state.step // steps)
        perm = jax.random.permutation(epoch_key, n)
        order = perm[: steps * batch_size].reshape(steps, batch_size)

        def gather(idx: jax.Array) -> jax.Array:
            return shard_batch(data.at[idx].get(mode="promise_in_bounds"))

        def body(s: TrainState, idx: jax.Array) -> tuple[TrainState, dict]:
            key = jax.random.fold_in(rng_key, s.step)
            return compiler.call_checking_convolutions(step, key, s, gather(idx))

        state, metrics = jax.lax.scan(body, state, order)
        finite = metrics.pop("finite")
        kept = jnp.maximum(jnp.sum(finite), 1)

        def mean(value: jax.Array) -> jax.Array:
            rows = jnp.reshape(finite, finite.shape + (1,) * (value.ndim - 1))
            return jnp.mean(jnp.where(rows, value, 0.0), axis=0) * steps / kept

        out = {name: mean(v) for name, v in metrics.items()}
        out["nonfinite"] = jnp.sum(~finite)
        if epoch_metrics is not None:
            key = jax.random.fold_in(epoch_key, 1)
            out.update(epoch_metrics(key, state, gather(order[-1])))
        return state, out

    return epoch
