"""An interrupted command continues where it stopped; a completed one trains again.

A task's seeds train one after another. Stopped after some of them finished (a session's end, a
kill, a crash), the same command run again should train only what is left: retraining the
finished seeds would throw away hours and, runs being deterministic, give the same numbers. A
command that completed and is run again (``dvc repro -f``, a check on another machine) should train
every seed again, or it could never measure anything anew.

Both are told apart by a marker in the task's run directory (``runs/<paper>/<task>/<profile>/``),
written when a command starts and removed once its results file is written. A command that finds
the marker of the same invocation (the same seeds, configuration, code and data: the digest of the
seeds' fingerprints) keeps its finished seeds, as ``--keep-finished`` does; any other command
replaces the marker and starts the usual way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from shared.core.atomic import write_text_atomic
from shared.train import runtime

MARKER = "unfinished"


def invocation_key(fingerprints: Sequence[str]) -> str:
    """One digest for a command's seeds (their fingerprints, in the command's order)."""
    return hashlib.sha256("\n".join(fingerprints).encode()).hexdigest()[:16]


def begin(task_dir: Path, fingerprints: Sequence[str]) -> bool:
    """Mark the command as started; return whether the previous one of the same invocation was
    interrupted (its marker is still there). Under torchrun every rank reads the marker before
    rank 0 replaces it."""
    marker = task_dir / MARKER
    key = invocation_key(fingerprints)
    interrupted = marker.is_file() and marker.read_text().strip() == key
    runtime.barrier()
    if runtime.distributed().is_main:
        task_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(key + "\n", marker)
    return interrupted


def end(task_dir: Path) -> None:
    """The command completed (its results file is written): the next one trains afresh."""
    (task_dir / MARKER).unlink(missing_ok=True)
