"""The linear classifier of the beta-VAE metric: multinomial logistic regression fitted by
L-BFGS in JAX."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

from jvae import compiler
from jvae.diagnostics.disentanglement.common import at_least, non_negative


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
    at_least(2, num_classes=num_classes)
    at_least(1, max_steps=max_steps)
    non_negative(l2=l2, tol=tol)
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
