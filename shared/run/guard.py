"""What keeps a run directory true while a run uses it: one process at a time, and a SIGTERM that
ends a run the way Ctrl-C does.

A second ``train`` of the same (paper, task, profile, seed) would resume the first one's checkpoint
while it is still being written and log into the same MLflow run; :func:`claim_run_dir` makes it
fail instead, naming the process that holds the directory. The lock is ``fcntl.flock`` on
``<run_dir>/run.lock``: the kernel releases it when its process dies however it dies, so the lock
of a killed run is simply taken over (the file, holding the last holder's PID, stays).

``kill <pid>``, a scheduler's time limit, ``docker stop`` and ``systemctl stop`` send SIGTERM,
whose default action ends the process at once: no ``finally`` runs, its MLflow run stayed
``RUNNING`` forever. Within :func:`sigterm_as_interrupt` it raises :class:`Terminated`, a
``KeyboardInterrupt``, so the run ends through the same path as Ctrl-C.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from shared.core.atomic import remove_orphans

LOCK_NAME = "run.lock"


class RunDirectoryBusy(RuntimeError):
    """Another live process trains in this run directory."""


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (``signum``); handled like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _holder(lock_path: Path) -> str:
    # The holder writes its PID right after taking the lock: wait briefly for it.
    for _ in range(20):
        pid = lock_path.read_text().strip()
        if pid:
            return pid
        time.sleep(0.05)
    return "unknown"


@contextlib.contextmanager
def claim_run_dir(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir`` for this process (creating it), or raise :class:`RunDirectoryBusy` naming
    the PID that holds it. Once held, the temporary files that killed atomic writes left there
    are deleted (no other process can be writing any)."""
    started = time.time()
    run_dir.mkdir(parents=True, exist_ok=True)
    lock_path = run_dir / LOCK_NAME
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(lock_path)
            raise RunDirectoryBusy(
                f"{run_dir} is in use by another training, process {pid}: the same task, profile and seed "
                f"cannot train twice at once (both would write one checkpoint and one MLflow run). Wait for "
                f"it to finish, or stop it (`kill {pid}`; its next run resumes from its last checkpoint)"
            ) from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        remove_orphans(run_dir, before=started)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated`; a second SIGTERM during the clean-up
    that follows acts as outside the block (by default: ends the process). Outside the main
    thread, where Python delivers no signal, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    restore = signal.SIG_DFL if previous is None else previous  # None: set outside Python

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, restore)
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, restore)
