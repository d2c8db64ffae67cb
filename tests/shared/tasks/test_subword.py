"""Subword segmentation for translation: a lossless, deterministic segmenter, and a Translation
task that trains on pieces but scores words."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from papers.gru.__main__ import build_model, build_task
from papers.gru.config import DataConfig, ModelConfig, TaskConfig
from shared.core.config import ConfigError, from_dict
from shared.data import multi30k
from shared.data.checksums import DataError
from shared.data.external import EXTERNAL_ENV
from shared.tasks.metrics import corpus_bleu
from shared.tasks.subword import learn_segmenter
from shared.tasks.translation import PAD, Translation
from shared.train.config import TrainConfig
from shared.train.loop import Trainer

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def multi30k_text(prepared_data: Path) -> dict:
    return multi30k.load("en", "de")


def test_bpe_is_deterministic_lossless_and_keeps_the_special_ids(multi30k_text: dict) -> None:
    train = multi30k_text["train_src_text"] + multi30k_text["train_tgt_text"]
    first, second = learn_segmenter(train, "bpe", 4000), learn_segmenter(train, "bpe", 4000)
    assert first.model_proto == second.model_proto  # a resumed run re-learns the same pieces
    assert len(first.pieces) == 4000
    assert tuple(first.pieces[:4]) == multi30k.SPECIALS == ("<pad>", "<unk>", "<bos>", "<eos>")
    test = multi30k_text["test_tgt_text"]
    assert all(first.decode(first.encode(s)) == s for s in test)
    # Subwords: more pieces than words (rare words split), never fewer.
    pieces = sum(len(first.encode(s)) for s in test)
    words = sum(len(s.split()) for s in test)
    assert words < pieces < 2 * words
    assert multi30k.UNK in first.encode("ein mann mit ☃")  # a character never seen in training


def test_bad_segmentation_settings_are_clear_errors(multi30k_text: dict) -> None:
    few = multi30k_text["train_src_text"][:50]
    with pytest.raises(DataError, match=r"cannot learn a bpe segmentation of 5000 entries from 50 sentences.*<= \d+"):
        learn_segmenter(few, "bpe", 5000)
    with pytest.raises(ValueError, match="'wordpiece' is not one of bpe, unigram"):
        learn_segmenter(few, "wordpiece", 100)
    with pytest.raises(ValueError, match="leaves no room beyond the specials"):
        learn_segmenter(few, "bpe", 4)
    with pytest.raises(ValueError, match="needs a vocab_size"):
        Translation("multi30k", 8, CPU, subword="bpe")
    entry = {"data": {"kind": "translation", "dataset": "multi30k", "subword": "bpe-40k"}}
    with pytest.raises(ConfigError, match=r"t\.data: data\.subword: 'bpe-40k' is not one of bpe, unigram"):
        from_dict(TaskConfig, entry, "t")


class _Oracle(torch.nn.Module):
    """Answers every source with its reference's piece ids: what a perfect model would output."""

    def __init__(self, task: Translation, split: str) -> None:
        super().__init__()
        self.answers = {tuple(src.tolist()): tgt.tolist() for src, tgt, _ in task.splits[split]}

    def beam_search(self, src: torch.Tensor, lengths: torch.Tensor, *args: int) -> list[list[int]]:
        return [self.answers[tuple(row[:n].tolist())] for row, n in zip(src, lengths.tolist(), strict=True)]


def test_translation_trains_on_pieces_and_scores_words(multi30k_text: dict) -> None:
    task = Translation("multi30k", 8, CPU, vocab_size=3000, subword="bpe", limit_train=200, limit_eval=40)
    assert task.vocab_src == task.vocab_tgt and len(task.vocab_tgt) == 3000  # one joint vocabulary
    pairs = task.splits["test"]
    words = multi30k_text["test_tgt"][:40]
    assert any(len(tgt) > len(word_ids) for (_, tgt, _), word_ids in zip(pairs, words, strict=True))
    oracle = _Oracle(task, "test")
    hypotheses = task.translate(oracle, [src for src, _, _ in pairs])
    assert hypotheses == [ref for _, _, ref in pairs] == multi30k_text["test_ref"][:40]
    assert corpus_bleu(hypotheses, [ref for _, _, ref in pairs], tokenize="none") == pytest.approx(100.0)


def test_a_user_corpus_segments_with_its_own_training_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "wmt14_en_fr"
    folder.mkdir()
    en = ["the black cat sleeps", "the black dog runs", "a cat and a dog"] * 20
    fr = ["le chat noir a été vu", "le chien noir court", "un chat et un chien"] * 20
    for split in ("train", "valid", "test"):
        (folder / f"{split}.en").write_text("\n".join(en) + "\n")
        (folder / f"{split}.fr").write_text("\n".join(fr) + "\n")
    monkeypatch.setenv(EXTERNAL_ENV, str(tmp_path))
    task = Translation("wmt14_en_fr", 4, CPU, "en", "fr", vocab_size=40, subword="bpe")
    # One vocabulary learnt from both sides: French-only characters have pieces in it.
    assert task.vocab_src == task.vocab_tgt and any("é" in piece for piece in task.vocab_src)
    for src, tgt, ref in task.splits["test"]:
        assert multi30k.UNK not in src.tolist() + tgt.tolist()
        assert task._words(tgt.tolist()) == ref


def test_the_gru_encoder_decoder_trains_on_bpe_pieces(tmp_path: Path, prepared_data: Path) -> None:
    cfg = TaskConfig(
        data=DataConfig(
            kind="translation",
            dataset="multi30k",
            vocab_size=1000,
            subword="bpe",
            limit_train=64,
            limit_eval=8,
            beam_size=2,
            max_decode_len=20,
        ),
        model=ModelConfig(arch="gru", hidden=16, emb_size=8, maxout_units=8),
        train=TrainConfig(epochs=2, batch_size=16, optimizer="adam", lr=0.01),
    )
    task = build_task(cfg, seed=0, device=CPU)
    assert len(task.vocab_src) == 1000 and task.segmenter is not None
    result = Trainer(build_model(cfg, task), task, cfg.train, tmp_path, seed=0, fingerprint="bpe", progress=False).fit()
    assert 0.0 <= result.value <= 100.0
    assert all(PAD not in src.tolist() for src, _, _ in task.splits["train"])
