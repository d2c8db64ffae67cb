"""``make repro`` with a task that has no stage must stop before DVC runs anything (a ``dvc repro
--glob`` matching nothing once ran every stage of every paper and deleted committed results)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from shared.core.paths import REPO_ROOT
from shared.run.stages import stage_target


def test_stage_targets_and_the_errors_that_list_what_exists() -> None:
    assert stage_target("tcn", "jsb_chorales") == "papers/tcn/dvc.yaml:train@jsb_chorales"
    assert stage_target("tcn", "jsb_chorales_gru") == "papers/tcn/dvc.yaml:baseline@jsb_chorales_gru"
    assert stage_target("lstm", "all") == "papers/lstm/dvc.yaml"
    with pytest.raises(ValueError, match=r"unknown task 'jsb_chorale' of tcn \(stages: adding_t600, "):
        stage_target("tcn", "jsb_chorale")
    with pytest.raises(ValueError, match=r"no DVC stage .* PROFILE=paper"):
        stage_target("gru", "wmt14_en_fr_gru")
    with pytest.raises(ValueError, match=r"unknown paper 'tcnn' \(known: gru, lstm, tcn\)"):
        stage_target("tcnn", "all")


@pytest.mark.parametrize(("paper", "task"), [("tcn", "typo"), ("tcn", "text8"), ("nope", "all")])
def test_the_make_repro_line_never_reaches_dvc_for_a_bad_task(paper: str, task: str, tmp_path: Path) -> None:
    recipe = subprocess.run(
        ["make", "-n", "repro", f"PAPER={paper}", f"TASK={task}"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout
    line = next(line for line in recipe.splitlines() if "--target" in line)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dvc").write_text(f"#!/bin/sh\necho called > {tmp_path / 'dvc_called'}\n")
    (fake / "dvc").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(["bash", "-c", line], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "error:" in done.stderr
    assert not (tmp_path / "dvc_called").exists()
