"""Zaremba, Sutskever & Vinyals (2014), Sec. 4.1: word-level PTB with the hidden state carried
from one minibatch to the next.

The training stream is cut into ``batch_size`` (20) contiguous rows, read in windows of
``seq_len`` (20 or 35) steps; the LSTM state at the end of one window starts the next (zero at
the start of each epoch), and back-propagation stops at window boundaries. The loss of a
window is the sum over its steps of the minibatch-mean cross-entropy, as in the authors' Torch
code (per-step ClassNLLCriterion, gradients accumulated over the unrolled steps); plain SGD at
lr 1 with the gradient norm clipped (5 / 10). Validation and test perplexities run each split
as one stream with batch size 1 (the state carried over the whole split), as the authors' test
run does.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from papers.lstm.config import LanguageModelTaskConfig
from papers.lstm.model import ZarembaLM
from shared.data import ptb
from shared.train.loop import evaluation_mode

State = tuple[Tensor, Tensor]


def batchify(ids: Tensor, rows: int) -> Tensor:
    """``rows`` contiguous rows of a token stream (the tail that does not fit is dropped)."""
    n = len(ids) // rows
    if n < 2:
        raise ValueError(f"a stream of {len(ids)} tokens is too short for {rows} rows")
    return ids[: n * rows].view(rows, n)


class PTBLanguageModelTask:
    """The :class:`shared.train.loop.Task` of the Zaremba models."""

    metric = "perplexity"
    higher_is_better = False
    has_valid = True

    def __init__(self, cfg: LanguageModelTaskConfig, seed: int, device: torch.device) -> None:
        if cfg.data.dataset != "ptb_word":
            raise ValueError(f"data.dataset: only ptb_word is supported, got {cfg.data.dataset!r}")
        self.cfg = cfg
        corpus = ptb.load_word()
        self.vocab_size = len(corpus["vocab"])
        d = cfg.data
        self.train = batchify(corpus["train"][: d.limit_train], cfg.train.batch_size).to(device)
        self.eval_data = {split: corpus[split][: d.limit_eval].to(device) for split in ("valid", "test")}
        self.state: State | None = None

    def build_model(self) -> nn.Module:
        m = self.cfg.model
        return ZarembaLM(self.vocab_size, m.hidden, m.layers, m.dropout, m.init_range)

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[int]:
        # The windows are read in order (the state is carried); the generator is not needed.
        return list(range(0, self.train.size(1) - 1, self.cfg.data.seq_len))

    def train_loss(self, model: nn.Module, start: int) -> Tensor:
        if start == 0:
            self.state = None
        end = min(start + self.cfg.data.seq_len, self.train.size(1) - 1)
        logits, state = model(self.train[:, start:end], self.state)
        self.state = (state[0].detach(), state[1].detach())
        target = self.train[:, start + 1 : end + 1]
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), target.reshape(-1)) * (end - start)

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        stream = self.eval_data[split]
        total, state = 0.0, None
        with evaluation_mode(model):
            for start in range(0, len(stream) - 1, self.cfg.data.eval_chunk):
                end = min(start + self.cfg.data.eval_chunk, len(stream) - 1)
                logits, state = model(stream[None, start:end], state)
                total += F.cross_entropy(logits[0], stream[start + 1 : end + 1], reduction="sum").item()
        loss = total / (len(stream) - 1)
        return {"loss": loss, "perplexity": math.exp(loss)}

    def state_dict(self) -> dict[str, Any]:
        return {"state": None if self.state is None else list(self.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = None if state["state"] is None else tuple(state["state"])
