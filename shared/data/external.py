"""Corpora that cannot be distributed with the project: "bring your own data".

A paper profile that needs one of these (text8, WikiText-103, LAMBADA) reads plain-text splits
from ``external/<name>/{train,valid,test}.txt`` at the repository root. When a file is missing the
error names every file to provide, where to put it, and where the corpus comes from.

Not under ``data/``: DVC owns that folder (``data.dvc``), so ``dvc pull`` refuses to run beside
files it does not track and ``dvc pull --force`` or ``dvc checkout --force`` deletes them.
``external/`` is git-ignored and no DVC output.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from shared.core.paths import REPO_ROOT
from shared.data.checksums import DataError

#: Where bring-your-own corpora live, whatever the working directory.
EXTERNAL_ROOT = REPO_ROOT / "external"
#: Overrides :data:`EXTERNAL_ROOT` (tests point it at a temporary folder, so that they never read
#: a corpus a user put in the repository).
EXTERNAL_ENV = "SEQREPRO_EXTERNAL"

SOURCES = {
    "text8": "Mahoney's text8 (http://mattmahoney.net/dc/text8.zip), split 90M/5M/5M characters "
    "as in Mikolov et al. 2012",
    "wikitext103": "WikiText-103 v1, tokenized (wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens), "
    "renamed to train/valid/test.txt",
    "lambada": "LAMBADA (Paperno et al. 2016): the training novels as train.txt, "
    "lambada_development_plain_text.txt as valid.txt, lambada_test_plain_text.txt as test.txt",
}

SPLITS = ("train", "valid", "test")


def external_root() -> Path:
    """``$SEQREPRO_EXTERNAL`` if set, else :data:`EXTERNAL_ROOT`."""
    return Path(os.environ.get(EXTERNAL_ENV) or EXTERNAL_ROOT)


def _old_location(name: str, root: Path) -> str:
    """A hint for a corpus still in ``data/external/``, where earlier versions read it from."""
    old = REPO_ROOT / "data" / "external" / name
    if not old.is_dir():
        return ""
    return f" ({old} was the old location, inside DVC's data/: move it with `mkdir -p {root} && mv {old} {root}/`)"


def require_files(name: str, root: Path | None = None) -> dict[str, Path]:
    """The split files of corpus ``name``; raises DataError naming what is missing and where."""
    if name not in SOURCES:
        raise DataError(f"unknown external corpus {name!r} (known: {', '.join(sorted(SOURCES))})")
    root = root or external_root()
    paths = {split: root / name / f"{split}.txt" for split in SPLITS}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise DataError(
            f"the {name} corpus is not distributed with this project (no redistributable copy could be "
            f"obtained). Provide {', '.join(missing)} yourself: {SOURCES[name]}.{_old_location(name, root)}"
        )
    return paths


def _read_text(path: Path, source: str) -> str:
    """One of the user's files as text; an empty or undecodable one (a download cut short, a
    compressed file not unpacked) is a DataError naming it, instead of a crash further on."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path} is not UTF-8 text ({err.reason} at byte {err.start}: cut short, or still compressed?); "
            f"provide it again: {source}"
        ) from err
    if not text.strip():
        raise DataError(f"{path} is empty; provide it again: {source}")
    return text


def tokenize(text: str, char_level: bool) -> list[str]:
    """Words plus ``<eos>`` per line; or characters, with ``_`` for a space (PTB-char's convention)."""
    tokens: list[str] = []
    for line in text.splitlines():
        tokens.extend(list(line.strip().replace(" ", "_")) if char_level else line.split())
        tokens.append("<eos>")
    return tokens


def load_text_corpus(name: str, char_level: bool, root: Path | None = None) -> dict:
    """``{"vocab": [...], "train"/"valid"/"test": int64 ids}`` from the user's files."""
    paths = require_files(name, root)
    vocab: dict[str, int] = {}
    corpus: dict = {}
    for split in SPLITS:
        tokens = tokenize(_read_text(paths[split], SOURCES[name]), char_level)
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


