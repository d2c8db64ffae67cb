"""Multi30k, Task 1 (Elliott et al. 2016): 31,014 English image descriptions with German
translations, in the common split train 29,000 / val 1,014 / test_2016_flickr 1,000.

Raw: ``data/multi30k/tok/<split>.lc.norm.tok.<lang>.gz``, the dataset's own lower-cased,
punctuation-normalised, Moses-tokenized text (see its ``SOURCE.md``); one sentence per line,
tokens separated by spaces.

Prepared: ``prepared/multi30k/multi30k.pt``, for each language ``l`` in :data:`LANGUAGES`:

* ``vocab_<l>``: the specials :data:`SPECIALS` then every training word, most frequent first
  (ties alphabetical), so that the first ``n`` entries are the ``n - 4`` most frequent words;
* ``<split>_<l>``: one int64 tensor of token ids per sentence (no ``<bos>``/``<eos>``); words
  absent from the training text are ``<unk>``;
* ``<split>_<l>_text``: the tokenized sentences as strings (the BLEU references).

:func:`load` cuts each vocabulary to a size (the rest becomes ``<unk>``, as Cho et al. keep
their 15,000 most frequent words).
"""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import torch

from shared.data.checksums import DataError, expect_equal, verify_dataset
from shared.data.prepared import load_prepared, save_prepared

DATASET = "multi30k"
LANGUAGES = ("en", "de")
SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr"}
SENTENCES = {"train": 29_000, "valid": 1_014, "test": 1_000}
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(4)


def _read(raw_dir: Path, split: str, lang: str) -> list[str]:
    path = raw_dir / "tok" / f"{SPLITS[split]}.lc.norm.tok.{lang}.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [" ".join(line.split()) for line in f.read().splitlines()]


def build_vocab(sentences: list[str]) -> list[str]:
    """:data:`SPECIALS` then the words of ``sentences``, most frequent first, ties alphabetical."""
    counts = Counter(word for sentence in sentences for word in sentence.split())
    return list(SPECIALS) + sorted(counts, key=lambda w: (-counts[w], w))


def prepare(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify the tokenized files, build the vocabularies and write ``<out_dir>/multi30k.pt``."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    files = [f"tok/{SPLITS[s]}.lc.norm.tok.{lang}.gz" for s in SPLITS for lang in LANGUAGES]
    verify_dataset(raw_dir, files)
    prepared: dict = {}
    for lang in LANGUAGES:
        text = {split: _read(raw_dir, split, lang) for split in SPLITS}
        for split, sentences in text.items():
            expect_equal(f"multi30k {split}.{lang}: sentences", len(sentences), SENTENCES[split])
        vocab = build_vocab(text["train"])
        index = {word: i for i, word in enumerate(vocab)}
        prepared[f"vocab_{lang}"] = vocab
        for split, sentences in text.items():
            prepared[f"{split}_{lang}"] = [
                torch.tensor([index.get(w, UNK) for w in s.split()], dtype=torch.int64) for s in sentences
            ]
            prepared[f"{split}_{lang}_text"] = sentences
    path = out_dir / "multi30k.pt"
    save_prepared(prepared, path)
    return [path]


def load(
    source: str, target: str, vocab_size: int | None = None, root: Path | str | None = None
) -> dict:
    """``{"vocab_src", "vocab_tgt": [...], "<split>_src", "<split>_tgt": [ids], "<split>_src_text",
    "<split>_tgt_text", "<split>_ref": [sentences]}``, with ids ``>= vocab_size`` (rarer words)
    mapped to ``<unk>``; the reference is the target text."""
    for lang in (source, target):
        if lang not in LANGUAGES:
            raise DataError(f"multi30k has no language {lang!r}; choose from {', '.join(LANGUAGES)}")
    if source == target:
        raise DataError(f"multi30k: source and target are both {source!r}")
    if vocab_size is not None and vocab_size <= len(SPECIALS):
        raise DataError(f"multi30k: vocab_size {vocab_size} leaves no room for words beyond {SPECIALS}")
    data = load_prepared(DATASET, DATASET, root)
    out: dict = {}
    for side, lang in (("src", source), ("tgt", target)):
        vocab = data[f"vocab_{lang}"][:vocab_size]
        out[f"vocab_{side}"] = vocab
        for split in SPLITS:
            out[f"{split}_{side}"] = [ids.masked_fill(ids >= len(vocab), UNK) for ids in data[f"{split}_{lang}"]]
        for split in SPLITS:
            out[f"{split}_{side}_text"] = data[f"{split}_{lang}_text"]
    for split in SPLITS:
        out[f"{split}_ref"] = data[f"{split}_{target}_text"]
    return out
