"""The AWD-LSTM recipe of the language-modelling family: variable-length BPTT, its lr scale,
AR/TAR in the loss, evaluation in several streams."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from shared.tasks.language_model import AWDRecipeLanguageModel, StatefulLanguageModel, variable_bptt_windows


def test_variable_bptt_windows_follow_the_official_distribution() -> None:
    windows = variable_bptt_windows(2_000_000, 70, torch.Generator().manual_seed(0))
    starts, lengths = zip(*windows, strict=True)
    # Each window starts where the previous one ended; the last starts before length - 2.
    assert starts[0] == 0 and all(b == a + n for a, b, n in zip(starts, starts[1:], lengths, strict=False))
    assert starts[-1] < 2_000_000 - 2 <= starts[-1] + lengths[-1]
    lengths_t = torch.tensor(lengths, dtype=torch.float64)
    assert lengths_t.min() >= 5
    half = lengths_t < 52  # N(35, 5) vs N(70, 5): 3.4 standard deviations apart
    assert half.double().mean().item() == pytest.approx(0.05, abs=0.005)
    # int() truncates toward zero: the mean is the normal's minus ~0.5.
    assert lengths_t[~half].mean().item() == pytest.approx(69.5, abs=0.1)
    assert lengths_t[~half].std().item() == pytest.approx(5.0, abs=0.1)
    assert lengths_t[half].mean().item() == pytest.approx(34.5, abs=0.3)


def test_variable_bptt_windows_are_a_function_of_the_generator_and_respect_the_minimum() -> None:
    a = variable_bptt_windows(5000, 70, torch.Generator().manual_seed(3))
    assert a == variable_bptt_windows(5000, 70, torch.Generator().manual_seed(3))
    assert a != variable_bptt_windows(5000, 70, torch.Generator().manual_seed(4))
    assert {n for _, n in variable_bptt_windows(5000, 4, torch.Generator().manual_seed(0), std=0.0)} == {5}
    with pytest.raises(ValueError, match="bptt"):
        variable_bptt_windows(100, 0, torch.Generator())


class FixedOutputs(nn.Module):
    """A model whose logits, last-layer output and dropped output are given tensors."""

    def __init__(self, logits: torch.Tensor, hidden: torch.Tensor, dropped: torch.Tensor) -> None:
        super().__init__()
        self.logits, self.hidden, self.dropped = logits, hidden, dropped

    def forward(self, tokens, state, return_hidden=False):
        assert return_hidden
        return self.logits, (torch.zeros(1),), self.hidden, self.dropped


def bare_task(
    stream: torch.Tensor, vocab: int, alpha: float, beta: float, ar_after_dropout: bool = True
) -> AWDRecipeLanguageModel:
    """The task's training side over one row, without loading a corpus."""
    task = object.__new__(AWDRecipeLanguageModel)
    task.train, task.vocab_size, task.state, task.rows = stream[None], vocab, None, slice(None)
    task.seq_len, task.alpha, task.beta, task.ar_after_dropout = 3, alpha, beta, ar_after_dropout
    return task


def test_the_loss_is_the_mean_cross_entropy_plus_ar_and_tar_by_hand() -> None:
    logits = torch.zeros(1, 3, 4)  # uniform: cross-entropy ln 4 at each step
    hidden = torch.tensor([[[0.0], [1.0], [3.0]]])  # TAR: steps differ by 1 and 2 -> (1 + 4) / 2
    dropped = torch.tensor([[[1.0], [2.0], [2.0]]])  # AR: (1 + 4 + 4) / 3 = 3
    model = FixedOutputs(logits, hidden, dropped)
    stream = torch.tensor([0, 1, 2, 3])
    loss = bare_task(stream, 4, alpha=2.0, beta=1.0).train_loss(model, (0, 3))
    assert loss.item() == pytest.approx(math.log(4) + 2.0 * 3.0 + 1.0 * 2.5)
    assert bare_task(stream, 4, 0.0, 0.0).train_loss(model, (0, 3)).item() == pytest.approx(math.log(4))
    # The official ON-LSTM code's AR, on the output before dropout: (0 + 1 + 9) / 3.
    before = bare_task(stream, 4, 2.0, 1.0, ar_after_dropout=False).train_loss(model, (0, 3))
    assert before.item() == pytest.approx(math.log(4) + 2.0 * 10 / 3 + 1.0 * 2.5)
    # The lr scale is the drawn length over bptt (3), even where the window is cut at the end.
    assert bare_task(stream, 4, 2.0, 1.0).lr_scale((0, 6)) == 2.0


class Bigram(nn.Module):
    """A stateless model over ``(N, L)`` tokens, for evaluation checks."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.table = nn.Embedding(vocab, vocab)

    def forward(self, tokens, state=None):
        return self.table(tokens), state


@pytest.mark.parametrize("rows", [1, 3])
def test_evaluation_in_several_streams_is_the_mean_over_every_prediction(rows: int) -> None:
    torch.manual_seed(0)
    stream = torch.randint(0, 7, (101,))
    task = object.__new__(StatefulLanguageModel)
    task.eval_chunk, task.vocab_size, task.char_level = 4, 7, False
    task.eval_data = {"valid": stream[: 101 // rows * rows].view(rows, -1)}
    model = Bigram(7)
    data = task.eval_data["valid"]
    expected = F.cross_entropy(model.table(data[:, :-1]).reshape(-1, 7), data[:, 1:].reshape(-1)).item()
    assert task.evaluate(model, "valid")["loss"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_the_task_reads_valid_in_10_streams_and_test_in_1(prepared_data) -> None:
    task = AWDRecipeLanguageModel("ptb_word", 70, 4, torch.device("cpu"), limit_train=1000, limit_eval=1000)
    assert tuple(task.eval_data["valid"].shape) == (10, 100) and tuple(task.eval_data["test"].shape) == (1, 1000)
    fixed = AWDRecipeLanguageModel(
        "ptb_word", 70, 4, torch.device("cpu"), limit_train=1000, limit_eval=1000, variable_length=False
    )
    assert fixed.train_batches(1, torch.Generator()) == [(0, 70), (70, 70), (140, 70), (210, 70)]
