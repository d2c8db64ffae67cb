"""Where the repository is, so that paths do not depend on the working directory."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
