"""The synthetic tasks of the TCN paper: layout, statistics, seeding and trivial baselines."""

from __future__ import annotations

import math

import pytest
import torch

from shared.data.synthetic import adding_problem, copy_memory


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("one_per_half", [False, True])
@pytest.mark.parametrize("seq_len", [2, 7, 50])
def test_adding_problem_layout(seq_len: int, one_per_half: bool) -> None:
    x, y = adding_problem(500, seq_len, _generator(0), one_per_half=one_per_half)
    assert x.shape == (500, 2, seq_len) and x.dtype == torch.float32
    assert y.shape == (500, 1) and y.dtype == torch.float32
    values, markers = x[:, 0], x[:, 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(markers.unique().tolist()) <= {0.0, 1.0}
    assert (markers.sum(dim=1) == 2).all()
    if one_per_half:
        assert (markers[:, : seq_len // 2].sum(dim=1) == 1).all()
        assert (markers[:, math.ceil(seq_len / 2) :].sum(dim=1) == 1).all()
    torch.testing.assert_close(y[:, 0], (values * markers).sum(dim=1))


def test_adding_problem_positions_cover_every_pair_uniformly() -> None:
    x, _ = adding_problem(30000, 4, _generator(3))
    # 4 positions -> 6 unordered pairs, each with probability 1/6.
    pairs = x[:, 1].nonzero()[:, 1].view(-1, 2)
    codes = pairs[:, 0] * 4 + pairs[:, 1]
    counts = torch.bincount(codes, minlength=16).float()
    frequencies = counts[counts > 0] / len(codes)
    assert len(frequencies) == 6
    assert torch.allclose(frequencies, torch.full((6,), 1 / 6), atol=0.01)


def test_adding_problem_predict_one_baseline() -> None:
    _, y = adding_problem(20000, 100, _generator(1))
    # The target is the sum of two independent U(0, 1): mean 1, variance 1/6.
    assert ((y - 1) ** 2).mean().item() == pytest.approx(1 / 6, abs=0.01)


def test_copy_memory_layout() -> None:
    n, blank_len, seq_len = 300, 25, 10
    x, y = copy_memory(n, blank_len, _generator(0))
    length = blank_len + 2 * seq_len
    assert x.shape == y.shape == (n, length)
    assert x.dtype == y.dtype == torch.int64
    symbols = x[:, :seq_len]
    assert ((symbols >= 1) & (symbols <= 8)).all()
    assert set(symbols.unique().tolist()) == set(range(1, 9))
    assert (x[:, seq_len : seq_len + blank_len - 1] == 0).all()
    assert (x[:, seq_len + blank_len - 1 :] == 9).all()
    assert x[:, seq_len + blank_len - 1 :].shape[1] == seq_len + 1
    assert (y[:, : seq_len + blank_len] == 0).all()
    assert torch.equal(y[:, seq_len + blank_len :], symbols)


def test_copy_memory_other_seq_len() -> None:
    x, y = copy_memory(4, 1, _generator(0), seq_len=3)
    assert x.shape == y.shape == (4, 7)
    assert (x[:, 3:] == 9).all() and torch.equal(y[:, 4:], x[:, :3])


@pytest.mark.parametrize("generate", [lambda g: adding_problem(64, 30, g), lambda g: copy_memory(64, 30, g)])
def test_same_seed_same_data_and_no_global_rng(generate) -> None:
    global_state = torch.get_rng_state()
    first, second, other = generate(_generator(7)), generate(_generator(7)), generate(_generator(8))
    assert torch.equal(torch.get_rng_state(), global_state)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not torch.equal(first[0], other[0])


@pytest.mark.parametrize("blank_len", [20, 100])
def test_copy_memory_memoryless_baseline(blank_len: int) -> None:
    # The best memoryless predictor knows only the position: fit its per-position distribution
    # over the 10 classes on one sample, then score its cross-entropy on another.
    _, y_fit = copy_memory(4000, blank_len, _generator(0))
    _, y_eval = copy_memory(4000, blank_len, _generator(1))
    counts = torch.nn.functional.one_hot(y_fit, 10).sum(dim=0).double() + 1  # Laplace smoothing
    log_probs = (counts / counts.sum(dim=1, keepdim=True)).log()
    cross_entropy = -log_probs.gather(1, y_eval.T).mean().item()
    assert cross_entropy == pytest.approx(10 * math.log(8) / (blank_len + 20), rel=0.02)
