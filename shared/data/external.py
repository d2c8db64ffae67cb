"""Corpora that cannot be distributed with the project: "bring your own data".

A paper profile that needs one of these (text8, WikiText-103, LAMBADA) reads plain-text splits
from ``data/external/<name>/{train,valid,test}.txt``. When a file is missing the error names every
file to provide, where to put it, and where the corpus comes from.
"""

from __future__ import annotations

from pathlib import Path

import torch

from shared.data.checksums import DataError

EXTERNAL_ROOT = Path("data/external")

SOURCES = {
    "text8": "Mahoney's text8 (http://mattmahoney.net/dc/text8.zip), split 90M/5M/5M characters "
    "as in Mikolov et al. 2012",
    "wikitext103": "WikiText-103 v1, tokenized (wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens), "
    "renamed to train/valid/test.txt",
    "lambada": "LAMBADA (Paperno et al. 2016): the training novels as train.txt, "
    "lambada_development_plain_text.txt as valid.txt, lambada_test_plain_text.txt as test.txt",
}

SPLITS = ("train", "valid", "test")


def require_files(name: str, root: Path = EXTERNAL_ROOT) -> dict[str, Path]:
    """The split files of corpus ``name``; raises DataError naming what is missing and where."""
    if name not in SOURCES:
        raise DataError(f"unknown external corpus {name!r} (known: {', '.join(sorted(SOURCES))})")
    paths = {split: root / name / f"{split}.txt" for split in SPLITS}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise DataError(
            f"the {name} corpus is not distributed with this project (no redistributable copy could be "
            f"obtained). Provide {', '.join(missing)} yourself: {SOURCES[name]}."
        )
    return paths


def tokenize(text: str, char_level: bool) -> list[str]:
    """Words plus ``<eos>`` per line; or characters, with ``_`` for a space (PTB-char's convention)."""
    tokens: list[str] = []
    for line in text.splitlines():
        tokens.extend(list(line.strip().replace(" ", "_")) if char_level else line.split())
        tokens.append("<eos>")
    return tokens


def load_text_corpus(name: str, char_level: bool, root: Path = EXTERNAL_ROOT) -> dict:
    """``{"vocab": [...], "train"/"valid"/"test": int64 ids}`` from the user's files."""
    paths = require_files(name, root)
    vocab: dict[str, int] = {}
    corpus: dict = {}
    for split in SPLITS:
        tokens = tokenize(paths[split].read_text(encoding="utf-8"), char_level)
        if split == "train":
            for token in tokens:
                vocab.setdefault(token, len(vocab))
        unknown = vocab.get("<unk>")
        ids = [vocab.get(t, unknown) for t in tokens]
        if None in ids:
            raise DataError(f"{paths[split]}: tokens missing from the training vocabulary and no <unk> token")
        corpus[split] = torch.tensor(ids, dtype=torch.int64)
    corpus["vocab"] = list(vocab)
    return corpus
