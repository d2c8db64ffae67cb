"""Metrics shared by papers: negative log-likelihood of binary frames, corpus BLEU."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def frame_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood (nats) of each binary frame under independent Bernoullis with
    logits ``logits``: the binary cross-entropy summed over the last dimension (the 88 pitches of
    a piano roll); shape ``target.shape[:-1]``."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)


def corpus_bleu(hypotheses: list[str], references: list[str], tokenize: str = "13a") -> float:
    """Corpus BLEU (0-100) of detokenized or tokenized ``hypotheses`` against one reference
    each, computed by sacrebleu (its default 13a tokenization; ``"none"`` scores the tokens as
    given)."""
    import sacrebleu  # imported here: only translation tasks need it

    if len(hypotheses) != len(references):
        raise ValueError(f"corpus_bleu: {len(hypotheses)} hypotheses for {len(references)} references")
    # force: with tokenize "none" the tokens are scored as given on purpose, so sacrebleu's
    # "forgot to detokenize?" warning (three lines per evaluation) is noise; the score is the same.
    return sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize, force=tokenize == "none").score
