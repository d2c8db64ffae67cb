"""Language modelling, word and character level: predict each token from the ones before it.

Two ways of reading the training stream, both over the same corpus layout
(``{"train", "valid", "test": LongTensor stream, "vocab": [...]}``):

* :class:`WindowedLanguageModel`: independent windows that overlap by an "effective history"
  (the TCN reference code, Bai et al. 2018): no state is carried, each window re-reads
  ``seq_len - valid_len`` tokens of context and scores only the rest.
* :class:`StatefulLanguageModel`: truncated back-propagation through time with the hidden state
  carried from one window to the next (Zaremba et al. 2014; the recipe of every recurrent LM
  since). Validation and test read each split as one stream (or as a few rows, each a stream).
* :class:`AWDRecipeLanguageModel`: the same, trained with the recipe of AWD-LSTM (Merity et al. 2018):
  windows of random length with the learning rate scaled to each, and the AR and TAR penalties.

The metric is the perplexity ``exp(loss)`` of word-level corpora and bits per character
``loss / ln 2`` of character-level ones; ``loss`` is always the mean NLL in nats per predicted token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from shared.core.config import at_least_one
from shared.data import ptb, wikitext2
from shared.data.external import SOURCES, load_text_corpus
from shared.models.regularize import activation_regularization, temporal_activation_regularization
from shared.tasks.base import evaluation_mode
from shared.tasks.cache_pointer import CachePointer
from shared.tasks.parsing import ParsingEvaluation

#: The corpora :func:`load_corpus` knows: prepared PTB and WikiText-2, or one you bring
#: (shared.data.external).
DATASETS = ("ptb_char", "ptb_word", "wikitext2", *SOURCES)
#: Corpora read one character at a time (their metric is bits per character).
CHAR_LEVEL = ("ptb_char", "text8")

State = Any  # whatever the model carries between windows (a tensor or a tuple of tensors)


def load_corpus(dataset: str) -> dict[str, Any]:
    """The token streams and vocabulary of ``dataset``: prepared PTB, or a bring-your-own corpus."""
    if dataset == "ptb_char":
        return ptb.load_char()
    if dataset == "ptb_word":
        return ptb.load_word()
    if dataset == "wikitext2":
        return wikitext2.load()
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


def unigram_loss(train: Tensor, predicted: Tensor, vocab_size: int) -> float:
    """Mean NLL (nats) per token of ``predicted`` under the add-one-smoothed unigram distribution
    of the ``train`` stream: the model that ignores context, a floor every language model must beat
    (its ``exp`` is the unigram perplexity)."""
    counts = torch.bincount(train, minlength=vocab_size).double() + 1.0
    return -(counts / counts.sum()).log()[predicted].mean().item()


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
    """The corpus, cut for the ``limit_*`` settings of smoke runs.

    Under several processes (``torchrun``) the training stream is split per rank: the
    ``batch_size`` rows of the stream (``self.train``) are dealt out in contiguous blocks, rank
    ``r`` of ``N`` reading rows ``[r B/N, (r+1) B/N)`` and carrying its own state through them
    (:meth:`shard`). Every rank reads the same windows of its rows, so a step is the step of one
    process on all ``B`` rows. Evaluation reads every split whole on every rank.
    """

    train: Tensor  #: the training stream as (rows, length)

    higher_is_better = False
    has_valid = True

    def __init__(self, dataset: str, limit_train: int | None, limit_eval: int | None) -> None:
        corpus = load_corpus(dataset)
        self.char_level = dataset in CHAR_LEVEL
        self.metric = "bpc" if self.char_level else "perplexity"
        self.vocab: list[str] = corpus["vocab"]
        self.vocab_size = len(self.vocab)
        self.streams = {
            "train": corpus["train"][:limit_train],
            "valid": corpus["valid"][:limit_eval],
            "test": corpus["test"][:limit_eval],
        }
        self.rows = slice(None)  #: the rows of self.train this process trains on (shard)

    def shard(self, window: Any, rank: int, world_size: int) -> tuple[Any, float]:
        """The same window, read on this rank's block of rows; weight 1, as every loss of these
        tasks is a mean (or a sum over steps of means) over equally many rows per rank."""
        rows = self.train.size(0)
        if rows % world_size:
            raise ValueError(
                f"train.batch_size {rows} (rows of the training stream) does not divide over {world_size} processes"
            )
        share = rows // world_size
        self.rows = slice(rank * share, (rank + 1) * share)
        return window, 1.0


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
        return self._window_loss(model, self.train[self.rows], window, "mean")

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
    stream (batch size 1) in chunks of ``eval_chunk`` tokens, the state carried throughout;
    ``valid_batch_size`` / ``test_batch_size`` cut a split into that many contiguous rows instead
    (the tail that does not fill a row is dropped, as in training), each read as a stream.
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
        valid_batch_size: int = 1,
        test_batch_size: int = 1,
    ) -> None:
        super().__init__(dataset, limit_train, limit_eval)
        self.seq_len = seq_len
        self.eval_chunk = eval_chunk
        self.train = batchify(self.streams["train"], batch_size).to(device)
        rows = {"valid": valid_batch_size, "test": test_batch_size}
        self.eval_data = {split: batchify(self.streams[split], rows[split]).to(device) for split in rows}
        self.state: State | None = None

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[int]:
        # The windows are read in order (the state is carried); the generator is not needed.
        return list(range(0, self.train.size(1) - 1, self.seq_len))

    def train_loss(self, model: nn.Module, start: int) -> Tensor:
        if start == 0:
            self.state = None
        end = min(start + self.seq_len, self.train.size(1) - 1)
        logits, state = model(self.train[self.rows, start:end], self.state)
        self.state = _detach(state)
        target = self.train[self.rows, start + 1 : end + 1]
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), target.reshape(-1)) * (end - start)

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        data = self.eval_data[split]  # (rows, length)
        total, state = 0.0, None
        with evaluation_mode(model):
            for start in range(0, data.size(1) - 1, self.eval_chunk):
                end = min(start + self.eval_chunk, data.size(1) - 1)
                logits, state = model(data[:, start:end], state)
                target = data[:, start + 1 : end + 1]
                total += F.cross_entropy(
                    logits.reshape(-1, self.vocab_size), target.reshape(-1), reduction="sum"
                ).item()
        return lm_metrics(total / (data.numel() - data.size(0)), self.char_level)

    def state_dict(self) -> dict[str, Any]:
        return {"state": None if self.state is None else list(self.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = None if state["state"] is None else tuple(state["state"])


def variable_bptt_windows(
    length: int,
    bptt: int,
    generator: torch.Generator,
    p_full: float = 0.95,
    std: float = 5.0,
    min_len: int = 5,
) -> list[tuple[int, int]]:
    r"""AWD-LSTM's windows of random length over a row of ``length`` tokens (Merity et al. 2018,
    Sec. 4.1): ``(start, seq_len)`` pairs, each window starting where the previous one ended.

    For each window, the base length is ``bptt`` with probability ``p_full`` and ``bptt / 2``
    otherwise, and :math:`\text{seq\_len} = \max(\text{min\_len}, \lfloor \mathcal N(\text{base},
    \text{std}^2) \rfloor)` (truncated toward zero, Python's ``int`` of the official code's
    ``np.random.normal``). Windows start while ``start < length - 2`` (the official loop); the last
    one may reach past the row's last prediction and is cut there by the reader, but its
    ``seq_len`` (which scales the lr) is the drawn one, as in the official code.

    Drawn from ``generator`` only, so an epoch's windows are a pure function of it (exact resume).
    """
    if bptt < 1 or min_len < 1 or std < 0 or not 0.0 <= p_full <= 1.0:
        raise ValueError(
            f"variable_bptt_windows: bad settings bptt={bptt}, min_len={min_len}, std={std}, p_full={p_full}"
        )
    windows = []
    start = 0
    while start < length - 2:
        base = bptt if torch.rand((), generator=generator).item() < p_full else bptt / 2
        seq_len = max(min_len, int(base + std * torch.randn((), generator=generator).item()))
        windows.append((start, seq_len))
        start += seq_len
    return windows


class AWDRecipeLanguageModel(StatefulLanguageModel):
    r"""Stateful truncated BPTT with the training recipe of AWD-LSTM (Merity et al. 2018, Sec. 4).

    * Variable-length BPTT (Sec. 4.1): each window's length is drawn by
      :func:`variable_bptt_windows` around ``seq_len`` (the paper's BPTT length, 70), and the
      step on it uses the learning rate scaled by ``drawn length / seq_len`` (``lr_scale``; the
      loop applies it, :class:`shared.train.loop.Trainer`), so that short windows do not weigh
      as much as long ones.
    * The loss of a window is the *mean* cross-entropy over its tokens (the official code), plus
      AR, :math:`\alpha\,\mathrm{mean}(m \odot h_t)^2`, on the last layer's output after its
      dropout, and TAR, :math:`\beta\,\mathrm{mean}(h_t - h_{t+1})^2`, on that output before
      dropout (Sec. 4.6, :func:`shared.models.regularize.activation_regularization`,
      :func:`~shared.models.regularize.temporal_activation_regularization`). A term whose
      coefficient is 0 is left out. ``ar_after_dropout=False`` puts AR on the output *before*
      dropout, :math:`\alpha\,\mathrm{mean}(h_t^2)`, as the official ON-LSTM code does (its stack
      returns the last layer's undropped output where AWD-LSTM's returns the dropped one).
    * Evaluation (the official ``evaluate``): ``valid_batch_size`` rows for validation (10),
      ``test_batch_size`` for test (1), read in chunks of ``eval_chunk`` tokens (the BPTT length,
      70) with the state carried; the metric is the exact mean over every prediction.
    * With a ``pointer`` (:class:`shared.tasks.cache_pointer.CachePointer`), a split read as one
      stream is also scored with the continuous cache over the last layer's outputs (Sec. 6 of
      the paper, the official ``pointer.py``): ``cache_loss`` and ``cache_perplexity`` join the
      metrics, from the same pass and the same weights.
    * With ``parsing`` (:class:`shared.tasks.parsing.ParsingEvaluation`), the test evaluation also
      parses the WSJ sample with the model's per-layer syntactic distances (its
      ``return_distances=True``; ON-LSTM, Shen et al. 2019, Sec. 5.2), each sentence from a zero
      state in eval mode, and adds the F1 metrics: perplexity and parsing of the same weights.

    The model maps ``(tokens (N, L), state)`` to ``(logits (N, L, vocab), state)``, and with
    ``return_hidden=True`` to ``(logits, state, hidden, dropped)``: the last recurrent layer's
    output ``(N, L, H)`` before and after its dropout.
    """

    def __init__(
        self,
        dataset: str,
        seq_len: int,
        batch_size: int,
        device: torch.device,
        eval_chunk: int = 70,
        limit_train: int | None = None,
        limit_eval: int | None = None,
        valid_batch_size: int = 10,
        test_batch_size: int = 1,
        alpha: float = 2.0,
        beta: float = 1.0,
        variable_length: bool = True,
        p_full: float = 0.95,
        length_std: float = 5.0,
        min_len: int = 5,
        pointer: CachePointer | None = None,
        ar_after_dropout: bool = True,
        parsing: ParsingEvaluation | None = None,
    ) -> None:
        super().__init__(
            dataset, seq_len, batch_size, device, eval_chunk, limit_train, limit_eval, valid_batch_size, test_batch_size
        )
        self.pointer = pointer
        self.parsing = parsing
        #: Reported beside the headline perplexity (shared.run.experiment), from the same epoch.
        self.secondary_metrics: tuple[str, ...] = ("cache_perplexity",) if pointer is not None else ()
        if parsing is not None:
            self.secondary_metrics += parsing.metric_names
        self.alpha, self.beta = alpha, beta
        self.ar_after_dropout = ar_after_dropout
        self.variable_length = variable_length
        self.p_full, self.length_std, self.min_len = p_full, length_std, min_len

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        metrics = self._perplexity(model, split)
        if split == "test" and self.parsing is not None:
            device = self.train.device
            with evaluation_mode(model):
                metrics |= self.parsing(lambda ids: model(ids.to(device), return_distances=True)[-1], self.vocab)
        return metrics

    def _perplexity(self, model: nn.Module, split: str) -> dict[str, float]:
        """The perplexity of ``split``, with the cache pointer's when there is one."""
        data = self.eval_data[split]
        if self.pointer is None or data.size(0) != 1:
            return super().evaluate(model, split)
        stream = data[0]
        total, cache_total, state = 0.0, 0.0, None
        self.pointer.reset()
        with evaluation_mode(model):
            for start in range(0, len(stream) - 1, self.eval_chunk):
                end = min(start + self.eval_chunk, len(stream) - 1)
                logits, state, hidden, _ = model(stream[None, start:end], state, return_hidden=True)
                target = stream[start + 1 : end + 1]
                total += F.cross_entropy(logits[0], target, reduction="sum").item()
                cache_total -= self.pointer(hidden[0], logits[0], target).sum().item()
        count = len(stream) - 1
        cache = lm_metrics(cache_total / count, self.char_level)
        return {
            **lm_metrics(total / count, self.char_level),
            **{f"cache_{key}": value for key, value in cache.items()},
        }

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[tuple[int, int]]:
        length = self.train.size(1)
        if not self.variable_length:  # Table 4's "- variable sequence lengths": fixed windows
            return [(start, self.seq_len) for start in range(0, length - 1, self.seq_len)]
        return variable_bptt_windows(length, self.seq_len, generator, self.p_full, self.length_std, self.min_len)

    def lr_scale(self, window: tuple[int, int]) -> float:
        return window[1] / self.seq_len

    def train_loss(self, model: nn.Module, window: tuple[int, int]) -> Tensor:
        start, seq_len = window
        if start == 0:
            self.state = None
        end = min(start + seq_len, self.train.size(1) - 1)
        logits, state, hidden, dropped = model(self.train[self.rows, start:end], self.state, return_hidden=True)
        self.state = _detach(state)
        target = self.train[self.rows, start + 1 : end + 1]
        loss = F.cross_entropy(logits.reshape(-1, self.vocab_size), target.reshape(-1))
        if self.alpha:
            loss = loss + activation_regularization(dropped if self.ar_after_dropout else hidden, self.alpha)
        if self.beta:
            loss = loss + temporal_activation_regularization(hidden, self.beta, batch_first=True)
        return loss


