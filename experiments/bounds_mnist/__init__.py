"""Objectives and gradient estimators at equal budget on MNIST (Rainforth et al. 2018)."""
