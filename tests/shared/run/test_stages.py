"""Which stages have a recorded result: the lock entries that make a stage stale-able."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.run.stages import locked_stages, never_run_stages, stale_stages


def test_locked_stages_are_addressed_as_dvc_status_names_them(tmp_path: Path) -> None:
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages:\n  prepare@mnist:\n    cmd: x\n")
    (tmp_path / "papers" / "tcn").mkdir(parents=True)
    (tmp_path / "papers" / "tcn" / "dvc.lock").write_text("schema: '2.0'\nstages:\n  train@jsb_chorales:\n    cmd: y\n")
    (tmp_path / "papers" / "new").mkdir()  # a paper whose stages never ran: no dvc.lock yet
    assert locked_stages(tmp_path) == {"prepare@mnist", "papers/tcn/dvc.yaml:train@jsb_chorales"}


@pytest.mark.slow
def test_in_this_repository_a_stage_is_either_locked_or_never_run_and_only_locked_ones_can_be_stale() -> None:
    never = set(never_run_stages())
    locked = locked_stages()
    assert not never & locked
    assert set(stale_stages()) <= locked
