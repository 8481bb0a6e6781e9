"""Experiments that rebuild the lecture's tables: each a package run as
``python -m experiments.<name> --preset P``, on the shared :mod:`experiments.runner`."""

#: The experiments that rebuild a table, in the index's order (``paper_cost`` projects what
#: each one's ``paper`` preset would take).
TABLES = (
    "iwae_table",
    "bounds_mnist",
    "vampprior",
    "vlae",
    "elbo_surgery",
    "beta_vae",
    "colour",
    "sandwich",
)
