r"""Penn Treebank (Mikolov et al. 2010 preprocessing) for language modelling, word and char level.

Raw: ``data/ptb_word/ptb.{train,valid,test}.txt.gz`` and
``data/ptb_char/ptb.char.{train,valid,test}.txt.gz``, gzipped text, one sentence per line.

Tokenisation is that of the standard LM readers (PyTorch's word_language_model, AWD-LSTM):
every line becomes ``line.split() + ["<eos>"]`` and the vocabulary lists the train tokens in
first-seen order. Valid and test use no token outside the train vocabulary.

The char files end with ``"\n "``: after the last newline comes a "line" holding one space,
which the reader turns into one extra ``<eos>`` per split. It is kept, as AWD-LSTM keeps it, so
token counts and bits per character compare with theirs: train has 5,017,483 tokens, one more
than the 5,017,482 (one ``<eos>`` per newline-terminated line) of ``data/ptb_char/SOURCE.md``.

Prepared: ``prepared/ptb_word/ptb_word.pt`` and ``prepared/ptb_char/ptb_char.pt``, each a dict
``{"vocab": list[str], "train": ..., "valid": ..., "test": ...}`` whose splits are 1-D int64
tensors of indices into ``vocab``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import torch

from shared.data.checksums import DataError, expect_equal, verify_dataset
from shared.data.prepared import load_prepared, save_prepared

SPLITS = ("train", "valid", "test")
EOS = "<eos>"


@dataclass(frozen=True)
class TokenCorpus:
    """A word- or character-level corpus read by :func:`tokenise` (also WikiText-2's layout)."""

    name: str  # the dataset folder, DVC stage suffix and prepared file name
    file_pattern: str
    counts: tuple[int, int, int]  # tokens (train, valid, test), <eos> included; see SOURCE.md
    vocab_size: int


WORD = TokenCorpus("ptb_word", "ptb.{split}.txt.gz", (929_589, 73_760, 82_430), 10_000)
CHAR = TokenCorpus("ptb_char", "ptb.char.{split}.txt.gz", (5_017_483, 393_043, 442_424), 50)


def tokenise(path: Path) -> list[str]:
    """The tokens of a gzipped text file: each line's whitespace-split tokens, then ``<eos>``."""
    tokens = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            tokens.extend(line.split())
            tokens.append(EOS)
    return tokens


def prepare_corpus(level: TokenCorpus, raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify ``raw_dir``, tokenise its splits, check the counts and write ``<out_dir>/<name>.pt``."""
    raw_dir = Path(raw_dir)
    verify_dataset(raw_dir)
    tokens = {split: tokenise(raw_dir / level.file_pattern.format(split=split)) for split in SPLITS}
    index = {token: i for i, token in enumerate(dict.fromkeys(tokens["train"]))}
    for split in ("valid", "test"):
        unknown = set(tokens[split]) - index.keys()
        if unknown:
            raise DataError(f"{level.name} {split}: tokens outside the train vocabulary: {sorted(unknown)[:10]}")
    counts = tuple(len(split_tokens) for split_tokens in tokens.values())
    expect_equal(f"{level.name}: tokens (train, valid, test)", counts, level.counts)
    expect_equal(f"{level.name}: vocabulary size", len(index), level.vocab_size)
    prepared: dict[str, list[str] | torch.Tensor] = {"vocab": list(index)}
    for split, split_tokens in tokens.items():
        prepared[split] = torch.tensor([index[token] for token in split_tokens], dtype=torch.int64)
    path = Path(out_dir) / f"{level.name}.pt"
    save_prepared(prepared, path)
    return [path]


def prepare_word(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify ``data/ptb_word``, tokenise it and write ``<out_dir>/ptb_word.pt``."""
    return prepare_corpus(WORD, raw_dir, out_dir)


def prepare_char(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify ``data/ptb_char``, tokenise it and write ``<out_dir>/ptb_char.pt``."""
    return prepare_corpus(CHAR, raw_dir, out_dir)


def load_word(root: Path | str | None = None) -> dict[str, list[str] | torch.Tensor]:
    """Word-level PTB: ``vocab`` (10,000 words); ``train``, ``valid``, ``test`` int64 ids."""
    return load_prepared(WORD.name, WORD.name, root)


def load_char(root: Path | str | None = None) -> dict[str, list[str] | torch.Tensor]:
    """Char-level PTB: ``vocab`` (50 symbols); ``train``, ``valid``, ``test`` int64 ids."""
    return load_prepared(CHAR.name, CHAR.name, root)
