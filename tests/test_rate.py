"""Rate and distortion: closed forms on the linear-Gaussian model, and ELBO = -(R + D)."""

from __future__ import annotations

import jax
import numpy as np

from jvae import bounds
from jvae.diagnostics.rate import rate_distortion
from jvae.models import linear_gaussian


def test_rate_is_the_kl_and_elbo_is_minus_rate_plus_distortion():
    model = linear_gaussian.model(data_dim=4, latent=2)
    params = model.init(jax.random.PRNGKey(0))
    enc = params["encoder"]
    params = {**params, "encoder": {**enc, "c": enc["c"] + 0.5}}  # a worse q: KL > 0
    x = np.asarray(linear_gaussian.sample_data(jax.random.PRNGKey(1), params, 30))
    out = rate_distortion(model, params, jax.random.PRNGKey(2), x, num_samples=4000, batch_size=7)
    q = model.posterior_distribution(params, x)
    np.testing.assert_allclose(out["rate"], q.kl_standard_normal(), atol=0.06)
    elbo = bounds.elbo(model.log_weights(params, jax.random.PRNGKey(3), x, 4000).total)
    np.testing.assert_allclose(-(out["rate"] + out["distortion"]), elbo, atol=0.1)
    assert out["rate"].shape == out["distortion"].shape == (30,)
