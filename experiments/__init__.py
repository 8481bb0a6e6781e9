"""Experiments that rebuild the lecture's tables; each is a package run as a script."""