# Parallel corpora for translation: tokenized text, one sentence per line, the two languages'
# files aligned line by line.
PARALLEL_SOURCES = {
    "wmt14_en_fr": "WMT'14 English-French (https://www.statmt.org/wmt14/translation-task.html), tokenized as "
    "you wish (Cho et al. 2014 used Moses' tokenizer): the training data (Cho et al. select 348M words of "
    "Europarl, news commentary, UN, crawled corpora) as train, newstest2012+newstest2013 as valid, "
    "newstest2014 as test",
    "wmt14_en_de": "WMT'14 English-German (https://www.statmt.org/wmt14/translation-task.html), tokenized as "
    "you wish (Gehring et al. 2017 follow Luong et al. 2015: 4.5M pairs of Europarl v7, Common Crawl and News "
    "Commentary v9, Moses-tokenized): the training data as train, newstest2013 as valid, newstest2014 as test",
    "wmt16_en_ro": "WMT'16 English-Romanian (https://www.statmt.org/wmt16/translation-task.html), prepared as "
    "Sennrich et al. 2016 did (Gehring et al. 2017: 2.8M pairs with their back-translated news), tokenized as "
    "you wish: the training data as train, newsdev2016 as valid, newstest2016 as test",
}


def require_parallel_files(name: str, source: str, target: str, root: Path | None = None) -> dict[str, Path]:
    """``{"<split>.<lang>": path}`` of parallel corpus ``name``; raises DataError naming every
    missing file, where to put it and where the corpus comes from."""
    if name not in PARALLEL_SOURCES:
        raise DataError(f"unknown external parallel corpus {name!r} (known: {', '.join(sorted(PARALLEL_SOURCES))})")
    root = root or external_root()
    paths = {f"{split}.{lang}": root / name / f"{split}.{lang}" for split in SPLITS for lang in (source, target)}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise DataError(
            f"the {name} corpus is not distributed with this project (no redistributable copy could be "
            f"obtained). Provide {', '.join(missing)} yourself (one sentence per line, the {source} and {target} "
            f"files aligned line by line): {PARALLEL_SOURCES[name]}.{_old_location(name, root)}"
        )
    return paths


def load_parallel_text(name: str, source: str, target: str, vocab_size: int | None, root: Path | None = None) -> dict:
    """The user's parallel corpus in :func:`shared.data.multi30k.load`'s layout: vocabularies of
    the ``vocab_size`` most frequent training entries (specials included; the rest ``<unk>``),
    id tensors and whitespace-normalised text per sentence, the target text as references."""
    from shared.data.multi30k import UNK, build_vocab

    paths = require_parallel_files(name, source, target, root)
    text = {key: _read_text(path, PARALLEL_SOURCES[name]).splitlines() for key, path in paths.items()}
    for split in SPLITS:
        n_src, n_tgt = len(text[f"{split}.{source}"]), len(text[f"{split}.{target}"])
        if n_src != n_tgt:
            raise DataError(f"{name} {split}: {n_src} {source} lines but {n_tgt} {target} lines (not aligned)")
    out: dict = {}
    for side, lang in (("src", source), ("tgt", target)):
        vocab = build_vocab(text[f"train.{lang}"])[:vocab_size]
        index = {word: i for i, word in enumerate(vocab)}
        out[f"vocab_{side}"] = vocab
        for split in SPLITS:
            out[f"{split}_{side}"] = [
                torch.tensor([index.get(w, UNK) for w in line.split()], dtype=torch.int64)
                for line in text[f"{split}.{lang}"]
            ]
            out[f"{split}_{side}_text"] = [" ".join(line.split()) for line in text[f"{split}.{lang}"]]
    for split in SPLITS:
        out[f"{split}_ref"] = out[f"{split}_tgt_text"]
    return out
