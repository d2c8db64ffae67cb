"""Command line of the DVC stage ``prepare@<dataset>``: verify raw data and write prepared files.

    python -m shared.data.prepare <dataset> [--raw data] [--out prepared]

reads ``<raw>/<dataset>/`` and writes ``<out>/<dataset>/*.pt``. A :class:`DataError` (missing or
corrupt raw data) is printed as ``error: <message>`` with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from shared.core.paths import REPO_ROOT
from shared.data import (
    fsdd,
    imdb,
    mnist,
    multi30k,
    polyphonic_music,
    propositional_logic,
    ptb,
    sick,
    sst,
    wikitext2,
    wsj_sample,
)
from shared.data.checksums import DataError
from shared.data.prepared import prepared_root

PREPARERS: dict[str, Callable[[Path, Path], list[Path]]] = {
    "polyphonic_music": polyphonic_music.prepare,
    "mnist": mnist.prepare,
    "ptb_char": ptb.prepare_char,
    "ptb_word": ptb.prepare_word,
    "multi30k": multi30k.prepare,
    "wsj_sample": wsj_sample.prepare,
    "wikitext2": wikitext2.prepare,
    # generated, no raw data (root dvc.yaml: generate@<dataset>)
    "propositional_logic": propositional_logic.prepare,
    "imdb": imdb.prepare,
    "fsdd": fsdd.prepare,
    "sst": sst.prepare,
    "sick": sick.prepare,
}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.data.prepare",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("dataset", choices=sorted(PREPARERS))
    parser.add_argument("--raw", type=Path, default=REPO_ROOT / "data", help="raw data root")
    parser.add_argument("--out", type=Path, default=None, help="prepared data root (default: prepared/)")
    args = parser.parse_args(argv)
    try:
        written = PREPARERS[args.dataset](args.raw / args.dataset, (args.out or prepared_root()) / args.dataset)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
