"""Experiments that rebuild the lecture's tables: each a package run as
``python -m experiments.<name> --preset P``, on the shared :mod:`experiments.runner`."""
