"""A run made in another checkout lands here only when it ran this checkout's code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import shared.run.stages as stages
from shared.run.provenance import code_digest

TARGET = "papers/toy/dvc.yaml:train@fit"


def _checkout(root: Path, body: str = "print('toy')\n", epochs: int = 3, foreach: str = "[]") -> Path:
    (root / "papers" / "toy").mkdir(parents=True)
    (root / "papers" / "toy" / "params.yaml").write_text(
        f"repro: {{profile: cpu}}\ntasks:\n  fit:\n    train: {{epochs: {epochs}}}\n"
    )
    (root / "papers" / "toy" / "dvc.yaml").write_text(f"stages:\n  train:\n    foreach: {foreach}\n")
    (root / "papers" / "__init__.py").write_text("")
    (root / "papers" / "toy" / "__init__.py").write_text("")
    (root / "papers" / "toy" / "__main__.py").write_text(body)
    return root


def _run(source: Path, **fields: str) -> Path:
    result = {"paper": "toy", "task": "fit", "profile": "cpu", "commit": "abc", "ours": 1.5}
    result["code_digest"] = code_digest("papers.toy.__main__", source)
    result.update(fields)
    results = source / "papers" / "toy" / "results"
    (results / "curves").mkdir(parents=True)
    (results / "fit.json").write_text(json.dumps(result))
    (results / "curves" / "fit.csv").write_text("epoch,loss\n1,0.5\n")
    return results


@pytest.fixture
def added(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(stages, "add_stage", lambda target, root: calls.append(target))
    return calls


@pytest.fixture
def locked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(stages, "commit_locks", lambda targets, root: calls.extend(targets))
    return calls


def test_a_run_of_the_same_code_is_copied_with_its_curves_and_its_stage_added(tmp_path: Path, added: list[str]) -> None:
    source, here = _checkout(tmp_path / "worktree"), _checkout(tmp_path / "main")
    made = _run(source)
    landed = stages.land(source, TARGET, here)
    assert landed == here / "papers" / "toy" / "results" / "fit.json"
    assert landed.read_text() == (made / "fit.json").read_text()
    assert (landed.parent / "curves" / "fit.csv").read_text() == (made / "curves" / "fit.csv").read_text()
    assert added == [TARGET]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"profile": "smoke"}, "at profile smoke, not toy/fit at profile cpu"),
        ({"task": "other"}, "is toy/other"),
        ({"code_digest": "0123456789abcdef"}, "was made by code 0123456789abcdef .* show the change result-neutral"),
    ],
)
def test_a_run_of_other_code_profile_or_task_is_refused_before_anything_is_copied(
    tmp_path: Path, added: list[str], fields: dict[str, str], message: str
) -> None:
    source, here = _checkout(tmp_path / "worktree"), _checkout(tmp_path / "main")
    _run(source, **fields)
    with pytest.raises(ValueError, match=message):
        stages.land(source, TARGET, here)
    assert not (here / "papers" / "toy" / "results").exists()
    assert added == []


def test_code_changed_since_the_run_is_refused(tmp_path: Path, added: list[str]) -> None:
    source, here = _checkout(tmp_path / "worktree"), _checkout(tmp_path / "main", "print('changed')\n")
    _run(source)
    with pytest.raises(ValueError, match="this checkout runs"):
        stages.land(source, TARGET, here)
    assert added == []


def test_a_missing_run_or_a_malformed_target_names_what_is_wrong(tmp_path: Path) -> None:
    here = _checkout(tmp_path / "main")
    with pytest.raises(ValueError, match="fit.json does not exist: nothing to land"):
        stages.land(tmp_path / "nowhere", TARGET, here)
    with pytest.raises(ValueError, match="is not papers/<paper>/dvc.yaml:<stage>@<task>"):
        stages.land(tmp_path, "papers/toy/dvc.yaml:train", here)
    _run(tmp_path / "worktree")
    with pytest.raises(ValueError, match="no stage 'fit_all' in papers/toy/dvc.yaml"):
        stages.land(tmp_path / "worktree", "papers/toy/dvc.yaml:fit_all@fit", here)
    assert not (here / "papers" / "toy" / "results").exists()


def test_a_run_of_other_parameters_is_refused_before_copying(tmp_path: Path, added: list[str]) -> None:
    source, checkout = _checkout(tmp_path / "worktree"), _checkout(tmp_path / "main", epochs=10)
    _run(source)
    with pytest.raises(ValueError, match="made with other parameters than this checkout's"):
        stages.land(source, TARGET, checkout)
    assert not (checkout / "papers" / "toy" / "results").exists()
    assert added == []


def test_a_rerun_of_a_task_with_a_stage_replaces_its_result_and_records_the_lock(
    tmp_path: Path, added: list[str], locked: list[str]
) -> None:
    # The re-run after a parameter change: both checkouts have the new parameters, here the old result.
    source, here = _checkout(tmp_path / "worktree", epochs=10), _checkout(tmp_path / "main", epochs=10, foreach="[fit]")
    old = here / "papers" / "toy" / "results"
    (old / "curves").mkdir(parents=True)
    (old / "fit.json").write_text(json.dumps({"ours": 9.0}))
    (old / "curves" / "fit.csv").write_text("epoch,loss\n1,0.9\n")
    made = _run(source)
    stages.land(source, TARGET, here)
    assert (old / "fit.json").read_text() == (made / "fit.json").read_text()
    assert (old / "curves" / "fit.csv").read_text() == (made / "curves" / "fit.csv").read_text()
    assert locked == [TARGET]
    assert added == []
