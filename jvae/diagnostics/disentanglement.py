r"""Disentanglement metrics: does each ground-truth factor live in its own code dimension?

A representation :math:`r` maps ``[n, D]`` images to ``[n, d]`` codes (e.g. a model's
posterior means, :func:`posterior_mean_representation`); a
:class:`~jvae.data.factors.FactorDataset` renders images of sampled factors
:math:`y \in \prod_k \{0, \dots, V_k - 1\}`. Three scores:

- :func:`beta_vae_metric` (Higgins et al. 2017, section 3): hold one factor fixed over L pairs
  of images, :math:`z_{\text{diff}} = \frac1L \sum_l |r(x_{1,l}) - r(x_{2,l})|`; the held-out
  accuracy of a linear classifier predicting the fixed factor from :math:`z_{\text{diff}}`.
- :func:`factor_vae_metric` (Kim & Mnih 2018, section 4): normalise each dimension by its std
  over the data; in a batch sharing one factor the dimension of least variance votes for that
  factor; the held-out accuracy of the majority vote per dimension.
- :func:`mig` (Chen et al. 2018, section 4.1): the mutual information gap
  :math:`\frac1F \sum_k \big(I(z_{j_k}; y_k) - \max_{j \ne j_k} I(z_j; y_k)\big) / H(y_k)`
  with :math:`j_k = \arg\max_j I(z_j; y_k)`, codes discretised into equal-width bins.

Defaults are google-research/disentanglement_lib's (``beta_vae_sklearn``, ``factor_vae_metric``
and ``mig`` configs of its evaluation study); every hyperparameter is an argument. Where this
module differs: the linear classifier is a multinomial logistic regression fitted here in JAX
(L-BFGS, features standardised, :func:`fit_logistic_regression`) instead of scikit-learn's,
and the FactorVAE metric prunes dimensions whose std is at most ``prune_threshold`` (the
library's threshold 0 with ``>=`` pruned nothing, and a constant dimension divides by zero).

Baselines (Higgins et al. 2017, table 1): :func:`raw_pixels`, :func:`pca_representation`, and
an untrained model's posterior means (:func:`untrained_representation`).

Each result is a JSON-ready dict with the ``score``, per-factor details, the ``settings``, the
``seed`` and the wall-clock ``seconds``. Everything random is drawn from
``np.random.default_rng(seed)`` through the dataset's sampler, so a seed fixes the result. The
representation is called on ``batch_size`` images at a time (groups of images are never split
and the last call is padded), so a jitted representation compiles once per metric.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

from jvae import compiler
from jvae.data.factors import FactorDataset
from jvae.models.model import Model

Representation = Callable[[np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------- arguments


def _at_least(minimum: int, **values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")


def _non_negative(**values: Any) -> None:
    for name, value in values.items():
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")


def _factor_sizes(dataset: FactorDataset) -> tuple[int, ...]:
    """The dataset's factor sizes; ``ValueError`` unless there are >= 2 named factors of >= 2
    values each."""
    names, sizes = tuple(dataset.factor_names), tuple(int(v) for v in dataset.factor_sizes)
    if len(names) != len(sizes) or len(sizes) < 2 or min(sizes) < 2:
        raise ValueError(
            f"a factor dataset needs >= 2 factors of >= 2 values each, one name per factor; got "
            f"factor_names {names} and factor_sizes {sizes}."
        )
    return sizes


def _sample(dataset: FactorDataset, rng: np.random.Generator, n: int) -> np.ndarray:
    """``[n, F]`` factors from the dataset's sampler, checked against its factor sizes."""
    sizes = np.asarray(_factor_sizes(dataset))
    factors = np.asarray(dataset.sample_factors(rng, n))
    if factors.shape != (n, sizes.size) or np.any(factors < 0) or np.any(factors >= sizes):
        raise ValueError(
            f"{type(dataset).__name__}.sample_factors(rng, {n}) must return [{n}, {sizes.size}] "
            f"class indices below factor_sizes {tuple(sizes)}; got shape {factors.shape}."
        )
    return factors.astype(np.int64)


