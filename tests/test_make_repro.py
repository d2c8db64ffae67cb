"""``make repro`` with a task that has no stage must stop before DVC runs anything (a ``dvc repro
--glob`` matching nothing once ran every stage of every paper and deleted committed results)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.core.paths import REPO_ROOT
from shared.run.stages import stage_target


def _a_cpu_task_without_a_result() -> tuple[str, str]:
    """A task with a cpu profile whose first result is still to come (so it has no stage yet)."""
    for folder in sorted((REPO_ROOT / "papers").iterdir()):
        if not (folder / "params.yaml").is_file():
            continue
        for task, entry in yaml.safe_load((folder / "params.yaml").read_text())["tasks"].items():
            if "cpu" in entry["profiles"] and not (folder / "results" / f"{task}.json").is_file():
                return folder.name, task
    pytest.skip("every cpu task has a committed result")


def test_stage_targets_and_the_errors_that_list_what_exists() -> None:
    assert stage_target("tcn", "jsb_chorales") == "papers/tcn/dvc.yaml:train@jsb_chorales"
    assert stage_target("tcn", "jsb_chorales_gru") == "papers/tcn/dvc.yaml:baseline@jsb_chorales_gru"
    assert stage_target("lstm", "all") == "papers/lstm/dvc.yaml"
    with pytest.raises(ValueError, match=r"unknown task 'jsb_chorale' of tcn \(stages: adding_t600, "):
        stage_target("tcn", "jsb_chorale")
    with pytest.raises(ValueError, match=r"no DVC stage .* PROFILE=paper"):
        stage_target("gru", "wmt14_en_fr_gru")
    assert stage_target("awd_lstm", "ptb") == "papers/awd_lstm/dvc.yaml:train@ptb"
    paper, task = _a_cpu_task_without_a_result()
    with pytest.raises(ValueError, match=r"no DVC stage yet \(no committed result\).* PROFILE=cpu"):
        stage_target(paper, task)
    known = ", ".join(sorted(p.name for p in (REPO_ROOT / "papers").iterdir() if (p / "dvc.yaml").is_file()))
    with pytest.raises(ValueError, match=rf"unknown paper 'tcnn' \(known: {known}\)"):
        stage_target("tcnn", "all")


@pytest.mark.slow
@pytest.mark.parametrize(("paper", "task"), [("tcn", "typo"), ("tcn", "text8"), ("nope", "all")])
def test_the_make_repro_line_never_reaches_dvc_for_a_bad_task(paper: str, task: str, tmp_path: Path) -> None:
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "repro", f"PAPER={paper}", f"TASK={task}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
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


def dry_recipe() -> str:
    """What ``make repro PAPER=tcn TASK=jsb_chorales DRY=1`` runs (this interpreter as ``$(PY)``)."""
    command = [
        "make",
        "--no-print-directory",
        "-n",
        "-o",
        ".venv/.installed",
        "repro",
        "PAPER=tcn",
        "TASK=jsb_chorales",
        "DRY=1",
    ]
    return subprocess.run(
        [*command, f"PY={sys.executable}"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_a_dry_repro_lists_what_would_run_without_running_or_pulling_anything() -> None:
    recipe = dry_recipe()
    assert 'dvc status --with-deps "$target"' in recipe
    assert "dvc repro" not in recipe.replace("`dvc repro --dry`", "") and "dvc pull" not in recipe


@pytest.mark.slow
def test_a_dry_repro_works_on_a_fresh_clone_without_data(tmp_path: Path) -> None:
    """``dvc repro --dry`` fails there (it hashes prepared/, which no stage has made yet:
    treeverse/dvc#9818); ``make repro DRY=1`` lists the stage and why it would run."""
    clone = tmp_path / "clone"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    for name in filter(None, files.stdout.split("\0")):
        if (REPO_ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, clone / name)
    subprocess.run(["git", "init", "-q"], cwd=clone, check=True)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(clone)}
    done = subprocess.run(["bash", "-c", dry_recipe()], cwd=clone, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "papers/tcn/dvc.yaml:train@jsb_chorales" in done.stdout and "prepare@polyphonic_music" in done.stdout
    assert "deleted:            prepared/polyphonic_music" in done.stdout
    assert not (clone / "prepared").exists() and not (clone / "data" / "polyphonic_music").exists()
