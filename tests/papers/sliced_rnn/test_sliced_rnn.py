"""The Sliced RNN paper's model and recipe: front padding as Keras' pad_sequences, the classifier
against a hand-built recursion over slices and levels, the standard GRU as the k = 0 case, the
paper's theorem that a linear SRNN contains the standard linear RNN, the script's Keras
initialisation, clear errors on bad slicings, and an SRNN that learns IMDb within a minute."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch.nn import functional as F

from papers.sliced_rnn.__main__ import PAPER, build_model, build_task
from papers.sliced_rnn.config import TaskConfig
from papers.sliced_rnn.model import SlicedClassifier, check_slicing, front_pad
from shared.core.config import ConfigError, from_dict
from shared.models.cells import RNN, GRUCell, SlicedRNN
from shared.train import runtime
from shared.train.loop import Trainer

TOL = {"rtol": 1e-10, "atol": 1e-12}


def test_front_pad_is_keras_pad_sequences_pre() -> None:
    tokens = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0], [1, 2, 3, 4]])
    lengths = torch.tensor([3, 2, 4])
    assert front_pad(tokens, lengths, 5).tolist() == [[0, 0, 5, 6, 7], [0, 0, 0, 8, 9], [0, 1, 2, 3, 4]]
    # Longer documents keep their last max_len words (truncating='pre').
    assert front_pad(tokens, lengths, 2).tolist() == [[6, 7], [8, 9], [3, 4]]
    with pytest.raises(ValueError, match="expected tokens"):
        front_pad(tokens[0], lengths, 4)


def classifier(k: int, n: int = 2, max_len: int = 8) -> SlicedClassifier:
    torch.manual_seed(0)
    return SlicedClassifier(20, 3, emb_size=3, hidden=4, n=n, k=k, max_len=max_len).double()


def run_gru(level: torch.nn.Module, xs: list[Tensor]) -> Tensor:
    """The last state of ``level`` (a one-layer GRU) over the vectors ``xs``, from zero, with a cell."""
    cell = GRUCell(level.input_size, level.hidden_size, reset_after=False, activation="linear").double()
    cell.load_state_dict({name.removesuffix("_l0"): w for name, w in level.state_dict().items()})
    h = torch.zeros(level.hidden_size, dtype=torch.float64)
    for x in xs:
        h = cell(x, h)
    return h


def reference_logits(model: SlicedClassifier, tokens: Tensor, lengths: Tensor) -> Tensor:
    """Sec. 3 by hand, one document at a time: pad at the front, slice into n^k minimal
    subsequences, run level 0 on each, then level p on each group of n consecutive states."""
    n, rows = model.rnn.n, []
    for doc, length in zip(tokens, lengths, strict=True):
        words = doc[:length].tolist()[-model.max_len :]
        words = [0] * (model.max_len - len(words)) + words
        states = list(model.embedding.weight[words])
        size = model.max_len // n**model.rnn.k
        for level in model.rnn.levels:
            states = [run_gru(level, states[i : i + size]) for i in range(0, len(states), size)]
            size = n
        (top,) = states
        rows.append(model.output(top))
    return torch.stack(rows)


@pytest.mark.parametrize(("n", "k", "max_len"), [(2, 2, 8), (2, 1, 8), (3, 1, 6), (2, 0, 8)])
def test_classifier_equals_the_recursion_by_hand(n: int, k: int, max_len: int) -> None:
    model = classifier(k, n, max_len)
    tokens = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [13, 14, 15, 0, 0, 0, 0, 0, 0, 0]])
    lengths = torch.tensor([10, 3])
    torch.testing.assert_close(model(tokens, lengths), reference_logits(model, tokens, lengths), **TOL)


def test_the_standard_gru_is_the_one_slice_case() -> None:
    """k = 0: one GRU over all max_len words (the baseline), the same unit as every SRNN level."""
    model = classifier(k=0)
    (gru,) = model.rnn.levels
    tokens, lengths = torch.randint(1, 20, (3, 8)), torch.tensor([8, 5, 2])
    x = model.embedding(front_pad(tokens, lengths, 8)).transpose(0, 1)
    torch.testing.assert_close(model(tokens, lengths), model.output(gru(x)[0][-1]), **TOL)
    assert (gru.reset_after, gru.activation) == (False, "linear")


class LinearRNN(RNN):
    """h_t = W x_t + b + U h_{t-1}: the linear recurrence of the paper's special-case argument."""

    def _step(self, gates_x: Tensor, state: tuple[Tensor, ...], weights: dict[str, Tensor]) -> tuple[Tensor, ...]:
        return (gates_x + F.linear(state[0], weights["weight_hh"], weights.get("bias_hh")),)

    def _make_torch_kernel(self) -> None:
        return None


