"""What keys a run: the code closure of the entry module, the data version, config and seed."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from papers.tcn.__main__ import PAPER as TCN
from shared.core.paths import REPO_ROOT
from shared.run import experiment
from shared.run.experiment import RunOptions, fingerprint
from shared.run.provenance import code_closure, code_digest, machine
from shared.run.stages import _flatten
from shared.train.config import TrainConfig


def test_the_closure_follows_imports_lazy_ones_included_and_stops_at_the_project() -> None:
    closure = {str(p) for p in code_closure("papers.tcn.__main__")}
    assert {"papers/tcn/model.py", "papers/tcn/baselines.py", "shared/tasks/music.py"} <= closure
    assert "shared/track/mlflow_tracker.py" in closure  # imported inside a function of the runner
    assert {"shared/__init__.py", "shared/tasks/__init__.py", "papers/__init__.py"} <= closure
    assert not any(p.startswith(("shared/report/", "papers/gru/", "tests/")) for p in closure)


def test_editing_a_file_of_the_closure_changes_the_digest_and_the_fingerprint(tmp_path: Path) -> None:
    for name in ("shared", "papers"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    before = code_digest("papers.tcn.__main__", tmp_path)
    assert before == code_digest("papers.tcn.__main__", REPO_ROOT)
    (tmp_path / "report_note.py").write_text("x = 1\n")  # outside the closure: no change
    assert code_digest("papers.tcn.__main__", tmp_path) == before
    music = tmp_path / "shared" / "tasks" / "music.py"
    music.write_text(music.read_text() + "\n# an edit\n")
    after = code_digest("papers.tcn.__main__", tmp_path)
    assert after != before
    cfg = TrainConfig(epochs=1)
    assert fingerprint(cfg, 1, before, "d") != fingerprint(cfg, 1, after, "d")
    assert fingerprint(cfg, 1, before, "d") != fingerprint(cfg, 1, before, "other data")
    assert fingerprint(cfg, 1, before, "d") == fingerprint(TrainConfig(epochs=1), 1, before, "d")


def test_the_machine_is_described() -> None:
    found = machine()
    assert found["processor"] and found["cpus"] >= 1 and found["torch_threads"] >= 1


def test_dvc_status_changes_are_flattened_with_params_one_level_deeper() -> None:
    assert _flatten({"a.py": "modified"}) == [("a.py", "modified")]
    assert _flatten({"params.yaml": {"tasks.x": "modified"}}) == [("params.yaml:tasks.x", "modified")]


@pytest.mark.slow
def test_the_recorded_commit_is_the_one_the_run_started_from(
    tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The code digest is read when a run starts; the commit beside it must be read then too, not
    # when the results are written (by then the checkout may hold a later commit).
    commits = itertools.chain(["started-here"], itertools.repeat("committed-during-the-run"))
    monkeypatch.setattr(experiment, "git_commit", lambda: next(commits))
    options = RunOptions(run_root=tmp_path / "runs", progress=False)
    result = experiment.run(TCN, "adding_t600", "smoke", results_path=tmp_path / "r.json", options=options)
    assert result.commit == "started-here"
    assert result.code_digest == code_digest(TCN.entry_module)
