"""Language modelling, word and character level: predict each token from the ones before it.

Two ways of reading the training stream, both over the same corpus layout
(``{"train", "valid", "test": LongTensor stream, "vocab": [...]}``):

* :class:`WindowedLanguageModel`: independent windows that overlap by an "effective history"
  (the TCN reference code, Bai et al. 2018): no state is carried, each window re-reads
  ``seq_len - valid_len`` tokens of context and scores only the rest.
* :class:`StatefulLanguageModel`: truncated back-propagation through time with the hidden state
  carried from one window to the next (Zaremba et al. 2014; the recipe of every recurrent LM
  since). Validation and test read each split as one stream.

The metric is the perplexity ``exp(loss)`` of word-level corpora and bits per character
``loss / ln 2`` of character-level ones; ``loss`` is always the mean NLL in nats per predicted token.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from shared.data import ptb
from shared.data.external import SOURCES, load_text_corpus
from shared.tasks.base import evaluation_mode

#: The corpora :func:`load_corpus` knows: prepared PTB, or one you bring (shared.data.external).
DATASETS = ("ptb_char", "ptb_word", *SOURCES)
#: Corpora read one character at a time (their metric is bits per character).
CHAR_LEVEL = ("ptb_char", "text8")

State = Any  # whatever the model carries between windows (a tensor or a tuple of tensors)


def load_corpus(dataset: str) -> dict[str, Any]:
    """The token streams and vocabulary of ``dataset``: prepared PTB, or a bring-your-own corpus."""
    if dataset == "ptb_char":
        return ptb.load_char()
    if dataset == "ptb_word":
        return ptb.load_word()
    return load_text_corpus(dataset, char_level=dataset in CHAR_LEVEL)


def batchify(ids: Tensor, rows: int) -> Tensor:
    """``rows`` contiguous rows of a token stream (the tail that does not fit is dropped)."""
    n = len(ids) // rows
    if n < 2:
        raise ValueError(f"a stream of {len(ids)} tokens is too short for {rows} rows")
    return ids[: n * rows].view(rows, n)


def lm_metrics(loss: float, char_level: bool) -> dict[str, float]:
    """``loss`` (nats per token) with the corpus's metric: bits per character or perplexity."""
    if char_level:
        return {"loss": loss, "bpc": loss / math.log(2)}
    return {"loss": loss, "perplexity": math.exp(loss)}


def lm_windows(length: int, seq_len: int, valid_len: int) -> list[tuple[int, int, int]]:
    """Windows ``(start, end, scored)`` over a row of ``length`` tokens.

    Each window feeds tokens ``[start, end)`` and scores its last ``scored`` predictions; the
    scored ranges partition the ``length - 1`` predictions exactly once. The first window scores
    everything it sees; later ones keep ``seq_len - valid_len`` tokens of context (the TCN
    reference code's "effective history", which leaves the first window's head unscored instead).
    """
    windows = []
    end = min(seq_len, length - 1)
    windows.append((0, end, end))
    while end < length - 1:
        new_end = min(end + valid_len, length - 1)
        windows.append((max(0, new_end - seq_len), new_end, new_end - end))
        end = new_end
    return windows


class _LanguageModelTask:
    """The corpus, cut for the ``limit_*`` settings of smoke runs."""

    higher_is_better = False
    has_valid = True

    def __init__(self, dataset: str, limit_train: int | None, limit_eval: int | None) -> None:
        corpus = load_corpus(dataset)
        self.char_level = dataset in CHAR_LEVEL
        self.metric = "bpc" if self.char_level else "perplexity"
        self.vocab_size = len(corpus["vocab"])
        self.streams = {
            "train": corpus["train"][:limit_train],
            "valid": corpus["valid"][:limit_eval],
            "test": corpus["test"][:limit_eval],
        }


