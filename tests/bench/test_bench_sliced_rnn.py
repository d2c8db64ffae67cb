"""The Sliced RNN benchmark runs end to end (tiny shapes: no speed claim), picks the slicings the
issue names, and its table gives the GRU's time over the SRNN's with the chain of sequential steps."""

from __future__ import annotations

import json
from pathlib import Path

from bench.sliced_rnn import SWEEP, Row, main, slicings, table


def test_quick_bench_times_both_groups(tmp_path: Path) -> None:
    out, md = tmp_path / "sliced.json", tmp_path / "sliced.md"
    assert main(["--quick", "--out", str(out), "--table", str(md)]) == 0
    result = json.loads(out.read_text())
    assert result["quick"] is True
    assert {(r["group"], r["length"], r["model"]) for r in result["rows"]} == {
        ("document", 16, "GRU"),
        ("document", 16, "SRNN(2,2)"),
        *(("length", t, m) for t in (64, 128) for m in ("GRU", "SRNN(8,2)")),
    }
    assert all(r["seconds"] > 0 for r in result["rows"])
    assert "QUICK" in md.read_text()


def test_every_length_of_the_sweep_is_sliced_exactly() -> None:
    assert slicings(512) == [(8, 2)]  # the script's SRNN(8, 2): minimal subsequences of 8 words
    assert slicings(784) == [(7, 2)] and slicings(5000) == [(10, 2)]  # issue 14's T = 784 and 5,000
    assert slicings(4096) == [(8, 2), (8, 3)] and slicings(32768) == [(8, 2), (8, 4)]
    for length in SWEEP:
        assert all(length % n**k == 0 for n, k in slicings(length)), length


def test_the_table_gives_the_grus_time_over_the_srnns() -> None:
    rows = [Row("length", 4096, 16, "GRU", 8.0), Row("length", 4096, 16, "SRNN(8,3)", 2.0)]
    assert table(rows).splitlines()[-1] == "| length | 4096 | 16 | SRNN(8,3) | 32 of 4096 | 8.000 | 2.000 | 4.00 |"
