"""The command line works from any working directory (issue 12 item 9): every default path is the
repository's, and only the paths given on the command line are relative to where it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.core.paths import REPO_ROOT
from shared.data.external import EXTERNAL_ROOT
from shared.data.prepared import PREPARED_ENV, prepared_root
from shared.run.experiment import RUN_ROOT
from shared.track.mlflow_tracker import tracking_uri


def test_every_default_path_is_the_repositorys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PREPARED_ENV)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert RUN_ROOT == REPO_ROOT / "runs" and prepared_root() == REPO_ROOT / "prepared"
    assert EXTERNAL_ROOT == REPO_ROOT / "external" and REPO_ROOT.is_absolute()
    assert tracking_uri() == f"sqlite:///{REPO_ROOT / 'mlflow' / 'mlflow.db'}"


@pytest.mark.slow
def test_a_run_from_another_directory_writes_only_where_its_arguments_say(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    command = [sys.executable, "-m", "papers.tcn", "train", "adding_t600", "--profile", "smoke", "--no-progress"]
    command += ["--run-root", "runs", "--results", "out/adding.json"]
    done = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"results: {elsewhere / 'out' / 'adding.json'}" in done.stdout
    assert (elsewhere / "out" / "adding.json").is_file() and (elsewhere / "out" / "curves" / "adding.csv").is_file()
    assert (elsewhere / "runs" / "tcn" / "adding_t600" / "smoke" / "seed1" / "last.pt").is_file()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["out", "runs"]  # no prepared/, mlflow/, external/