def test_a_linear_srnn_contains_the_standard_linear_rnn() -> None:
    """With linear activations the standard RNN is an SRNN (Sec. 3): slice of length l from zero
    gives s_m; the whole sequence's state is sum_m U^(l (n-1-m)) s_m, i.e. an upper level with
    input weight I and recurrent weight U^l."""
    torch.manual_seed(0)
    hidden, n, length = 3, 4, 5
    bottom = LinearRNN(2, hidden, dtype=torch.float64)
    with torch.no_grad():
        bottom.weight_hh_l0.mul_(0.5)
    top = LinearRNN(hidden, hidden, dtype=torch.float64)
    with torch.no_grad():
        top.weight_ih_l0.copy_(torch.eye(hidden))
        top.weight_hh_l0.copy_(torch.linalg.matrix_power(bottom.weight_hh_l0 + 0, length))
        for bias in (top.bias_ih_l0, top.bias_hh_l0):
            bias.zero_()
    sliced = SlicedRNN.from_levels([bottom, top], n=n)
    x = torch.randn(n * length, 2, 2, dtype=torch.float64)
    torch.testing.assert_close(sliced(x)[0][-1], bottom(x)[0][-1], **TOL)


def test_keras_initialisation() -> None:
    model = SlicedClassifier(100, 5, emb_size=200, hidden=50, n=8, k=2, max_len=512)
    for p, level in enumerate(model.rnn.levels):
        n_in = 200 if p == 0 else 50
        assert level.weight_ih_l0.abs().max() <= math.sqrt(6 / (n_in + 150))  # Glorot over (input, 3H)
        w_hh = level.weight_hh_l0  # (3H, H), orthonormal columns: Keras' orthogonal (H, 3H) kernel
        torch.testing.assert_close(w_hh.T @ w_hh, torch.eye(50), atol=1e-5, rtol=0)
        assert not level.bias_ih_l0.any() and not level.bias_hh_l0.any()
    weight = model.embedding.weight
    assert weight.min() >= 0 and weight.max() < 1 and 0.45 < weight.mean() < 0.55  # U[0, 1), np.random.random
    assert not model.output.bias.any()


def test_the_script_settings() -> None:
    cfg = PAPER.config("imdb_srnn", "paper")
    assert dataclasses.astuple(cfg.model) == (200, 50, 8, 2, 512, "linear")
    assert (cfg.train.optimizer, cfg.train.lr, cfg.train.batch_size, cfg.train.epochs) == ("adam", 0.001, 100, 10)
    assert (cfg.data.vocab_size, cfg.train.selection) == (30000, "best_valid")
    gru = PAPER.config("imdb_gru", "paper")
    assert gru.model == dataclasses.replace(cfg.model, k=0) and gru.train == cfg.train and gru.data == cfg.data
    for profile in ("cpu", "paper"):  # the baseline differs from the SRNN by the slicing only
        srnn, base = PAPER.config("imdb_srnn", profile), PAPER.config("imdb_gru", profile)
        assert (base.model.k, dataclasses.replace(base.model, k=2), base.train) == (0, srnn.model, srnn.train)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"max_len": 500},
            "model.max_len: 500 words can not be sliced 2 times into n=8 equal parts: "
            "it must be a multiple of n\\*\\*k = 64",
        ),
        ({"n": 3, "k": 1, "max_len": 512}, "multiple of n\\*\\*k = 3"),
        ({"n": 0}, "model.n: 0 must be an int >= 1"),
        ({"k": -1}, "model.k: -1 must be an int >= 0"),
        ({"activation": "relu"}, "model.activation: 'relu' is not one of tanh, linear"),
    ],
)
def test_bad_slicing_is_a_clear_error(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(TaskConfig, {"model": settings, "train": {"epochs": 1}}, "params.yaml: ")
    with pytest.raises(ValueError):  # the model refuses it too, without the config
        SlicedClassifier(10, 2, **{"n": 8, "k": 2, "max_len": 512, **settings})


def test_a_document_whose_length_is_not_a_multiple_reaches_the_srnn_padded() -> None:
    """The task's reviews have any length: front_pad makes every one max_len words, so no review
    trips SlicedRNN's own length check."""
    model = classifier(k=2)
    assert model(torch.tensor([[4, 5, 6]]), torch.tensor([3])).shape == (1, 3)
    with pytest.raises(ValueError, match="multiple of n\\*\\*k = 4"):
        model.rnn(torch.randn(1, 7, 3, dtype=torch.float64))
    check_slicing(512, 8, 2)  # the paper's SRNN(8, 2)


def test_srnn_learns_imdb_within_a_minute(tmp_path: Path, prepared_data: Path) -> None:
    """A small SRNN(4, 2) over the last 64 words of 3,000 reviews beats a constant guess (about 50 %)
    on 500 held-out reviews by a clear margin after three epochs (~30 s on 1 thread; 64 % after two)."""
    cfg = from_dict(
        TaskConfig,
        {
            "data": {"vocab_size": 5000, "eval_batch_size": 250, "limit_train": 3000, "limit_eval": 500},
            "model": {"emb_size": 32, "hidden": 32, "n": 4, "k": 2, "max_len": 64},
            "train": {"epochs": 3, "batch_size": 50, "lr": 0.003, "seeds": [1]},
        },
        "test: ",
    )
    start = time.perf_counter()
    runtime.seed_everything(1)
    task = build_task(cfg, 1, torch.device("cpu"))
    model = build_model(cfg, task)
    Trainer(model, task, cfg.train, tmp_path, seed=1, fingerprint="learns", progress=False).fit()
    accuracy = task.evaluate(model, "valid")["accuracy_pct"]
    assert time.perf_counter() - start < 90
    assert accuracy > 60, accuracy
