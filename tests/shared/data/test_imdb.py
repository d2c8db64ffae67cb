"""IMDb preparation: tokenisation, the vocabulary from the training reviews only, the held-out
validation split and the published split sizes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from shared.data import imdb


def test_tokenise_lowercases_drops_line_breaks_and_splits_punctuation() -> None:
    text = "Don't watch it!<br /><br />A 10/10... NOT.  Café"
    assert imdb.tokenise(text) == ["don't", "watch", "it", "!", "a", "10", "/", "10", ".", ".", ".", "not", ".", "café"]


def test_vocabulary_keeps_words_seen_twice_most_frequent_first_after_the_specials() -> None:
    vocab = imdb.vocabulary([["b", "a", "c", "a"], ["b", "a", "d"]], min_count=2)
    assert vocab == ["<pad>", "<unk>", "a", "b"]


def test_prepared_imdb_has_the_published_sizes_and_a_train_only_vocabulary(prepared_data: Path) -> None:
    data = imdb.load()
    sizes = {s: len(data[f"{s}_labels"]) for s in imdb.SPLITS}
    assert sizes == {"train": 22_500, "valid": 2_500, "test": 25_000}
    assert int(data["test_labels"].sum()) == 12_500
    for split in imdb.SPLITS:
        assert int(data[f"{split}_lengths"].sum()) == len(data[f"{split}_tokens"])
        assert all(f"aclImdb/{'test' if split == 'test' else 'train'}/" in f for f in data[f"{split}_files"])
    assert not set(data["train_files"]) & set(data["valid_files"])
    # Stored in random order: a prefix (a smoke profile's limit) holds both labels.
    assert 0.3 < data["train_labels"][:100].float().mean() < 0.7
    vocab = data["vocab"]
    assert vocab[:2] == ["<pad>", "<unk>"] and len(vocab) == 47_969
    counts = Counter(data["train_tokens"].tolist())
    assert min(counts[i] for i in range(2, len(vocab))) >= imdb.MIN_COUNT  # every word seen twice in train
    assert counts[0] == 0  # no <pad> inside a review
    # A word frequent only in the held-out reviews is not in the vocabulary: valid has <unk>s.
    assert int((data["valid_tokens"] == 1).sum()) > 0
    assert data["train_tokens"].dtype == torch.int32
