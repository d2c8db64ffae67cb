"""The Dilated RNN benchmark runs end to end (tiny shapes: no speed claim)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.dilated_rnn import Row, main, table


def test_quick_bench_times_every_cell_length_and_model(tmp_path: Path) -> None:
    out = tmp_path / "dilated.json"
    assert main(["--quick", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {(r["cell"], r["length"], r["model"]) for r in rows} == {
        (c, t, m) for c in ("rnn", "lstm", "gru") for t in (5, 9) for m in ("dilated", "plain", "torch")
    }
    assert all(r["seconds"] > 0 and r["steps_per_s"] == 1 / r["seconds"] for r in rows)


def test_the_table_gives_the_plain_models_time_over_the_dilated() -> None:
    rows = [Row("gru", 784, 128, model, s) for model, s in (("dilated", 1.0), ("plain", 3.0), ("torch", 2.0))]
    assert table(rows).splitlines()[-1] == "| gru | 784 | 128 | 1.000 | 3.000 | 2.000 | 3.00 | 2.00 |"


def test_profile_prints_each_models_operator_table_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dilated.json"
    assert main(["--quick", "--profile", "--cells", "lstm", "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    for name in ("dilated", "plain"):
        for length in (5, 9):
            assert f"{name} lstm, T={length}, batch 2, 3 training steps:" in shown
    assert shown.count("Self CPU time total") == 4
    assert "aten::" in shown
    assert not out.exists()
