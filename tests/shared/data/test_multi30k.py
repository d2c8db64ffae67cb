"""Multi30k preparation and loading, and the bring-your-own parallel corpora."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared.data import multi30k
from shared.data.checksums import DataError
from shared.data.external import load_parallel_text


def test_build_vocab_orders_by_frequency_after_the_specials() -> None:
    vocab = multi30k.build_vocab(["b a c", "a b", "a"])
    assert vocab == ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c"]


def test_prepared_multi30k_has_the_published_split_sizes(prepared_data: Path) -> None:
    data = multi30k.load("en", "de", vocab_size=1000)
    assert [len(data[f"{s}_src"]) for s in ("train", "valid", "test")] == [29_000, 1_014, 1_000]
    assert len(data["vocab_src"]) == len(data["vocab_tgt"]) == 1000
    assert all(int(ids.max()) < 1000 for ids in data["train_tgt"])
    # Rare words became <unk>; the references keep them (BLEU is against the real text).
    assert sum(int((ids == multi30k.UNK).sum()) for ids in data["test_tgt"]) > 0
    assert data["test_ref"][0] == "ein mann mit einem orangefarbenen hut , der etwas anstarrt ."
    assert len(multi30k.load("de", "en")["vocab_src"]) == 18_726  # every German training word


def test_bad_multi30k_requests_are_clear_errors(prepared_data: Path) -> None:
    with pytest.raises(DataError, match="no language 'fr'"):
        multi30k.load("en", "fr")
    with pytest.raises(DataError, match="both 'en'"):
        multi30k.load("en", "en")
    with pytest.raises(DataError, match="vocab_size 4 leaves no room"):
        multi30k.load("en", "de", vocab_size=4)


def test_parallel_text_from_user_files(tmp_path: Path) -> None:
    folder = tmp_path / "wmt14_en_fr"
    with pytest.raises(DataError, match=r"Provide .*wmt14_en_fr/train\.en, .*wmt14_en_fr/test\.fr yourself"):
        load_parallel_text("wmt14_en_fr", "en", "fr", None, root=tmp_path)
    folder.mkdir()
    for split in ("train", "valid", "test"):
        (folder / f"{split}.en").write_text("the cat\nthe dog\n")
        (folder / f"{split}.fr").write_text("le chat\nle chien\n")
    data = load_parallel_text("wmt14_en_fr", "en", "fr", 6, root=tmp_path)
    assert data["vocab_tgt"] == ["<pad>", "<unk>", "<bos>", "<eos>", "le", "chat"]
    assert torch.equal(data["test_tgt"][1], torch.tensor([4, multi30k.UNK]))
    assert data["test_ref"] == ["le chat", "le chien"]
    (folder / "valid.fr").write_text("le chat\n")
    with pytest.raises(DataError, match="valid: 2 en lines but 1 fr lines"):
        load_parallel_text("wmt14_en_fr", "en", "fr", None, root=tmp_path)
