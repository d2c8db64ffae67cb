"""Benchmarks of the shared cells and of the papers' speed claims (``make bench``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch


def write_json(path: Path, result: dict[str, Any]) -> None:
    """Write a benchmark's ``result`` to ``path``, its folder made if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def publish(path: Path, rows: list[dict[str, Any]], shown: str, **fields: Any) -> None:
    """Write ``{"machine": ..., **fields, "rows": rows}`` to ``path`` and print ``shown`` (the
    benchmark's table) and where the numbers went."""
    from shared.run.provenance import machine

    write_json(path, {"machine": machine(), **fields, "rows": rows})
    print(shown)
    print(f"wrote {path}")


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """``--device {cpu,cuda}``: where a benchmark's models run (on CUDA torch's RNN layers are cuDNN's)."""
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where the models run (cuda: the papers' setting; torch.nn's recurrent layers are cuDNN's)",
    )


def device_info(parser: argparse.ArgumentParser, device: str) -> dict[str, Any]:
    """Check that ``device`` exists (a parser error naming it otherwise) and describe it for the
    results; on CUDA, switch TF32 off so both sides of a comparison compute in full float32, as
    the papers' GPUs (before Ampere) did."""
    if device == "cpu":
        return {}
    if not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device here")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    return {"gpu": torch.cuda.get_device_name(), "cudnn": torch.backends.cudnn.version()}


def device_suffix(device: str) -> str:
    """``_cuda`` for results measured on a GPU, so they sit beside the CPU ones, not over them."""
    return "_cuda" if device == "cuda" else ""


def machine_line(info: dict[str, Any]) -> str:
    """The 'Machine: ...' line of a benchmark's markdown table."""
    line = f"Machine: {info['processor']}, {info['threads']} thread(s), torch {info['torch']}"
    if "gpu" in info:
        line += f"; on {info['gpu']} (cuDNN {info['cudnn']}, float32, TF32 off)"
    return line
