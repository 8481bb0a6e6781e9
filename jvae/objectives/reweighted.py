r"""Reweightings of the ELBO's KL term, as per-example functions of :class:`KLTerms` (maximised).

- :func:`beta_vae` (Higgins et al. 2017): :math:`E_q \log p(x|z) - \beta\, \mathrm{KL}`.
- :func:`free_bits` (Kingma et al. 2016, "free bits"): the latent dimensions form groups
  :math:`j`, and the KL of a group counts only above :math:`\lambda` nats,
  :math:`E_q \log p(x|z) - \sum_j \max(\lambda, \overline{\mathrm{KL}}_j)`, with
  :math:`\overline{\mathrm{KL}}_j` averaged over the minibatch (as the paper).
- :func:`controlled_capacity` (Burgess et al. 2018):
  :math:`E_q \log p(x|z) - \gamma\, |\overline{\mathrm{KL}} - C|`, the KL averaged over the
  minibatch (as the authors' and common reimplementations' ``|kl.mean() - C|``).

The last two couple the examples of a batch through batch means. They return per-example
values whose batch mean is the objective and whose gradient is the objective's: free bits
gives example :math:`b` the term :math:`\mathrm{KL}_{jb}` for a group above :math:`\lambda`
and the constant :math:`\lambda` for one below (zero gradient, the point of free bits);
capacity gives it :math:`\gamma\, \mathrm{sign}(\overline{\mathrm{KL}} - C)(\mathrm{KL}_b - C)`.
All three equal the ELBO at :math:`\beta = 1`, :math:`\lambda = 0` and :math:`\gamma = 1,
C = 0` (the last since a KL is non-negative; a Monte Carlo KL estimate of a batch can be
negative, and then it is :math:`\mathcal L + 2 \overline{\mathrm{KL}}`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jvae.objectives.kl import KLTerms


def beta_vae(terms: KLTerms, beta: float | jax.Array) -> jax.Array:
    r""":math:`E_q \log p(x|z) - \beta\, \mathrm{KL}(q(z|x) \| p(z))`, ``[B]``.

    >>> import jax.numpy as jnp
    >>> t = KLTerms(jnp.array([-10.0, -12.0]), jnp.array([2.0, 3.0]))
    >>> beta_vae(t, 4.0).tolist()
    [-18.0, -24.0]
    """
    return terms.reconstruction - beta * terms.kl


def group_kl(terms: KLTerms, groups: int) -> jax.Array:
    """The KL of ``groups`` equal groups of consecutive latent dimensions, ``[B, G]``
    (``groups = 1``: the whole KL, which any model has; more groups need the KL per dimension)."""
    if groups == 1:
        return terms.kl[:, None]
    if terms.kl_per_dim is None:
        raise ValueError(
            f"free bits over {groups} groups needs the KL per latent dimension in closed form "
            "(one Gaussian latent of x under a standard normal prior); use groups=1."
        )
    b, d = terms.kl_per_dim.shape
    if groups < 1 or d % groups:
        raise ValueError(
            f"groups={groups} must divide the {d} latent dimensions into equal groups."
        )
    return jnp.sum(jnp.reshape(terms.kl_per_dim, (b, groups, d // groups)), axis=-1)


def free_bits(terms: KLTerms, lam: float | jax.Array, groups: int = 1) -> jax.Array:
    r"""Free bits, ``[B]``; the batch mean is

    .. math:: \frac1B \sum_b E_q \log p(x_b|z) - \sum_{j=1}^G \max(\lambda,
              \overline{\mathrm{KL}}_j), \qquad
              \overline{\mathrm{KL}}_j = \frac1B \sum_b \mathrm{KL}_{jb},

    over ``groups`` = G equal groups of consecutive latent dimensions (:func:`group_kl`). The
    gradient of a group whose batch-mean KL is at most :math:`\lambda` is zero.

    >>> import jax.numpy as jnp
    >>> t = KLTerms(jnp.zeros(2), jnp.array([4.0, 1.0]), jnp.array([[3.0, 1.0], [1.0, 0.0]]))
    >>> free_bits(t, 1.0, groups=2).tolist()  # group 1 (batch mean 0.5) is held at 1
    [-4.0, -2.0]
    """
    kl = group_kl(terms, groups)
    above = jax.lax.stop_gradient(jnp.mean(kl, axis=0) > lam)
    return terms.reconstruction - jnp.sum(jnp.where(above, kl, lam), axis=-1)


def controlled_capacity(
    terms: KLTerms, gamma: float | jax.Array, capacity: float | jax.Array
) -> jax.Array:
    r"""Controlled capacity, ``[B]``; the batch mean is

    .. math:: \frac1B \sum_b E_q \log p(x_b|z) - \gamma\, \big|\overline{\mathrm{KL}} - C\big|.

    >>> import jax.numpy as jnp
    >>> t = KLTerms(jnp.array([-10.0, -10.0]), jnp.array([1.0, 3.0]))
    >>> controlled_capacity(t, 10.0, 5.0).tolist()  # mean KL 2 is 3 nats below C = 5
    [-50.0, -30.0]
    """
    sign = jax.lax.stop_gradient(jnp.sign(jnp.mean(terms.kl) - capacity))
    return terms.reconstruction - gamma * sign * (terms.kl - capacity)
