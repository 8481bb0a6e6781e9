"""Diagnostics: test NLL by importance sampling, active units, bound tightness, and annealed
importance sampling with its bidirectional (BDMC) upper bound (:mod:`jvae.diagnostics.ais`,
:mod:`jvae.diagnostics.bdmc`)."""
