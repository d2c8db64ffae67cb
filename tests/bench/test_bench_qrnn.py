"""The QRNN speed benchmark runs end to end and writes its grid next to the paper's (tiny shapes:
no speed claim)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.qrnn import FULL_LENGTHS, PAPER_GRID, LayerRow, default_paths, grid, main, markdown


@pytest.mark.slow
def test_quick_bench_writes_the_layer_grid_and_the_lm_rows(tmp_path: Path) -> None:
    out, table = tmp_path / "qrnn.json", tmp_path / "qrnn.md"
    assert main(["--quick", "--out", str(out), "--table", str(table)]) == 0
    result = json.loads(out.read_text())
    assert {(r["batch"], r["length"], r["mode"]) for r in result["layer"]} == {
        (b, t, m) for b in (2, 4) for t in (8, 32) for m in ("forward", "forward+backward")
    }
    for row in result["layer"]:
        assert row["speedup"] == row["lstm_s"] / row["qrnn_s"] > 0
    assert [r["name"] for r in result["lm_step"]][0].startswith("QRNN LM")
    assert all(r["tokens_per_s"] > 0 for r in result["lm_step"])
    assert [r["name"].split(",")[1] for r in result["imdb_step"]] == [" 4 dense QRNN layers", " 4 dense LSTM layers"]
    assert all(r["seconds"] > 0 and r["shape"].startswith("4x8,") for r in result["imdb_step"])
    assert "| batch |" in table.read_text()


def test_the_table_puts_the_papers_gpu_number_beside_ours() -> None:
    rows = [LayerRow(8, 512, "forward", 1.0, 2.0), LayerRow(8, 512, "forward+backward", 1.0, 3.0)]
    text = markdown(rows, [], {"processor": "cpu", "threads": 1, "torch": "x"})
    assert "| 8 | **2.00 / 3.00**; *16.9* |" in text
    assert PAPER_GRID[8][FULL_LENGTHS.index(512)] == 16.9  # Fig. 4: batch 8, length 512


def test_the_full_grid_is_the_papers_and_the_default_a_subset_of_it() -> None:
    batches, lengths, hidden = grid(quick=False, full=True)
    assert (batches, lengths, hidden) == (tuple(PAPER_GRID), FULL_LENGTHS, 320)
    quick_batches, quick_lengths, _ = grid(quick=False, full=False)
    assert set(quick_batches) < set(batches) and set(quick_lengths) < set(lengths)


def test_a_gpu_grid_is_labelled_and_written_beside_the_cpu_one() -> None:
    rows = [LayerRow(8, 512, "forward", 1.0, 2.0), LayerRow(8, 512, "forward+backward", 1.0, 3.0)]
    info = {"processor": "cpu", "threads": 1, "torch": "x", "gpu": "NVIDIA H200", "cudnn": 91000}
    text = markdown(rows, [], info)
    assert "ours on this GPU" in text and "NVIDIA H200 (cuDNN 91000" in text
    assert [p.name for p in default_paths(full=True, device="cuda")] == [
        "qrnn_results_full_cuda.json",
        "qrnn_speed_full_cuda.md",
    ]
    assert [p.name for p in default_paths(full=False, device="cpu")] == ["qrnn_results.json", "qrnn_speed.md"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where there is no GPU")
def test_cuda_without_a_gpu_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--quick", "--device", "cuda"])
    assert "--device cuda: torch sees no CUDA device here" in capsys.readouterr().err
