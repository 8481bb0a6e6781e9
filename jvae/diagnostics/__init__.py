"""Diagnostics: test NLL by importance sampling, active units, bound tightness."""
