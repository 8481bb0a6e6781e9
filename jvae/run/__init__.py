"""Runs: configuration and presets, training and evaluation into a results folder."""
