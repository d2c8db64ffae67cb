"""Pretrained word vectors that cannot be distributed with the project: "bring your own data",
read from ``external/<name>/<file>`` (:func:`shared.data.external.external_root`) like the
corpora of :mod:`shared.data.external`; a missing file is an error naming it and its source.

The format is GloVe's: one word and its vector per line, separated by spaces.
"""

from __future__ import annotations

from pathlib import Path

import torch

from shared.data.checksums import DataError
from shared.data.external import external_root

#: name -> (file under external/<name>/, where it comes from)
WORD_VECTORS = {
    "glove_840b": (
        "glove.840B.300d.txt",
        "GloVe Common Crawl 840B tokens, 2.2M cased words, 300-d (Pennington et al. 2014; "
        "https://nlp.stanford.edu/projects/glove/, glove.840B.300d.zip, unzipped), the vectors Tai et al. (2015) use",
    ),
}


def word_vectors_path(name: str, root: Path | None = None) -> Path:
    """Where the vectors ``name`` go: ``<external root>/<name>/<file>``."""
    if name not in WORD_VECTORS:
        raise DataError(f"unknown word vectors {name!r} (known: {', '.join(sorted(WORD_VECTORS))})")
    return (root or external_root()) / name / WORD_VECTORS[name][0]


def load_word_vectors(name: str, vocab: list[str], size: int, path: Path | None = None) -> dict[int, torch.Tensor]:
    """``{index in vocab: vector}`` for every word of ``vocab`` that the vectors ``name`` (read
    from ``path``, default :func:`word_vectors_path`) have. A missing file is a DataError naming it
    and where the vectors come from; a line that is not a word and ``size`` numbers, one naming
    the line."""
    path = path or word_vectors_path(name)
    source = WORD_VECTORS[name][1]
    if not path.is_file():
        raise DataError(
            f"the {name} word vectors are not distributed with this project. Provide {path} yourself: {source}"
        )
    wanted = {word: i for i, word in enumerate(vocab)}
    found: dict[int, torch.Tensor] = {}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            # The word is everything before the last `size` fields (a few GloVe words hold spaces).
            fields = line.rstrip("\n").rsplit(" ", size)
            if len(fields) != size + 1:
                raise DataError(f"{path} line {number}: expected a word and {size} numbers (is it {source}?)")
            row = wanted.get(fields[0])
            if row is not None and row not in found:
                found[row] = torch.tensor([float(v) for v in fields[1:]])
    return found