def _detach(state: State) -> State:
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


@dataclass
class AWDRecipeDataConfig:
    """The ``data`` section of a preset for :class:`AWDRecipeLanguageModel`: ``dataset`` read as
    ``train.batch_size`` streams; ``bptt`` the base BPTT length (70), also the chunk length of
    evaluation; ``variable_length: false`` trains on fixed windows of ``bptt`` (AWD Table 4's "-
    variable sequence lengths"); validation read as ``valid_batch_size`` streams (10) and test as
    ``test_batch_size`` (1), as the official code. ``limit_*`` cut tokens (smoke, reduced-scale)."""

    dataset: str = "ptb_word"
    bptt: int = 70
    variable_length: bool = True
    valid_batch_size: int = 10
    test_batch_size: int = 1
    limit_train: int | None = None
    limit_eval: int | None = None

    def validate(self) -> None:
        at_least_one(self, "data", ("bptt", "valid_batch_size", "test_batch_size", "limit_train", "limit_eval"))


@dataclass
class AWDRecipeLossConfig:
    """AR's ``alpha`` and TAR's ``beta`` (AWD Sec. 4.6; 2 and 1; 0 leaves the term out);
    ``ar_after_dropout: false`` puts AR on the last layer's output before its dropout (the
    official ON-LSTM code) instead of after it (AWD-LSTM's)."""

    alpha: float = 2.0
    beta: float = 1.0
    ar_after_dropout: bool = True

    def validate(self) -> None:
        if self.alpha < 0 or self.beta < 0:
            raise ValueError(f"loss.alpha and loss.beta must be >= 0, got {self.alpha} and {self.beta}")


def awd_recipe_task(
    data: AWDRecipeDataConfig,
    loss: AWDRecipeLossConfig,
    batch_size: int,
    device: torch.device,
    pointer: CachePointer | None = None,
    parsing: ParsingEvaluation | None = None,
) -> AWDRecipeLanguageModel:
    """The task of a preset's ``data`` and ``loss`` sections, with the paper's evaluation tools."""
    return AWDRecipeLanguageModel(
        data.dataset,
        data.bptt,
        batch_size,
        device,
        eval_chunk=data.bptt,
        limit_train=data.limit_train,
        limit_eval=data.limit_eval,
        valid_batch_size=data.valid_batch_size,
        test_batch_size=data.test_batch_size,
        alpha=loss.alpha,
        beta=loss.beta,
        variable_length=data.variable_length,
        ar_after_dropout=loss.ar_after_dropout,
        pointer=pointer,
        parsing=parsing,
    )
