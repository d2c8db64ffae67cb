"""Sentence-level translation: train on sentence pairs, translate with beam search, score with
corpus BLEU (sacrebleu).

Training maximises the conditional log-likelihood of the target sentence (the mean NLL per target
token of a minibatch, ``<eos>`` included), on minibatches of pairs of similar length. The reported
metric is BLEU of the beam-search translations of the test split against its single reference, on
the dataset's tokenized lower-cased text (sacrebleu with ``tokenize="none"``, i.e. multi-bleu on
these tokens); model selection uses the same BLEU on the validation split. With a subword
segmentation (:mod:`shared.tasks.subword`) the model reads and writes subword ids, and its
translations are decoded back to words before BLEU, so scores stay comparable with word models.

The model maps ``(src (N, S), src_lengths (N,), tgt_in (N, T))`` to ``(N, T, target vocab)``
logits and offers ``beam_search(src, src_lengths, bos, eos, beam_size, max_len) -> list[list[int]]``;
a model that decodes step by step (:class:`IncrementalDecoder`) gets it from :func:`beam_search`.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pad_sequence

from shared.data import multi30k
from shared.data.external import PARALLEL_SOURCES, load_parallel_text
from shared.tasks.base import evaluation_mode, length_batches, shard_examples
from shared.tasks.metrics import corpus_bleu
from shared.tasks.subword import segment_pairs

BOS, EOS, PAD = multi30k.BOS, multi30k.EOS, multi30k.PAD
#: The corpora :func:`load_pairs` knows: prepared Multi30k, or one you bring (shared.data.external).
DATASETS = ("multi30k", *PARALLEL_SOURCES)


class IncrementalDecoder(Protocol):
    """A model that translates one target token at a time (what :func:`beam_search` drives).

    ``start_decoding`` encodes the batch and returns the decoder's state for ``N * beam_size``
    rows (row ``i * beam_size + j`` is hypothesis ``j`` of sentence ``i``); ``decode_step``
    reads the tokens so far, ``(rows, t)`` starting with ``<bos>``, and returns the logits of the
    next token, ``(rows, V)``, with the state after it; ``reorder_state`` keeps the rows
    ``rows`` of a state (a hypothesis continues the one it was extended from).
    """

    def start_decoding(self, src: torch.Tensor, src_lengths: torch.Tensor, beam_size: int) -> Any: ...

    def decode_step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...

    def reorder_state(self, state: Any, rows: torch.Tensor) -> Any: ...


@torch.no_grad()
def beam_search(
    model: IncrementalDecoder,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    bos: int,
    eos: int,
    beam_size: int,
    max_len: int,
) -> list[list[int]]:
    """The best translation of each source sentence under a beam of ``beam_size`` (1: greedy).

    All sentences of the batch are searched together (``N * beam_size`` decoder rows). A
    hypothesis ends with ``eos`` (kept in the beam with its score frozen); among the final beam
    the hypothesis with the best log-probability per token (``eos`` counted) wins, so that short
    outputs are not favoured. Returned without ``bos``/``eos``, at most ``max_len`` tokens.
    """
    if beam_size < 1 or max_len < 1:
        raise ValueError(f"beam_search: beam_size {beam_size} and max_len {max_len} must be >= 1")
    n, k = src.size(0), beam_size
    state = model.start_decoding(src, src_lengths, k)
    scores = torch.full((n, k), float("-inf"), device=src.device)
    scores[:, 0] = 0.0  # one live hypothesis per sentence at first
    tokens = torch.full((n * k, 1), bos, dtype=torch.long, device=src.device)
    done = torch.zeros(n * k, dtype=torch.bool, device=src.device)
    lengths = torch.zeros(n * k, device=src.device)
    for _ in range(max_len):
        logits, state = model.decode_step(tokens, state)
        logp = F.log_softmax(logits, -1)
        # A finished hypothesis extends only by eos, at no cost: its score stays as it was.
        logp[done] = float("-inf")
        logp[done, eos] = 0.0
        vocab = logp.size(-1)
        total = (scores.view(-1, 1) + logp).view(n, k * vocab)
        scores, best = total.topk(k, -1)
        origin = (best // vocab + torch.arange(n, device=src.device)[:, None] * k).view(-1)
        word = (best % vocab).view(-1)
        tokens = torch.cat([tokens[origin], word[:, None]], 1)
        lengths = lengths[origin] + (~done[origin]).float()
        done = done[origin] | (word == eos)
        state = model.reorder_state(state, origin)
        if bool(done.all()):
            break
    choice = (scores.view(-1) / lengths.clamp(min=1)).view(n, k).argmax(-1)
    rows = tokens.view(n, k, -1)[torch.arange(n, device=src.device), choice, 1:].tolist()
    return [row[: row.index(eos)] if eos in row else row for row in rows]


def load_pairs(dataset: str, source: str, target: str, vocab_size: int | None, subword: str | None = None) -> dict:
    """The dataset in :func:`shared.data.multi30k.load`'s layout: Multi30k, or a corpus you provide;
    with ``subword`` (a kind of :data:`shared.tasks.subword.KINDS`), in one joint subword
    vocabulary of ``vocab_size`` pieces learnt on its training text."""
    if subword is None:
        if dataset == "multi30k":
            return multi30k.load(source, target, vocab_size)
        return load_parallel_text(dataset, source, target, vocab_size)
    if vocab_size is None:
        raise ValueError(f"subword segmentation {subword!r} needs a vocab_size (ConvS2S: 40,000)")
    words = load_pairs(dataset, source, target, None)
    return segment_pairs(words, ("train", "valid", "test"), subword, vocab_size)


class Translation:
    """Translation from ``source`` to ``target``; metric BLEU (higher is better).

    ``max_len`` drops longer training pairs (tokens, either side); ``vocab_size`` keeps the most
    frequent words of each language, or, with ``subword`` (``"bpe"`` or ``"unigram"``), is the
    size of the joint subword vocabulary that replaces words; ``beam_size`` is the beam of the
    scored translations, at most ``max_decode_len`` tokens long. ``limit_*`` shrink the data for
    smoke runs.
    """

    metric = "bleu"
    higher_is_better = True
    has_valid = True

    def __init__(
        self,
        dataset: str,
        batch_size: int,
        device: torch.device,
        source: str = "en",
        target: str = "de",
        vocab_size: int | None = None,
        max_len: int | None = None,
        eval_batch_size: int = 16,
        beam_size: int = 10,
        max_decode_len: int = 80,
        limit_train: int | None = None,
        limit_eval: int | None = None,
        subword: str | None = None,
    ) -> None:
        self.device = device
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.beam_size = beam_size
        self.max_decode_len = max_decode_len
        data = load_pairs(dataset, source, target, vocab_size, subword)
        self.vocab_src, self.vocab_tgt = data["vocab_src"], data["vocab_tgt"]
        self.segmenter = data.get("segmenter")
        cut = {"train": limit_train, "valid": limit_eval, "test": limit_eval}
        self.splits = {}
        for split, cap in cut.items():
            pairs = list(zip(data[f"{split}_src"], data[f"{split}_tgt"], data[f"{split}_ref"], strict=True))[:cap]
            if split == "train":
                # An empty source cannot be encoded; max_len bounds the cost of a batch.
                longest = max_len or max(self._longest(p) for p in pairs)
                pairs = [p for p in pairs if len(p[0]) and self._longest(p) <= longest]
            elif any(len(p[0]) == 0 for p in pairs):
                raise ValueError(f"{dataset}: the {split} split has an empty source sentence")
            self.splits[split] = pairs
        self.lengths = [len(src) + len(tgt) for src, tgt, _ in self.splits["train"]]

    @staticmethod
    def _longest(pair: tuple) -> int:
        return max(len(pair[0]), len(pair[1]))

    def _source(self, pairs: list) -> tuple[torch.Tensor, torch.Tensor]:
        src = pad_sequence([p[0] for p in pairs], batch_first=True, padding_value=PAD).to(self.device)
        return src, torch.tensor([len(p[0]) for p in pairs], device=self.device)

    def _nll(self, model: nn.Module, pairs: list) -> tuple[torch.Tensor, int]:
        """Summed NLL of the target tokens (``<eos>`` included) and their number."""
        src, lengths = self._source(pairs)
        bos, eos = torch.tensor([BOS]), torch.tensor([EOS])
        tgt_in = pad_sequence([torch.cat([bos, p[1]]) for p in pairs], batch_first=True, padding_value=PAD)
        tgt_out = pad_sequence([torch.cat([p[1], eos]) for p in pairs], batch_first=True, padding_value=PAD)
        logits = model(src, lengths, tgt_in.to(self.device))
        tgt_out = tgt_out.to(self.device)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD, reduction="sum")
        return loss, int((tgt_out != PAD).sum())

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[list[int]]:
        return length_batches(self.lengths, self.batch_size, generator)

    def shard(self, batch: list[int], rank: int, world_size: int) -> tuple[list[int], float]:
        """Rank ``rank``'s pairs of ``batch`` (:func:`shard_examples`), weighted by its share of
        the batch's target tokens (``<eos>`` included): the loss is a mean over those tokens."""
        part, _ = shard_examples(batch, rank, world_size)
        train = self.splits["train"]
        tokens = sum(len(train[i][1]) + 1 for i in part) / sum(len(train[i][1]) + 1 for i in batch)
        return part, world_size * tokens

    def train_loss(self, model: nn.Module, batch: list[int]) -> torch.Tensor:
        total, tokens = self._nll(model, [self.splits["train"][i] for i in batch])
        return total / tokens

    def translate(self, model: nn.Module, sources: list[torch.Tensor]) -> list[str]:
        """Beam-search translations of ``sources`` (id tensors), as space-separated words (subword
        ids decoded back to words)."""
        order = sorted(range(len(sources)), key=lambda i: len(sources[i]))  # similar lengths per batch
        out: list[str] = [""] * len(sources)
        with evaluation_mode(model):
            for start in range(0, len(order), self.eval_batch_size):
                idx = order[start : start + self.eval_batch_size]
                src, lengths = self._source([(sources[i],) for i in idx])
                best = model.beam_search(src, lengths, BOS, EOS, self.beam_size, self.max_decode_len)
                for i, ids in zip(idx, best, strict=True):
                    out[i] = self._words(ids)
        return out

    def _words(self, ids: list[int]) -> str:
        if self.segmenter is not None:
            return self.segmenter.decode(ids)
        return " ".join(self.vocab_tgt[t] for t in ids)

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        pairs = self.splits[split]
        total, tokens = 0.0, 0
        with evaluation_mode(model):
            for start in range(0, len(pairs), self.eval_batch_size):
                nll, n = self._nll(model, pairs[start : start + self.eval_batch_size])
                total, tokens = total + nll.item(), tokens + n
        hypotheses = self.translate(model, [p[0] for p in pairs])
        bleu = corpus_bleu(hypotheses, [p[2] for p in pairs], tokenize="none")
        return {"loss": total / tokens, "bleu": bleu}
