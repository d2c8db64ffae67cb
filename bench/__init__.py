"""Benchmarks of the shared cells and of the papers' speed claims (``make bench``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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
