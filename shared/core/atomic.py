"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half; and the
loading of what :func:`save_atomic` wrote, with one error for a file that is not whole."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

# The temporary file of a write to ``<name>``: ``.<name>.`` + mkstemp's 8 random characters + ``.tmp``.
_TMP_PREFIX, _TMP_SUFFIX = ".{name}.", ".tmp"
_ORPHAN = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (see :func:`save_atomic`)."""
    _replace_atomic(path, lambda f: f.write(text.encode()))


class UnreadableFileError(ValueError):
    """A file meant for ``torch.load`` cannot be read: cut short (a copy interrupted, a disk full,
    an older writer that was not atomic) or not written by ``torch.save``."""


def load_weights_only(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` (tensors and plain values only); a file that cannot
    be read raises :class:`UnreadableFileError` naming it, with torch's reason in one line."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # where the file is cut decides: RuntimeError, EOFError, OSError, KeyError, ...
        reason = str(err).split(". ")[0].splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnreadableFileError(f"{path} cannot be read ({reason}): it is truncated or corrupt") from err


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` ``obj`` to a temporary file beside ``path``, flush it to disk, then rename.

    The temporary file is created private (``mkstemp``); it is given the permissions a plain
    ``open`` would (0o666 minus the umask) before it replaces ``path``.
    """
    _replace_atomic(path, lambda f: torch.save(obj, f))


def _replace_atomic(path: str | Path, write: Callable[[BinaryIO], Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX.format(name=path.name), suffix=_TMP_SUFFIX, dir=path.parent)
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


def remove_orphans(folder: str | Path, before: float) -> list[Path]:
    """Delete the temporary files of atomic writes into ``folder`` last modified before ``before``
    (a ``time.time()``), and return them: a process killed in the middle of a write (SIGKILL, a
    power cut) leaves its temporary file behind, a checkpoint's as large as the checkpoint. Call
    it only where no other process can be writing (a run directory whose lock is held)."""
    removed = []
    for path in Path(folder).glob(f".*{_TMP_SUFFIX}"):
        if _ORPHAN.fullmatch(path.name) and path.is_file() and path.stat().st_mtime < before:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
