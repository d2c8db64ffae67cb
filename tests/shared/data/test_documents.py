"""Bring-your-own document corpora (Yelp 2013 for the Sliced RNN): a missing or malformed csv is a
clear error naming the file; a small csv is tokenised as Keras' Tokenizer, split 80/10/10 after the
script's numpy shuffle (seed 2018), and served by the text-classification task with five classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shared.data.checksums import DataError
from shared.data.documents import DOCUMENT_SPLIT_SEED, keras_words, load_documents
from shared.tasks.text_classification import TextClassification


def write_csv(root: Path, rows: list[tuple[str, str]], header: str = "stars,text") -> None:
    folder = root / "yelp_2013"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [header] + [f'{stars},"{text}"' for stars, text in rows]
    (folder / "yelp_2013.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_keras_tokenisation() -> None:
    assert keras_words("Great food!! The staff's 5-star, (really).\tBack\nsoon") == [
        "great", "food", "the", "staff's", "5", "star", "really", "back", "soon"
    ]  # fmt: skip


def test_a_missing_corpus_names_the_file_to_provide(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"Provide .*yelp_2013/yelp_2013\.csv yourself: Yelp 2013 .*figshare"):
        load_documents("yelp_2013", tmp_path)
    write_csv(tmp_path, [("5", "good")], header="rating,review")
    with pytest.raises(DataError, match="expected a header with the columns stars and text"):
        load_documents("yelp_2013", tmp_path)
    with pytest.raises(DataError, match="unknown external document corpus"):
        load_documents("yelp_2099", tmp_path)


def test_the_scripts_split_vocabulary_and_labels(tmp_path: Path) -> None:
    texts = [f"word{i} common, shared{i % 3}!" for i in range(20)]
    texts[7] = "..."  # no word: one <pad>, as Keras pads it to zeros
    stars = [str(1 + i % 5) for i in range(20)]
    write_csv(tmp_path, list(zip(stars, texts, strict=True)))
    data = load_documents("yelp_2013", tmp_path)
    order = np.arange(20)
    np.random.seed(DOCUMENT_SPLIT_SEED)
    np.random.shuffle(order)
    expected = {"train": order[:16], "valid": order[16:18], "test": order[18:]}  # 80 / 10 / 10
    assert data["vocab"][:3] == ["<pad>", "<unk>", "common"]  # most frequent after the specials
    assert data["vocab"][3:6] == ["shared0", "shared1", "shared2"]  # ties: first appearance
    assert data["num_classes"] == 5
    for split, members in expected.items():
        assert data[f"{split}_labels"].tolist() == [i % 5 for i in members]
        docs = data[f"{split}_tokens"].split(data[f"{split}_lengths"].tolist())
        for i, doc in zip(members, docs, strict=True):
            words = [data["vocab"][t] for t in doc.tolist()]
            assert words == (["<pad>"] if i == 7 else [f"word{i}", "common", f"shared{i % 3}"])


def test_the_task_serves_the_corpus_with_five_classes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.data.external import EXTERNAL_ENV

    write_csv(tmp_path, [(str(1 + i % 5), f"w{i} x y") for i in range(30)])
    monkeypatch.setenv(EXTERNAL_ENV, str(tmp_path))
    task = TextClassification("yelp_2013", 4, torch.device("cpu"), max_len=2, vocab_size=10)
    assert task.num_classes == 5 and task.vocab_size == 10
    assert [len(task.reviews[s]) for s in ("train", "valid", "test")] == [24, 3, 3]
    assert all(len(r) <= 2 and int(r.max()) < 10 for r in task.reviews["train"])