class WindowedLanguageModel(_LanguageModelTask):
    """Windows of ``seq_len`` tokens over ``batch_size`` rows, read in order, no carried state;
    each scores its last ``valid_len`` predictions (all of them in the first window). The model
    maps ``(N, L)`` token ids to ``(N, L, vocab)`` logits. Training loss: mean NLL of the scored
    predictions of the window; evaluation: the same windows over ``eval_batch_size`` rows."""

    def __init__(
        self,
        dataset: str,
        seq_len: int,
        batch_size: int,
        device: torch.device,
        valid_len: int | None = None,
        eval_batch_size: int = 10,
        limit_train: int | None = None,
        limit_eval: int | None = None,
    ) -> None:
        super().__init__(dataset, limit_train, limit_eval)
        self.seq_len = seq_len
        self.valid_len = valid_len or seq_len
        self.train = batchify(self.streams["train"], batch_size).to(device)
        self.eval_data = {
            split: batchify(self.streams[split], eval_batch_size).to(device) for split in ("valid", "test")
        }

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[tuple[int, int, int]]:
        # The corpus is read in order; the generator is not needed.
        return lm_windows(self.train.size(1), self.seq_len, self.valid_len)

    def _window_loss(self, model: nn.Module, data: Tensor, window: tuple[int, int, int], reduction: str) -> Tensor:
        start, end, scored = window
        logits = model(data[:, start:end])[:, -scored:]
        target = data[:, end - scored + 1 : end + 1]
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), target.reshape(-1), reduction=reduction)

    def train_loss(self, model: nn.Module, window: tuple[int, int, int]) -> Tensor:
        return self._window_loss(model, self.train, window, "mean")

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        data = self.eval_data[split]
        total, count = 0.0, 0
        with evaluation_mode(model):
            for window in lm_windows(data.size(1), self.seq_len, self.valid_len):
                total += self._window_loss(model, data, window, "sum").item()
                count += window[2] * data.size(0)
        return lm_metrics(total / count, self.char_level)


class StatefulLanguageModel(_LanguageModelTask):
    """Truncated BPTT over ``batch_size`` contiguous rows in windows of ``seq_len`` steps.

    The model maps ``(tokens (N, L), state)`` to ``(logits (N, L, vocab), state)``; the state at
    the end of one window starts the next (``None``, i.e. zero, at the start of each epoch) and
    back-propagation stops at window boundaries. The loss of a window is the sum over its steps
    of the minibatch-mean cross-entropy (per-step criteria with gradients accumulated over the
    unrolled steps, as in Zaremba et al.'s Torch code). Validation and test run each split as one
    stream (batch size 1) in chunks of ``eval_chunk`` tokens, the state carried throughout.
    """

    def __init__(
        self,
        dataset: str,
        seq_len: int,
        batch_size: int,
        device: torch.device,
        eval_chunk: int = 1000,
        limit_train: int | None = None,
        limit_eval: int | None = None,
    ) -> None:
        super().__init__(dataset, limit_train, limit_eval)
        self.seq_len = seq_len
        self.eval_chunk = eval_chunk
        self.train = batchify(self.streams["train"], batch_size).to(device)
        self.eval_data = {split: self.streams[split].to(device) for split in ("valid", "test")}
        self.state: State | None = None

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[int]:
        # The windows are read in order (the state is carried); the generator is not needed.
        return list(range(0, self.train.size(1) - 1, self.seq_len))

    def train_loss(self, model: nn.Module, start: int) -> Tensor:
        if start == 0:
            self.state = None
        end = min(start + self.seq_len, self.train.size(1) - 1)
        logits, state = model(self.train[:, start:end], self.state)
        self.state = _detach(state)
        target = self.train[:, start + 1 : end + 1]
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), target.reshape(-1)) * (end - start)

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        stream = self.eval_data[split]
        total, state = 0.0, None
        with evaluation_mode(model):
            for start in range(0, len(stream) - 1, self.eval_chunk):
                end = min(start + self.eval_chunk, len(stream) - 1)
                logits, state = model(stream[None, start:end], state)
                total += F.cross_entropy(logits[0], stream[start + 1 : end + 1], reduction="sum").item()
        return lm_metrics(total / (len(stream) - 1), self.char_level)

    def state_dict(self) -> dict[str, Any]:
        return {"state": None if self.state is None else list(self.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = None if state["state"] is None else tuple(state["state"])


def _detach(state: State) -> State:
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
