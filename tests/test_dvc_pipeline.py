"""End to end: `dvc repro` of the TCN and LSTM smoke profiles in a temporary copy of the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.core.paths import REPO_ROOT
from shared.data.prepared import PREPARED_ENV

STORE = REPO_ROOT.parent / "shared" / "dvc-store"


def sh(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(not STORE.is_dir(), reason="../shared/dvc-store is not beside the checkout")
def test_dvc_repro_of_the_smoke_profile_in_a_copy(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    files = sh("git", "ls-files", "-co", "--exclude-standard", "-z", cwd=REPO_ROOT).split("\0")
    for name in filter(None, files):
        if (REPO_ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, repo / name)
    for paper in ("tcn", "lstm"):
        params_path = repo / "papers" / paper / "params.yaml"
        params = yaml.safe_load(params_path.read_text())
        params["repro"]["profile"] = "smoke"
        params_path.write_text(yaml.safe_dump(params, sort_keys=False))

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(repo),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    env.pop(PREPARED_ENV, None)  # the copy's stages write and read its own prepared/
    sh("git", "init", "-q", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy", cwd=repo)
    sh("dvc", "remote", "modify", "--local", "mirror", "url", str(STORE), cwd=repo, env=env)
    sh("dvc", "pull", "-q", "data.dvc", cwd=repo, env=env)
    stages = [
        "papers/tcn/dvc.yaml:train@adding_t600",
        "papers/tcn/dvc.yaml:train@jsb_chorales",
        "papers/lstm/dvc.yaml:online@temporal_order_6a",
    ]
    sh("dvc", "repro", *stages, cwd=repo, env=env)

    for task in ("adding_t600", "jsb_chorales"):
        result = json.loads((repo / "papers" / "tcn" / "results" / f"{task}.json").read_text())
        assert result["profile"] == "smoke" and result["task"] == task
    lock = yaml.safe_load((repo / "papers" / "tcn" / "dvc.lock").read_text())
    assert {"train@adding_t600", "train@jsb_chorales"} <= set(lock["stages"])
    online = json.loads((repo / "papers" / "lstm" / "results" / "temporal_order_6a.json").read_text())
    assert online["profile"] == "smoke" and online["metric"] == "success_after"
    assert (repo / "prepared" / "polyphonic_music" / "JSB_Chorales.pt").exists()
    status = sh("dvc", "status", *stages, cwd=repo, env=env)
    assert "up to date" in status, status
