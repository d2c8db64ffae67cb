"""Checkpoints: ``state_dict``s and plain values, written atomically, loaded with ``weights_only``.

Never a pickled module (USER_PAIN: whole-object pickles break across versions and are refused by
``torch.load`` since torch 2.6).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from shared.core.atomic import UnreadableFileError, load_weights_only, save_atomic

__all__ = ["CheckpointError", "load", "save_atomic"]


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read; the message says how to start afresh."""


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_atomic`; only tensors and plain values are accepted."""
    try:
        return load_weights_only(path, map_location)
    except UnreadableFileError as err:
        raise CheckpointError(f"{err}; start this run afresh with --no-resume, or delete {Path(path)}") from err
