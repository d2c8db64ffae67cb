"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (see :func:`save_atomic`)."""
    _replace_atomic(path, lambda f: f.write(text.encode()))


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` ``obj`` to a temporary file beside ``path``, flush it to disk, then rename.

    The temporary file is created private (``mkstemp``); it is given the permissions a plain
    ``open`` would (0o666 minus the umask) before it replaces ``path``.
    """
    _replace_atomic(path, lambda f: torch.save(obj, f))


def _replace_atomic(path: str | Path, write: Callable[[BinaryIO], Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