def _check_beta_vae(
    pairs: int,
    num_train: int,
    num_eval: int,
    l2: float,
    max_steps: int,
    tol: float,
    standardise: bool,
    batch_size: int,
) -> None:
    _at_least(1, pairs=pairs, num_train=num_train, num_eval=num_eval, max_steps=max_steps)
    _at_least(1, batch_size=batch_size)
    _non_negative(l2=l2, tol=tol)


def _check_factor_vae(
    group_size: int,
    num_train: int,
    num_eval: int,
    num_variance_estimate: int,
    prune_threshold: float,
    batch_size: int,
) -> None:
    _at_least(1, num_train=num_train, num_eval=num_eval, batch_size=batch_size)
    _at_least(2, group_size=group_size, num_variance_estimate=num_variance_estimate)
    _non_negative(prune_threshold=prune_threshold)


def _check_mig(num_points: int, num_bins: int, batch_size: int) -> None:
    _at_least(2, num_points=num_points, num_bins=num_bins)
    _at_least(1, batch_size=batch_size)


# ----------------------------------------------------------------------------- codes


def _codes(representation: Representation, images: np.ndarray) -> np.ndarray:
    codes = np.asarray(representation(images))
    if codes.ndim != 2 or codes.shape[0] != len(images):
        raise ValueError(
            f"the representation must map [n, D] images to finite [n, d] codes; got shape "
            f"{codes.shape} for {len(images)} images."
        )
    if not np.all(np.isfinite(codes)):
        raise ValueError(
            "the representation must map [n, D] images to finite [n, d] codes; got NaN or inf."
        )
    return codes


