"""The Tree-LSTM benchmark runs end to end (tiny shapes: no speed claim)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.tree_lstm import Row, main, table


def test_quick_bench_times_both_models_both_schedules_and_both_kinds_of_work(tmp_path: Path, trees_data) -> None:
    out = tmp_path / "tree_lstm.json"
    assert main(["--quick", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {(r["model"], r["work"], r["schedule"]) for r in rows} == {
        (m, w, s)
        for m in ("constituency", "dependency")
        for w in ("forward", "train")
        for s in ("by_height", "node_by_node")
    }
    assert all(r["seconds"] > 0 and r["trees_per_s"] == r["batch"] / r["seconds"] for r in rows)


def test_the_table_gives_trees_per_second_and_the_speed_up() -> None:
    rows = [Row("constituency", "SST train", 25, "train", s, t) for s, t in (("by_height", 0.5), ("node_by_node", 5.0))]
    assert table(rows).splitlines()[-1] == "| constituency | SST train | 25 | train | 50.0 | 5.0 | 10.0x |"
