"""ELBO surgery of MNIST VAEs (Hoffman & Johnson 2016) and the q_EW figure (Cremer et al. 2017)."""
