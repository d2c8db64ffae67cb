"""The ConvS2S benchmark runs end to end (tiny shapes: no speed claim)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.convs2s import QUICK, Row, main, table


def test_quick_bench_times_both_models_training_and_every_beam(tmp_path: Path) -> None:
    out, md = tmp_path / "convs2s.json", tmp_path / "convs2s.md"
    assert main(["--quick", "--out", str(out), "--table", str(md)]) == 0
    rows = json.loads(out.read_text())["rows"]
    expected = {(m, "train", None) for m in ("convs2s", "gru")}
    expected |= {(m, "generate", b) for m in ("convs2s", "gru") for b in QUICK.beams}
    assert {(r["model"], r["measure"], r["beam"]) for r in rows} == expected
    assert all(r["seconds"] > 0 and r["per_s"] == r["units"] / r["seconds"] for r in rows)
    assert "| generation, beam 1 | sentences/s |" in md.read_text()


def test_the_table_gives_convs2s_rate_over_the_grus() -> None:
    rows = [Row("convs2s", "train", None, 1.0, 100), Row("gru", "train", None, 2.0, 100)]
    assert table(rows).splitlines()[-1] == "| training step | target tokens/s | 100.0 | 50.0 | 2.00 |"
