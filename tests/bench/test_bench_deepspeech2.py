"""The Deep Speech 2 benchmark runs end to end (tiny shapes on random audio: no speed claim)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.deepspeech2 import Row, main, table


def test_quick_bench_measures_training_throughput_and_the_decoding_rtf(tmp_path: Path) -> None:
    out = tmp_path / "ds2.json"
    assert main(["--quick", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["train_audio_s_per_s"] > 0 and row["decode_rtf"] > 0 and row["parameters"] > 0


def test_the_table_has_one_row_per_task() -> None:
    assert table([Row("connected_digits", 281773, 32, 55.25, 0.0123)]).splitlines()[-1] == (
        "| connected_digits | 281,773 | 32 | 55.2 | 0.0123 |"
    )
