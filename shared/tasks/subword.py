"""Subword segmentation for translation, with SentencePiece (Kudo & Richardson 2018).

``bpe`` is the byte-pair encoding of Sennrich et al. (2016): start from characters and merge the
most frequent adjacent pair until the vocabulary has ``vocab_size`` entries (ConvS2S: a joint
source-target vocabulary of 40K). ``unigram`` is Kudo's (2018) unigram language model.

One segmenter is learnt on the training text of both languages (a joint vocabulary, as Sennrich
et al. and ConvS2S do, so that names and numbers are split the same way on both sides). It keeps
the text exactly: no Unicode normalisation, so ``decode(encode(s)) == s`` for every sentence
made of characters seen in training, and the BLEU references stay the dataset's own tokens.
Characters never seen in training become ``<unk>``. Learning is deterministic (one thread, every
sentence, in order), so a resumed run re-learns the same segmenter.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import sentencepiece as spm
import torch

from shared.data.checksums import DataError
from shared.data.multi30k import BOS, EOS, PAD, SPECIALS, UNK

KINDS = ("bpe", "unigram")


class Segmenter:
    """A learnt segmentation: ``encode(sentence) -> ids``, ``decode(ids) -> sentence`` and the
    ``pieces`` (``pieces[i]`` is the text of id ``i``; the first four are the translation task's
    specials, ``shared.data.multi30k.SPECIALS``, at their ids)."""

    def __init__(self, model_proto: bytes) -> None:
        self.model_proto = model_proto
        self._sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self.pieces = [self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size())]

    def encode(self, sentence: str) -> list[int]:
        return self._sp.encode(sentence)

    def decode(self, ids: Sequence[int]) -> str:
        return self._sp.decode(list(ids))


def learn_segmenter(sentences: Sequence[str], kind: str, vocab_size: int) -> Segmenter:
    """Learn a ``kind`` segmentation (:data:`KINDS`) of ``vocab_size`` entries (the four specials
    included) from ``sentences``."""
    if kind not in KINDS:
        raise ValueError(f"subword segmentation {kind!r} is not one of {', '.join(KINDS)}")
    if vocab_size <= len(SPECIALS):
        raise ValueError(f"subword vocab_size {vocab_size} leaves no room beyond the specials {SPECIALS}")
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model,
            model_type=kind,
            vocab_size=vocab_size,
            character_coverage=1.0,
            normalization_rule_name="identity",
            pad_id=PAD,
            unk_id=UNK,
            bos_id=BOS,
            eos_id=EOS,
            pad_piece=SPECIALS[PAD],
            unk_piece=SPECIALS[UNK],
            bos_piece=SPECIALS[BOS],
            eos_piece=SPECIALS[EOS],
            num_threads=1,
            input_sentence_size=0,
            shuffle_input_sentence=False,
            minloglevel=2,
        )
    except RuntimeError as err:
        # SentencePiece's own words name the limit (e.g. "Vocabulary size too high (3000). Please
        # set it to a value <= 1377."); the context says which setting to change.
        what = f"a {kind} segmentation of {vocab_size} entries from {len(sentences)} sentences"
        raise DataError(f"cannot learn {what}: {err}") from err
    return Segmenter(model.getvalue())


def segment_pairs(data: dict, splits: Sequence[str], kind: str, vocab_size: int) -> dict:
    """``data`` in :func:`shared.data.multi30k.load`'s layout, re-encoded with one ``kind``
    segmentation learnt from the training text of both sides: ``vocab_src`` and ``vocab_tgt``
    become its pieces, ``<split>_src``/``_tgt`` its ids; ``<split>_ref`` (word text) is kept, and
    ``segmenter`` is added (it decodes the translations back to words)."""
    segmenter = learn_segmenter(data["train_src_text"] + data["train_tgt_text"], kind, vocab_size)
    out = {**data, "vocab_src": segmenter.pieces, "vocab_tgt": segmenter.pieces, "segmenter": segmenter}
    for split in splits:
        for side in ("src", "tgt"):
            out[f"{split}_{side}"] = [
                torch.tensor(segmenter.encode(s), dtype=torch.int64) for s in data[f"{split}_{side}_text"]
            ]
    return out