def grouped_codes(
    dataset: FactorDataset,
    representation: Representation,
    factors: np.ndarray,
    batch_size: int,
    reduce: Callable[[np.ndarray], Any] = lambda codes: codes,
) -> np.ndarray:
    """``reduce`` applied to the codes of groups of images, without holding all codes at once.

    Args:
      factors: ``[n, m, F]``, n groups of m images each.
      batch_size: images per call of the representation: ``p = max(1, batch_size // m)`` whole
        groups, the last call padded with copies of the last group, so every call has the
        same shape ``[p * m, D]``.
      reduce: ``codes[p, m, d] -> [p, ...]`` (a jitted function sees one shape).

    Returns:
      ``[n, ...]``, the reduced groups stacked.
    """
    n, m, num_factors = factors.shape
    per_call = max(1, batch_size // m)
    calls = -(-n // per_call)
    padded = np.concatenate([factors, np.repeat(factors[-1:], calls * per_call - n, axis=0)])
    out = []
    for c in range(calls):
        group = padded[c * per_call : (c + 1) * per_call].reshape(per_call * m, num_factors)
        codes = _codes(representation, dataset.images(group))
        out.append(np.asarray(reduce(codes.reshape(per_call, m, codes.shape[-1]))))
    return np.concatenate(out)[:n]


def _result(
    name: str, score: float, seed: int, settings: dict[str, Any], start: float, **details: Any
) -> dict[str, Any]:
    return {
        "metric": name,
        "score": float(score),
        **details,
        "settings": settings,
        "seed": int(seed),
        "seconds": time.perf_counter() - start,
    }


# ----------------------------------------------------------------------------- classifier


class LinearClassifier(NamedTuple):
    """Multinomial logistic regression on standardised features.

    Attributes:
      weights: ``[d, C]``.
      bias: ``[C]``.
      shift: ``[d]`` feature means subtracted before the product (zeros if not standardised).
      scale: ``[d]`` feature stds divided by (ones if not standardised; 1 for a constant
        feature).
    """

    weights: jax.Array
    bias: jax.Array
    shift: jax.Array
    scale: jax.Array

    def logits(self, features: jax.Array) -> jax.Array:
        """``[n, d] -> [n, C]`` class logits."""
        return ((features - self.shift) / self.scale) @ self.weights + self.bias


class FitInfo(NamedTuple):
    """How the fit ended: ``loss`` (the objective), ``grad_norm`` (its gradient's Euclidean
    norm), ``steps`` (L-BFGS iterations)."""

    loss: jax.Array
    grad_norm: jax.Array
    steps: jax.Array


def _fit(
    features: jax.Array,
    labels: jax.Array,
    l2: jax.Array,
    max_steps: jax.Array,
    tol: jax.Array,
    standardise: jax.Array,
    num_classes: int,
) -> tuple[LinearClassifier, FitInfo]:
    x = features.astype(jnp.float32)
    mean, std = jnp.mean(x, axis=0), jnp.std(x, axis=0)
    shift = jnp.where(standardise, mean, 0.0)
    scale = jnp.where(standardise & (std > 0), std, 1.0)
    x = (x - shift) / scale
    targets = jax.nn.one_hot(labels, num_classes)

    def objective(params: tuple[jax.Array, jax.Array]) -> jax.Array:
        w, b = params
        nll = -jnp.mean(jnp.sum(targets * jax.nn.log_softmax(x @ w + b), axis=-1))
        return nll + 0.5 * l2 * jnp.sum(jnp.square(w))

    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    def step(carry: tuple[Any, Any]) -> tuple[Any, Any]:
        params, state = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = solver.update(
            grad, state, params, value=value, grad=grad, value_fn=objective
        )
        return optax.apply_updates(params, updates), state

    def going(carry: tuple[Any, Any]) -> jax.Array:
        count = otu.tree_get(carry[1], "count")
        grad_norm = otu.tree_norm(otu.tree_get(carry[1], "grad"))
        return (count == 0) | ((count < max_steps) & (grad_norm > tol))

    params = (jnp.zeros((x.shape[1], num_classes)), jnp.zeros(num_classes))
    (w, b), state = jax.lax.while_loop(going, step, (params, solver.init(params)))
    info = FitInfo(
        loss=objective((w, b)),
        grad_norm=otu.tree_norm(jax.grad(objective)((w, b))),
        steps=otu.tree_get(state, "count"),
    )
    return LinearClassifier(w, b, shift, scale), info


fit_jit = compiler.jit(_fit, static_argnames="num_classes")
predict_jit = compiler.jit(lambda clf, x: jnp.argmax(clf.logits(x), axis=-1))


def fit_logistic_regression(
    features: np.ndarray | jax.Array,
    labels: np.ndarray | jax.Array,
    num_classes: int,
    l2: float = 1e-4,
    max_steps: int = 100,
    tol: float = 1e-4,
    standardise: bool = True,
) -> tuple[LinearClassifier, FitInfo]:
    r"""Multinomial logistic regression by full-batch L-BFGS (``optax.lbfgs``, zoom line
    search), jitted; deterministic.

    Minimises, over :math:`W \in \mathbb R^{d \times C}`, :math:`b \in \mathbb R^C`,

    .. math:: \frac1n \sum_i -\log \operatorname{softmax}(W^\top \tilde x_i + b)_{y_i}
              + \frac{\lambda}{2} \lVert W \rVert^2,

    with :math:`\tilde x` the features standardised by their mean and std over the training
    points (if ``standardise``). scikit-learn's default ``C=1`` on n points is
    :math:`\lambda = 1/n`; the default ``l2=1e-4`` is that for disentanglement_lib's 10,000
    training points. Stops after ``max_steps`` iterations or when the gradient's norm is at
    most ``tol``.

    Args:
      features: ``[n, d]``.
      labels: ``[n]`` integers in ``[0, num_classes)``.

    Returns:
      the classifier and a :class:`FitInfo`.
    """
    features, labels = np.asarray(features), np.asarray(labels)
    _at_least(2, num_classes=num_classes)
    _at_least(1, max_steps=max_steps)
    _non_negative(l2=l2, tol=tol)
    if features.ndim != 2 or labels.shape != features.shape[:1] or len(labels) == 0:
        raise ValueError(
            f"features must be [n, d] and labels [n] with n >= 1; got shapes {features.shape} "
            f"and {labels.shape}."
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}); got {labels.min()}..{labels.max()}."
        )
    return fit_jit(
        features,
        labels,
        jnp.float32(l2),
        jnp.int32(max_steps),
        jnp.float32(tol),
        jnp.bool_(standardise),
        num_classes=int(num_classes),
    )


def predict(classifier: LinearClassifier, features: np.ndarray | jax.Array) -> np.ndarray:
    """``[n]`` most probable class of each row of ``features[n, d]``."""
    return np.asarray(predict_jit(classifier, jnp.asarray(features, jnp.float32)))


