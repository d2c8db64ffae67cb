"""``make restore-data``: put back the committed raw data after a file was corrupted.

    python -m shared.data.restore [data]

deletes every raw file whose sha256 differs from the one its ``SOURCE.md`` records, and nothing
else; ``make restore-data`` then runs ``git checkout data.dvc`` (a ``dvc repro`` or ``dvc commit``
after the corruption re-hashes ``data.dvc`` to the corrupt content) and ``dvc checkout data.dvc``,
which brings the deleted files back from the DVC cache. The deletion is what makes that checkout
work without ``--force``: DVC refuses to overwrite a file whose content it has not cached, and
``--force`` would also delete every file in ``data/`` that DVC does not track (a user's own).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.core.paths import REPO_ROOT
from shared.data.checksums import DataError, expected_sha256, sha256_file


def remove_corrupt(raw_root: Path) -> list[Path]:
    """Delete the files of every ``<raw_root>/<dataset>/`` that fail their ``SOURCE.md`` sha256;
    return them. Missing files, and files ``SOURCE.md`` does not list, are left alone."""
    removed = []
    for source in sorted(Path(raw_root).glob("*/SOURCE.md")):
        for name, expected in expected_sha256(source.parent).items():
            path = source.parent / name
            if path.is_file() and sha256_file(path) != expected:
                path.unlink()
                removed.append(path)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.data.restore", description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="?", type=Path, default=REPO_ROOT / "data", help="raw data root (default: data/)")
    args = parser.parse_args(argv)
    try:
        removed = remove_corrupt(args.raw)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in removed:
        print(f"removed {path} (sha256 differs from its SOURCE.md; dvc checkout restores it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
