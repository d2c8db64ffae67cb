"""Checkpoints: ``state_dict``s and plain values, written atomically, loaded with ``weights_only``.

Never a pickled module (USER_PAIN: whole-object pickles break across versions and are refused by
``torch.load`` since torch 2.6).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from shared.core.atomic import save_atomic

__all__ = ["load", "save_atomic"]


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_atomic`; only tensors and plain values are accepted."""
    return torch.load(Path(path), map_location=map_location, weights_only=True)
