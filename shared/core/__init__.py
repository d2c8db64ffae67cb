"""Foundations every layer may use: typed configuration read from YAML with errors that name the
file and key (:mod:`shared.core.config`), atomic file writes (:mod:`shared.core.atomic`), and the
repository root (:mod:`shared.core.paths`). Nothing here knows about models, data or training."""
