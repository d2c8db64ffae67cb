"""The old-vs-new comparison behind result-neutrality proofs."""

from __future__ import annotations

import json
from pathlib import Path

from shared.run.equivalence import differences, fingerprint_of_result


def write(folder: Path, value: float, curve_value: str, seconds: str) -> Path:
    (folder / "curves").mkdir(parents=True)
    path = folder / "t.json"
    seeds = [{"seed": 1, "value": value, "steps": 10, "epochs": 2, "selected_epoch": 2}]
    path.write_text(json.dumps({"ours": value, "seeds": seeds, "lr_search": None, "secondary": {}}))
    (folder / "curves" / "t.csv").write_text(
        f"seed,epoch,valid/loss,eval_seconds\n1,1,9.5,{seconds}\n1,2,{curve_value},{seconds}\n"
    )
    return path


def test_equal_runs_differ_only_in_wall_time_and_unequal_ones_are_named(tmp_path: Path) -> None:
    old = fingerprint_of_result(write(tmp_path / "old", 8.25, "8.5", "0.31"))
    assert differences(old, fingerprint_of_result(write(tmp_path / "same", 8.25, "8.5", "0.77"))) == []
    diff = differences(old, fingerprint_of_result(write(tmp_path / "new", 8.250000001, "8.50001", "0.31")))
    assert any(d.startswith("ours:") for d in diff) and any(d.startswith("curve row 1") for d in diff)
