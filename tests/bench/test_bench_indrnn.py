"""The IndRNN training-step benchmark runs end to end (tiny shapes: no speed claim)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.indrnn import main


def test_quick_bench_times_both_networks_against_both_plain_rnns(tmp_path: Path) -> None:
    out = tmp_path / "indrnn.json"
    assert main(["--quick", "--out", str(out), "--min-run-time", "0.01"]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["group"], r["baseline"]) for r in rows] == [
        ("mnist", "RNN kernel"),
        ("mnist", "RNN loop"),
        ("adding", "RNN kernel"),
        ("adding", "RNN loop"),
    ]
    for row in rows:
        assert row["ours_s"] > 0 and row["baseline_s"] > 0 and row["ratio"] == row["baseline_s"] / row["ours_s"]