# ----------------------------------------------------------------------------- Higgins et al.


def _pair_differences(codes: jax.Array) -> jax.Array:
    """``[p, 2L, d] -> [p, d]``: mean over l of ``|codes[:, l] - codes[:, L + l]|``."""
    first, second = jnp.split(codes, 2, axis=1)
    return jnp.mean(jnp.abs(first - second), axis=1)


pair_differences_jit = compiler.jit(_pair_differences)


def _beta_vae_points(
    rng: np.random.Generator,
    dataset: FactorDataset,
    representation: Representation,
    num_points: int,
    pairs: int,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(z_diff[n, d], fixed factor[n])``: per point a uniform factor y and L pairs of
    images whose factors are uniform except that both images of a pair share y's value."""
    num_factors = len(_factor_sizes(dataset))
    fixed = rng.integers(num_factors, size=num_points)
    first = _sample(dataset, rng, num_points * pairs).reshape(num_points, pairs, num_factors)
    second = _sample(dataset, rng, num_points * pairs).reshape(num_points, pairs, num_factors)
    shared = (np.arange(num_points)[:, None], np.arange(pairs)[None, :], fixed[:, None])
    second[shared] = first[shared]
    factors = np.concatenate([first, second], axis=1)
    z_diff = grouped_codes(
        dataset, representation, factors, batch_size, lambda codes: pair_differences_jit(codes)
    )
    return z_diff, fixed


def beta_vae_metric(
    seed: int,
    dataset: FactorDataset,
    representation: Representation,
    pairs: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    l2: float = 1e-4,
    max_steps: int = 100,
    tol: float = 1e-4,
    standardise: bool = True,
    batch_size: int = 1024,
) -> dict[str, Any]:
    r"""The beta-VAE metric of Higgins et al. 2017 (section 3, appendix A.4).

    Each point fixes a uniform factor :math:`y` and draws ``pairs`` = L pairs of images whose
    other factors are uniform; its feature is
    :math:`z_{\text{diff}} = \frac1L \sum_l |r(x_{1,l}) - r(x_{2,l})|`. A multinomial logistic
    regression (:func:`fit_logistic_regression` with ``l2``, ``max_steps``, ``tol``,
    ``standardise``) is fitted on ``num_train`` points; the score is its accuracy on
    ``num_eval`` fresh points. Chance is :math:`1/F`.

    Returns:
      ``{'metric', 'score' (eval accuracy), 'train_accuracy', 'eval_accuracy', 'chance',
      'per_factor': [{'factor', 'eval_accuracy', 'eval_points'}], 'fit': {'loss',
      'grad_norm', 'steps'}, 'settings', 'seed', 'seconds'}``.
    """
    start = time.perf_counter()
    sizes = _factor_sizes(dataset)
    settings = dict(
        pairs=pairs,
        num_train=num_train,
        num_eval=num_eval,
        l2=l2,
        max_steps=max_steps,
        tol=tol,
        standardise=standardise,
        batch_size=batch_size,
    )
    _check_beta_vae(**settings)
    rng = np.random.default_rng(seed)
    points = functools.partial(_beta_vae_points, rng, dataset, representation)
    train_x, train_y = points(num_train, pairs, batch_size)
    eval_x, eval_y = points(num_eval, pairs, batch_size)
    classifier, info = fit_logistic_regression(
        train_x, train_y, len(sizes), l2, max_steps, tol, standardise
    )
    train_hit = predict(classifier, train_x) == train_y
    eval_hit = predict(classifier, eval_x) == eval_y
    per_factor = [
        {
            "factor": name,
            "eval_accuracy": float(np.mean(eval_hit[eval_y == k])) if np.any(eval_y == k) else None,
            "eval_points": int(np.sum(eval_y == k)),
        }
        for k, name in enumerate(dataset.factor_names)
    ]
    return _result(
        "beta_vae",
        np.mean(eval_hit),
        seed,
        settings,
        start,
        train_accuracy=float(np.mean(train_hit)),
        eval_accuracy=float(np.mean(eval_hit)),
        chance=1.0 / len(sizes),
        per_factor=per_factor,
        fit={
            "loss": float(info.loss),
            "grad_norm": float(info.grad_norm),
            "steps": int(info.steps),
        },
    )


# ----------------------------------------------------------------------------- Kim & Mnih


def _least_variance_dimensions(
    codes: jax.Array, global_variance: jax.Array, active: jax.Array
) -> jax.Array:
    """``[p, L, d] -> [p]``: per group, the active dimension of least variance (ddof 1)
    relative to its variance over the data."""
    ratio = jnp.var(codes, axis=1, ddof=1) / jnp.where(active, global_variance, 1.0)
    return jnp.argmin(jnp.where(active, ratio, jnp.inf), axis=-1)


least_variance_dimensions_jit = compiler.jit(_least_variance_dimensions)


def _votes(
    rng: np.random.Generator,
    dataset: FactorDataset,
    representation: Representation,
    num_points: int,
    group_size: int,
    batch_size: int,
    global_variance: np.ndarray,
    active: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(votes[F, d], fixed factor[n], voted dimension[n])`` of n groups sharing one factor."""
    num_factors = len(_factor_sizes(dataset))
    fixed = rng.integers(num_factors, size=num_points)
    factors = _sample(dataset, rng, num_points * group_size)
    factors = factors.reshape(num_points, group_size, num_factors)
    shared = (np.arange(num_points)[:, None], np.arange(group_size)[None, :], fixed[:, None])
    factors[shared] = factors[shared][:, :1]
    variance, mask = jnp.asarray(global_variance, jnp.float32), jnp.asarray(active)
    dims = grouped_codes(
        dataset,
        representation,
        factors,
        batch_size,
        lambda codes: least_variance_dimensions_jit(codes, variance, mask),
    )
    votes = np.zeros((num_factors, global_variance.size), np.int64)
    np.add.at(votes, (fixed, dims), 1)
    return votes, fixed, dims


def factor_vae_metric(
    seed: int,
    dataset: FactorDataset,
    representation: Representation,
    group_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance_estimate: int = 10_000,
    prune_threshold: float = 0.05,
    batch_size: int = 1024,
) -> dict[str, Any]:
    r"""The FactorVAE metric of Kim & Mnih 2018 (section 4).

    The std :math:`s_j` of each code dimension over ``num_variance_estimate`` images (ddof 1)
    normalises it; dimensions with :math:`s_j \le` ``prune_threshold`` are pruned (collapsed
    units). A point fixes a uniform factor :math:`k` over ``group_size`` images, other factors
    uniform, and votes :math:`(k, \arg\min_j \mathrm{Var}(z_j)/s_j^2)`. The classifier maps each
    dimension to the factor with most of its ``num_train`` training votes; the score is the
    fraction of ``num_eval`` fresh votes it classifies right. With no active dimension the
    score is 0 (as disentanglement_lib).

    Returns:
      ``{'metric', 'score' (eval accuracy), 'train_accuracy', 'eval_accuracy', 'chance',
      'num_active_dims', 'active_dims', 'classifier' (factor per dimension), 'train_votes'
      [F][d], 'per_factor': [{'factor', 'eval_accuracy', 'eval_points', 'dimensions'}],
      'settings', 'seed', 'seconds'}``.
    """
    start = time.perf_counter()
    sizes = _factor_sizes(dataset)
    settings = dict(
        group_size=group_size,
        num_train=num_train,
        num_eval=num_eval,
        num_variance_estimate=num_variance_estimate,
        prune_threshold=prune_threshold,
        batch_size=batch_size,
    )
    _check_factor_vae(**settings)
    rng = np.random.default_rng(seed)
    factors = _sample(dataset, rng, num_variance_estimate)[:, None, :]
    codes = grouped_codes(dataset, representation, factors, batch_size)[:, 0]
    global_variance = np.var(codes.astype(np.float64), axis=0, ddof=1)
    active = np.sqrt(global_variance) > prune_threshold
    details: dict[str, Any] = dict(chance=1.0 / len(sizes), num_active_dims=int(active.sum()))
    if not active.any():
        return _result(
            "factor_vae",
            0.0,
            seed,
            settings,
            start,
            train_accuracy=0.0,
            eval_accuracy=0.0,
            **details,
        )
    votes = functools.partial(
        _votes,
        rng,
        dataset,
        representation,
        group_size=group_size,
        batch_size=batch_size,
        global_variance=global_variance,
        active=active,
    )
    train_votes, _, _ = votes(num_points=num_train)
    classifier = np.argmax(train_votes, axis=0)
    eval_votes, eval_fixed, eval_dims = votes(num_points=num_eval)
    columns = np.arange(classifier.size)
    eval_hit = classifier[eval_dims] == eval_fixed
    per_factor = [
        {
            "factor": name,
            "eval_accuracy": float(np.mean(eval_hit[eval_fixed == k]))
            if np.any(eval_fixed == k)
            else None,
            "eval_points": int(np.sum(eval_fixed == k)),
            "dimensions": [int(j) for j in np.flatnonzero((classifier == k) & active)],
        }
        for k, name in enumerate(dataset.factor_names)
    ]
    return _result(
        "factor_vae",
        np.mean(eval_hit),
        seed,
        settings,
        start,
        train_accuracy=float(train_votes[classifier, columns].sum() / num_train),
        eval_accuracy=float(np.mean(eval_hit)),
        **details,
        active_dims=[int(j) for j in np.flatnonzero(active)],
        classifier=[int(k) for k in classifier],
        train_votes=train_votes.tolist(),
        per_factor=per_factor,
    )


# ----------------------------------------------------------------------------- Chen et al.


def _discretise(codes: jax.Array, num_bins: int) -> jax.Array:
    """``[n, d] -> [n, d]`` bin indices in ``[0, num_bins)``: equal-width bins from each
    column's min to max, as ``np.digitize(c, np.histogram(c, num_bins)[1][:-1]) - 1``
    (a constant column: one bin)."""
    lo, hi = jnp.min(codes, axis=0), jnp.max(codes, axis=0)
    lo, hi = jnp.where(hi > lo, lo, lo - 0.5), jnp.where(hi > lo, hi, hi + 0.5)
    inner = lo + jnp.arange(1, num_bins)[:, None] * ((hi - lo) / num_bins)  # [bins - 1, d]
    count_at_or_below = jax.vmap(lambda edges, c: jnp.searchsorted(edges, c, side="right"))
    return count_at_or_below(inner.T, codes.T).T


def _contingency(
    codes: jax.Array, factors: jax.Array, factor_sizes: tuple[int, ...], num_bins: int
) -> jax.Array:
    """``[d, bins, sum(factor_sizes)]`` counts of (bin of code j, value of each factor)."""
    bins = _discretise(codes, num_bins)
    offsets = np.cumsum((0,) + factor_sizes[:-1])
    values = jax.nn.one_hot(factors + offsets, sum(factor_sizes)).sum(axis=1)  # [n, S]

    def per_dimension(dimension_bins: jax.Array) -> jax.Array:  # [n] -> [bins, S]
        return jax.nn.one_hot(dimension_bins, num_bins).T @ values

    return jax.lax.map(per_dimension, bins.T, batch_size=64)


contingency_jit = compiler.jit(_contingency, static_argnames=("factor_sizes", "num_bins"))


def mutual_information(
    codes: np.ndarray, factors: np.ndarray, factor_sizes: tuple[int, ...], num_bins: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    r"""Plug-in mutual information of discretised codes with each factor, and factor entropies.

    .. math:: I(z_j; y_k) = \sum_{b, v} \hat p(b, v) \log \frac{\hat p(b, v)}
              {\hat p(b)\, \hat p(v)}, \qquad H(y_k) = -\sum_v \hat p(v) \log \hat p(v)

    in nats, with :math:`b` the equal-width bin of :math:`z_j` (:func:`_discretise`) and
    empirical frequencies over the n points (as ``sklearn.metrics.mutual_info_score``). Counts
    are jitted; the sums run in float64.

    Args:
      codes: ``[n, d]``.
      factors: ``[n, F]`` class indices below ``factor_sizes``.

    Returns:
      ``(info[F, d], entropy[F])``.
    """
    counts = np.asarray(
        contingency_jit(
            jnp.asarray(codes, jnp.float32),
            jnp.asarray(factors, jnp.int32),
            factor_sizes=tuple(int(v) for v in factor_sizes),
            num_bins=int(num_bins),
        ),
        np.float64,
    )
    n = float(len(codes))
    edges = np.cumsum((0,) + tuple(factor_sizes))
    info, entropy = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        joint = counts[:, :, lo:hi] / n  # [d, bins, V_k]
        p_bin, p_value = joint.sum(axis=2, keepdims=True), joint.sum(axis=1, keepdims=True)
        ratio = np.where(joint > 0, joint, 1.0) / np.where(joint > 0, p_bin * p_value, 1.0)
        info.append(np.sum(joint * np.log(ratio), axis=(1, 2)))
        p = p_value[0, 0]
        entropy.append(-np.sum(p[p > 0] * np.log(p[p > 0])))
    return np.maximum(np.stack(info), 0.0), np.asarray(entropy)


def mig(
    seed: int,
    dataset: FactorDataset,
    representation: Representation,
    num_points: int = 10_000,
    num_bins: int = 20,
    batch_size: int = 1024,
) -> dict[str, Any]:
    r"""The mutual information gap of Chen et al. 2018 (section 4.1).

    Codes of ``num_points`` images of uniform factors, each dimension discretised into
    ``num_bins`` equal-width bins (:func:`mutual_information`):

    .. math:: \mathrm{MIG} = \frac1F \sum_{k=1}^F \frac{I(z_{j_k}; y_k) - \max_{j \ne j_k}
              I(z_j; y_k)}{H(y_k)}, \qquad j_k = \arg\max_j I(z_j; y_k).

    1 when each factor is a function of its own dimension and independent of the others; 0 for
    codes independent of the factors (up to the plug-in estimator's positive bias, about
    :math:`(\text{bins} - 1)(V_k - 1) / 2n` nats).

    Returns:
      ``{'metric', 'score', 'per_factor': [{'factor', 'gap' (normalised), 'entropy',
      'best_dimension', 'best_info', 'second_dimension', 'second_info'}],
      'mutual_information' [F][d] (nats), 'settings', 'seed', 'seconds'}``.
    """
    start = time.perf_counter()
    sizes = _factor_sizes(dataset)
    settings = dict(num_points=num_points, num_bins=num_bins, batch_size=batch_size)
    _check_mig(**settings)
    rng = np.random.default_rng(seed)
    factors = _sample(dataset, rng, num_points)
    codes = grouped_codes(dataset, representation, factors[:, None, :], batch_size)[:, 0]
    if codes.shape[1] < 2:
        raise ValueError(f"MIG needs codes of >= 2 dimensions; got {codes.shape[1]}.")
    info, entropy = mutual_information(codes, factors, sizes, num_bins)
    if np.any(entropy == 0):
        raise ValueError(
            f"num_points={num_points} is too few: a factor took a single value; use more."
        )
    order = np.argsort(-info, axis=1, kind="stable")
    rows = np.arange(len(sizes))
    best, second = info[rows, order[:, 0]], info[rows, order[:, 1]]
    gaps = (best - second) / entropy
    per_factor = [
        {
            "factor": name,
            "gap": float(gaps[k]),
            "entropy": float(entropy[k]),
            "best_dimension": int(order[k, 0]),
            "best_info": float(best[k]),
            "second_dimension": int(order[k, 1]),
            "second_info": float(second[k]),
        }
        for k, name in enumerate(dataset.factor_names)
    ]
    return _result(
        "mig",
        np.mean(gaps),
        seed,
        settings,
        start,
        per_factor=per_factor,
        mutual_information=info.tolist(),
    )


# ----------------------------------------------------------------------------- representations


def raw_pixels(images: np.ndarray) -> np.ndarray:
    """The identity representation: ``[n, D]`` images as float32 codes (a baseline)."""
    return np.asarray(images, np.float32)


def _principal_axes(
    rng_key: jax.Array, x: jax.Array, num_components: int, power_iterations: int
) -> jax.Array:
    """``[num_components, D]`` leading right singular vectors of ``x[n, D]`` by randomised SVD
    (Halko, Martinsson & Tropp 2011, algorithm 4.4) with 10 extra columns."""
    width = min(num_components + 10, *x.shape)
    q, _ = jnp.linalg.qr(x @ jax.random.normal(rng_key, (x.shape[1], width)))
    for _ in range(power_iterations):
        q, _ = jnp.linalg.qr(x.T @ q)
        q, _ = jnp.linalg.qr(x @ q)
    _, _, vt = jnp.linalg.svd(q.T @ x, full_matrices=False)
    return vt[:num_components]


principal_axes_jit = compiler.jit(
    _principal_axes, static_argnames=("num_components", "power_iterations")
)


def pca_representation(
    seed: int,
    dataset: FactorDataset,
    num_components: int,
    num_points: int = 10_000,
    power_iterations: int = 4,
) -> Representation:
    r"""PCA codes fitted on ``num_points`` images of uniform factors (a baseline):
    :math:`r(x) = V_d^\top (x - \bar x)` with :math:`V_d` the top ``num_components``
    principal axes, by randomised SVD with ``power_iterations`` (Halko et al. 2011; an exact
    SVD of 10,000 dSprites images took 3 minutes on two busy CPU cores, this takes seconds)."""
    _factor_sizes(dataset)
    _at_least(1, num_components=num_components, power_iterations=power_iterations)
    _at_least(2, num_points=num_points)
    images = np.asarray(dataset.images(_sample(dataset, np.random.default_rng(seed), num_points)))
    if num_components > min(images.shape):
        raise ValueError(
            f"num_components must be <= min(num_points, D) = {min(images.shape)}; "
            f"got {num_components}."
        )
    mean = images.mean(axis=0, dtype=np.float64).astype(np.float32)
    axes = np.asarray(
        principal_axes_jit(
            jax.random.PRNGKey(seed),
            jnp.asarray(images - mean),
            num_components=num_components,
            power_iterations=power_iterations,
        )
    )
    offset = mean @ axes.T  # r(x) = x V - mean V: no centred copy of each batch
    return lambda x: np.asarray(x, np.float32) @ axes.T - offset


def posterior_mean_representation(model: Model, params: Any) -> Representation:
    r"""Codes :math:`E_q[z_1 \mid x]`, the mean of the model's first latent's Gaussian
    posterior (``model.posterior_distribution``), jitted; ``ValueError`` if that posterior is
    not a Gaussian of x alone."""
    means = compiler.jit(lambda p, x: model.posterior_distribution(p, x).mean)
    return lambda x: np.asarray(means(params, jnp.asarray(x, jnp.float32)))


def untrained_representation(seed: int, model: Model) -> Representation:
    """Posterior means of ``model`` at its initial params ``model.init(PRNGKey(seed))`` (a
    baseline)."""
    return posterior_mean_representation(model, compiler.jit(model.init)(jax.random.PRNGKey(seed)))


METRICS: dict[str, Callable[..., dict[str, Any]]] = {
    "beta_vae_metric": beta_vae_metric,
    "factor_vae_metric": factor_vae_metric,
    "mig": mig,
}
_CHECKS = {
    "beta_vae_metric": _check_beta_vae,
    "factor_vae_metric": _check_factor_vae,
    "mig": _check_mig,
}


def check_settings(settings: dict[str, dict[str, Any]]) -> None:
    """One-line ``ValueError`` unless ``settings[name]`` are valid keyword arguments of the
    metric :data:`METRICS` ``[name]`` (before anything is computed)."""
    unknown = sorted(set(settings) - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {sorted(METRICS)}.")
    for name, kwargs in settings.items():
        try:
            bound = inspect.signature(METRICS[name]).bind(0, None, None, **kwargs)
        except TypeError as err:
            raise ValueError(f"{name}: {err}.") from None
        bound.apply_defaults()
        _CHECKS[name](**dict(list(bound.arguments.items())[3:]))


def all_metrics(
    seed: int,
    dataset: FactorDataset,
    representation: Representation,
    settings: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The three metrics of one representation, keyed as :data:`METRICS`, each with the same
    seed and its keyword arguments from ``settings[name]`` (defaults otherwise)."""
    settings = settings or {}
    check_settings(settings)
    return {
        name: metric(seed, dataset, representation, **settings.get(name, {}))
        for name, metric in METRICS.items()
    }
