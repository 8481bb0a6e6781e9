r"""Disentanglement metrics: does each ground-truth factor live in its own code dimension?

A representation :math:`r` maps ``[n, *event_shape]`` images to ``[n, d]`` codes (e.g. a model's
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

One module per idea: :mod:`.common`, :mod:`.linear_probe`, :mod:`.beta_vae`,
:mod:`.factor_vae`, :mod:`.mutual_info_gap`, :mod:`.baselines`, :mod:`.suite` (all three by name).

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

from jvae.diagnostics.disentanglement.baselines import (
    pca_representation,
    posterior_mean_representation,
    raw_pixels,
    untrained_representation,
)
from jvae.diagnostics.disentanglement.beta_vae import beta_vae_metric
from jvae.diagnostics.disentanglement.common import Representation, grouped_codes
from jvae.diagnostics.disentanglement.factor_vae import factor_vae_metric
from jvae.diagnostics.disentanglement.linear_probe import (
    FitInfo,
    LinearClassifier,
    fit_logistic_regression,
    predict,
)
from jvae.diagnostics.disentanglement.mutual_info_gap import mig, mutual_information
from jvae.diagnostics.disentanglement.suite import METRICS, all_metrics, check_settings

__all__ = [
    "METRICS",
    "FitInfo",
    "LinearClassifier",
    "Representation",
    "all_metrics",
    "beta_vae_metric",
    "check_settings",
    "factor_vae_metric",
    "fit_logistic_regression",
    "grouped_codes",
    "mig",
    "mutual_information",
    "pca_representation",
    "posterior_mean_representation",
    "predict",
    "raw_pixels",
    "untrained_representation",
]
