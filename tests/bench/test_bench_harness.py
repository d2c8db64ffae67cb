"""The benchmark harness runs end to end and judges the issue's targets (tiny shapes: no speed claim)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cells import Row, main, targets


@pytest.mark.slow
def test_quick_bench_writes_every_group_and_its_targets(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert main(["--quick", "--out", str(out), "--min-run-time", "0.01"]) == 0
    result = json.loads(out.read_text())
    assert result["quick"] is True
    assert {row["group"] for row in result["rows"]} == {"lstm_gru", "qrnn", "sliced", "indrnn"}
    for row in result["rows"]:
        assert row["ours_s"] > 0 and row["baseline_s"] > 0
        assert row["ratio"] == row["baseline_s"] / row["ours_s"]
    assert result["machine"]["torch"]


def test_targets_apply_to_the_rows_the_issue_names() -> None:
    def row(group: str, name: str, shape: str, ours_s: float) -> Row:
        return Row(group, name, shape, 100, ours_s, "nn.X", 1.0)

    checks = targets(
        [
            row("lstm_gru", "LSTM kernel", "2x650", 1 / 0.95),  # 0.95x: meets 0.9
            row("lstm_gru", "LSTM loop", "2x650", 1 / 0.65),  # 0.65x: misses 0.7
            row("lstm_gru", "LSTM kernel + WeightDrop", "2x650", 10.0),  # measured, no target
            row("qrnn", "QRNN", "batch 8, T 32", 10.0),  # T < 128: no target
            row("qrnn", "QRNN", "batch 8, T 128", 0.5),
            row("sliced", "SlicedRNN", "batch 32, T 512", 10.0),  # T < 1024: no target
            row("sliced", "SlicedRNN", "batch 32, T 1024", 2.0),
        ]
    )
    assert [(c["needed"], c["met"]) for c in checks] == [(0.9, True), (0.7, False), (1.0, True), (1.0, False)]
