"""Where a number came from: repository root, git commit, library versions."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


def git_commit(root: Path = REPO_ROOT) -> str:
    """The checked-out commit, with ``-dirty`` when tracked code differs from it; ``unknown``
    outside a git checkout. Results files are ignored when judging dirtiness, because a run
    writes its own results."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    status = subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)papers/*/results/*",
            ":(exclude)dvc.lock",
            ":(exclude)papers/*/dvc.lock",
            ":(exclude)RESULTS.md",
            ":(exclude)papers/*/README.md",
        ],
        cwd=root,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{sha}-dirty" if status else sha


def versions() -> dict[str, str]:
    """Versions that can change a number."""
    import numpy

    found = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
    if torch.cuda.is_available():
        found["cuda"] = str(torch.version.cuda)
        found["cudnn"] = str(torch.backends.cudnn.version())
    return found
