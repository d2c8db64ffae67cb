"""Verification of raw dataset files against the sha256 sums recorded in their ``SOURCE.md``.

Every ``data/<dataset>/SOURCE.md`` has a ``## Files`` section holding a markdown table; the
column headed ``file`` names each raw file and the column headed exactly ``sha256`` holds the
sha256 of the file as stored (compressed, where it is compressed):

    ## Files (gzip -9n of the original text)
    | file | bytes | sha256 | uncompressed bytes | uncompressed sha256 | ... |
    |---|---|---|---|---|---|
    | ptb.test.txt.gz | 149201 | 5015d2... | 449945 | dd65df... | ... |
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

_FETCH_HINT = "run `dvc pull` (or `make setup`)"
# Not `dvc checkout data.dvc` alone: a `dvc repro` after the corruption re-hashes data.dvc to the
# corrupt content, and DVC refuses to overwrite content it has not cached (shared/data/restore.py).
_RESTORE_HINT = (
    "restore the committed data with `make restore-data` (deletes the files failing this check, then "
    "`git checkout data.dvc && dvc checkout data.dvc`)"
)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SEPARATOR = re.compile(r":?-+:?")  # a cell of the |---| row under the header


class DataError(RuntimeError):
    """Raw or prepared data is missing or wrong; the message says how to restore it."""


def expect_equal(what: str, actual: Any, expected: Any) -> None:
    """Raise :class:`DataError` unless ``actual == expected``; ``what`` names the quantity."""
    if actual != expected:
        raise DataError(f"{what}: expected {expected!r}, got {actual!r}")


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in chunks (the files go up to tens of MB)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def expected_sha256(dataset_dir: Path) -> dict[str, str]:
    """File name -> sha256, read from the ``## Files`` table of ``<dataset_dir>/SOURCE.md``."""
    source = Path(dataset_dir) / "SOURCE.md"
    if not source.is_file():
        raise DataError(f"{source} not found: the raw data has not been fetched; {_FETCH_HINT}")
    lines = source.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("## Files")), None)
    if start is None:
        raise DataError(f"{source}: no `## Files` section")
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            table.append(_cells(line))
        elif table or line.startswith("#"):
            break
    header = table[0] if table else []
    if "file" not in header or "sha256" not in header:
        raise DataError(f"{source}: the `## Files` table needs columns `file` and `sha256`")
    file_col, sha_col = header.index("file"), header.index("sha256")
    sums = {}
    for row in table[1:]:
        if all(_SEPARATOR.fullmatch(cell) for cell in row):
            continue
        if len(row) != len(header) or not _SHA256.fullmatch(row[sha_col]):
            raise DataError(f"{source}: malformed `## Files` row {'|'.join(row)!r}")
        sums[row[file_col]] = row[sha_col]
    if not sums:
        raise DataError(f"{source}: the `## Files` table is empty")
    return sums


def verify_dataset(dataset_dir: Path, files: list[str] | None = None) -> None:
    """Check ``files`` (default: every file in the table) against ``SOURCE.md``.

    All files are checked before raising, so one :class:`DataError` lists every problem.
    """
    dataset_dir = Path(dataset_dir)
    sums = expected_sha256(dataset_dir)
    problems = []
    for name in sums if files is None else files:
        if name not in sums:
            raise DataError(f"{dataset_dir / 'SOURCE.md'}: no sha256 recorded for {name!r}")
        path = dataset_dir / name
        if not path.is_file():
            problems.append(
                f"{path} is missing (expected sha256 {sums[name]}); {_FETCH_HINT} to fetch it"
            )
            continue
        actual = sha256_file(path)
        if actual != sums[name]:
            problems.append(
                f"{path} has sha256 {actual}, expected {sums[name]}: the file is corrupt or was "
                f"modified; {_RESTORE_HINT}"
            )
    if problems:
        raise DataError("raw data failed verification:\n  " + "\n  ".join(problems))
