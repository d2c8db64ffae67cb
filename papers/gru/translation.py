"""Cho et al. (2014) as a translation task: train the RNN Encoder-Decoder on sentence pairs,
translate with beam search, score with corpus BLEU (sacrebleu).

Training maximises the conditional log-likelihood of Eq. 4 (mean NLL per target token of a
minibatch, ``<eos>`` included). The reported metric is BLEU of the beam-search translations of
the test split against its single reference, on the dataset's tokenized lower-cased text
(sacrebleu with ``tokenize="none"``, i.e. multi-bleu on these tokens); model selection uses the
same BLEU on the validation split.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pad_sequence

from papers.gru.config import TaskConfig
from papers.gru.encoder_decoder import EncoderDecoder
from papers.gru.tasks import length_batches
from shared.data import multi30k
from shared.data.external import load_parallel_text
from shared.metrics import corpus_bleu
from shared.train.loop import evaluation_mode

BOS, EOS, PAD = multi30k.BOS, multi30k.EOS, multi30k.PAD


def load_pairs(cfg: TaskConfig) -> dict:
    """The dataset of ``cfg.data`` in :func:`shared.data.multi30k.load`'s layout."""
    d = cfg.data
    if d.dataset == "multi30k":
        return multi30k.load(d.source, d.target, d.vocab_size)
    return load_parallel_text(d.dataset, d.source, d.target, d.vocab_size)


class TranslationTask:
    """Sentence-level translation with the RNN Encoder-Decoder; metric BLEU (higher is better)."""

    metric = "bleu"
    higher_is_better = True
    has_valid = True

    def __init__(self, cfg: TaskConfig, seed: int, device: torch.device) -> None:
        self.cfg = cfg
        self.device = device
        d = cfg.data
        data = load_pairs(cfg)
        self.vocab_src, self.vocab_tgt = data["vocab_src"], data["vocab_tgt"]
        cut = {"train": d.limit_train, "valid": d.limit_eval, "test": d.limit_eval}
        self.splits = {}
        for split, limit in cut.items():
            pairs = list(zip(data[f"{split}_src"], data[f"{split}_tgt"], data[f"{split}_ref"], strict=True))[:limit]
            if split == "train":
                # An empty source cannot be encoded; max_len bounds the cost of a batch.
                longest = d.max_len or max(self._longest(p) for p in pairs)
                pairs = [p for p in pairs if len(p[0]) and self._longest(p) <= longest]
            elif any(len(p[0]) == 0 for p in pairs):
                raise ValueError(f"{d.dataset}: the {split} split has an empty source sentence")
            self.splits[split] = pairs
        self.lengths = [len(src) + len(tgt) for src, tgt, _ in self.splits["train"]]

    @staticmethod
    def _longest(pair: tuple) -> int:
        return max(len(pair[0]), len(pair[1]))

    def build_model(self) -> nn.Module:
        m = self.cfg.model
        return EncoderDecoder(
            m.arch, len(self.vocab_src), len(self.vocab_tgt), m.hidden, m.emb_size, m.maxout_units, pad=PAD
        )

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
        return length_batches(self.lengths, self.cfg.train.batch_size, generator)

    def train_loss(self, model: nn.Module, batch: list[int]) -> torch.Tensor:
        total, tokens = self._nll(model, [self.splits["train"][i] for i in batch])
        return total / tokens

    def translate(self, model: nn.Module, sources: list[torch.Tensor]) -> list[str]:
        """Beam-search translations of ``sources`` (id tensors), as space-separated words."""
        d = self.cfg.data
        order = sorted(range(len(sources)), key=lambda i: len(sources[i]))  # similar lengths per batch
        out: list[str] = [""] * len(sources)
        with evaluation_mode(model):
            for start in range(0, len(order), d.eval_batch_size):
                idx = order[start : start + d.eval_batch_size]
                src, lengths = self._source([(sources[i],) for i in idx])
                best = model.beam_search(src, lengths, BOS, EOS, d.beam_size, d.max_decode_len)
                for i, ids in zip(idx, best, strict=True):
                    out[i] = " ".join(self.vocab_tgt[t] for t in ids)
        return out

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        pairs = self.splits[split]
        total, tokens = 0.0, 0
        with evaluation_mode(model):
            for start in range(0, len(pairs), self.cfg.data.eval_batch_size):
                nll, n = self._nll(model, pairs[start : start + self.cfg.data.eval_batch_size])
                total, tokens = total + nll.item(), tokens + n
        hypotheses = self.translate(model, [p[0] for p in pairs])
        bleu = corpus_bleu(hypotheses, [p[2] for p in pairs], tokenize="none")
        return {"loss": total / tokens, "bleu": bleu}
