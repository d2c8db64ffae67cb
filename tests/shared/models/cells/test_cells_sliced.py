"""The sliced RNN (Yu & Liu 2018): with k = 0 (one slice, one level) it is the plain stack; SRNN(2, 1)
on T = 4 equals the two recurrences composed by hand with cells; subsequences are independent;
shapes, per-level cells and input validation. Float64 throughout."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence

from shared.models.cells import GRU, LSTM, RNN, GRUCell, LSTMCell
from shared.models.cells.sliced import SlicedRNN

INPUT, HIDDEN, BATCH = 3, 4, 2
F64 = {"dtype": torch.float64}
TOL = {"rtol": 1e-10, "atol": 1e-12}
STACKS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def randn(*shape: int, seed: int = 0) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), **F64)


def as_tuple(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return (state,) if isinstance(state, Tensor) else tuple(state)


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("with_state", [True, False], ids=["h0", "no_h0"])
@pytest.mark.parametrize("cell", STACKS)
def test_one_slice_one_level_is_the_plain_stack(cell: str, with_state: bool, batch_first: bool) -> None:
    torch.manual_seed(0)
    sliced = SlicedRNN(STACKS[cell], INPUT, HIDDEN, n=3, k=0, batch_first=batch_first, num_layers=2, **F64)
    plain = STACKS[cell](INPUT, HIDDEN, num_layers=2, batch_first=batch_first, **F64)
    plain.load_state_dict(sliced.levels[0].state_dict())
    x = randn(BATCH, 5, INPUT) if batch_first else randn(5, BATCH, INPUT)
    h0 = randn(2, BATCH, HIDDEN, seed=1)
    hx = (h0, randn(2, BATCH, HIDDEN, seed=2)) if cell == "lstm" else h0
    ours, reference = sliced(x, hx if with_state else None), plain(x, hx if with_state else None)
    torch.testing.assert_close(ours[0], reference[0], **TOL)
    for s, r in zip(as_tuple(ours[1]), as_tuple(reference[1]), strict=True):
        torch.testing.assert_close(s, r, **TOL)


def cell_with_weights_of(cell_cls: type, level: torch.nn.Module) -> torch.nn.Module:
    cell = cell_cls(level.input_size, level.hidden_size, **F64)
    cell.load_state_dict({name.removesuffix("_l0"): w for name, w in level.state_dict().items()})
    return cell


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_two_levels_equal_the_composition_by_hand(cell: str) -> None:
    """SRNN(n=2, k=1) on T = 4: the bottom recurrence reads (x0, x1) and (x2, x3) from zeros, the
    top one reads their last hidden states from h_0."""
    torch.manual_seed(0)
    model = SlicedRNN(STACKS[cell], INPUT, HIDDEN, n=2, k=1, **F64)
    cell_cls = {"gru": GRUCell, "lstm": LSTMCell}[cell]
    bottom, top = (cell_with_weights_of(cell_cls, level) for level in model.levels)
    x = randn(4, BATCH, INPUT)
    h0 = randn(1, BATCH, HIDDEN, seed=1)
    hx = (h0, randn(1, BATCH, HIDDEN, seed=2)) if cell == "lstm" else h0

    def last_h(step_cell: torch.nn.Module, inputs: list[Tensor], state=None):
        for x_t in inputs:
            state = step_cell(x_t, state)
        return state

    def h(state) -> Tensor:
        return as_tuple(state)[0]

    slices = [h(last_h(bottom, [x[0], x[1]])), h(last_h(bottom, [x[2], x[3]]))]
    top_state = tuple(s[0] for s in as_tuple(hx))
    top_state = top(slices[0], top_state if cell == "lstm" else top_state[0])
    first_output = h(top_state)
    top_state = top(slices[1], top_state)

    output, state = model(x, hx)
    torch.testing.assert_close(output, torch.stack([first_output, h(top_state)]), **TOL)
    for ours, reference in zip(as_tuple(state), as_tuple(top_state), strict=True):
        torch.testing.assert_close(ours, reference.unsqueeze(0), **TOL)


def test_a_slice_reads_only_its_own_steps() -> None:
    """SRNN(2, 2) on T = 8: the top output after the first slice reads all of steps 0-3, nothing
    later and nothing of the other sequence in the batch."""
    torch.manual_seed(0)
    model = SlicedRNN(GRU, INPUT, HIDDEN, n=2, k=2, **F64)
    x = randn(8, BATCH, INPUT).requires_grad_()
    output, _ = model(x)
    (grad,) = torch.autograd.grad(output[0, 0].sum(), x)
    assert grad[:4, 0].abs().sum(-1).gt(0).all() and not grad[4:].any() and not grad[:, 1].any()


@pytest.mark.parametrize("layout", ["time_major", "batch_first", "unbatched"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_shapes(cell: str, layout: str) -> None:
    model = SlicedRNN(STACKS[cell], INPUT, HIDDEN, n=2, k=2, batch_first=layout == "batch_first")
    x = {"time_major": torch.randn(8, BATCH, INPUT), "batch_first": torch.randn(BATCH, 8, INPUT)}.get(
        layout, torch.randn(8, INPUT)
    )
    output, state = model(x)
    assert output.shape == {"time_major": (2, BATCH, HIDDEN), "batch_first": (BATCH, 2, HIDDEN)}.get(
        layout, (2, HIDDEN)
    )
    state_shape = (1, HIDDEN) if layout == "unbatched" else (1, BATCH, HIDDEN)
    assert [s.shape for s in as_tuple(state)] == [state_shape] * (2 if cell == "lstm" else 1)
    torch.testing.assert_close(output[-1] if layout != "batch_first" else output[:, -1], as_tuple(state)[0][-1])


def test_paper_default_and_per_level_cells() -> None:
    default = SlicedRNN(GRU, INPUT, HIDDEN)
    assert (default.n, default.k, len(default.levels)) == (8, 2, 3) and "n=8, k=2" in repr(default)
    assert default(torch.randn(128, BATCH, INPUT))[0].shape == (8, BATCH, HIDDEN)  # minimal length 2

    mixed = SlicedRNN([GRU, LSTM, RNN], INPUT, HIDDEN, n=2, k=2)
    assert [type(level) for level in mixed.levels] == [GRU, LSTM, RNN]
    assert mixed(torch.randn(8, BATCH, INPUT))[1].shape == (1, BATCH, HIDDEN)

    widths = SlicedRNN.from_levels([GRU(INPUT, 5), LSTM(5, 6)], n=4)
    output, (h_n, c_n) = widths(torch.randn(8, BATCH, INPUT))
    assert output.shape == (4, BATCH, 6) and widths.k == 1 and widths.hidden_size == 6


def test_invalid_lengths_and_inputs() -> None:
    model = SlicedRNN(GRU, INPUT, HIDDEN, n=2, k=2)
    with pytest.raises(ValueError, match=r"T=6 .* multiple of n\*\*k = 4"):
        model(torch.randn(6, BATCH, INPUT))
    with pytest.raises(ValueError, match="T=0"):
        model(torch.randn(0, BATCH, INPUT))
    with pytest.raises(NotImplementedError, match="pad the batch"):
        model(pack_padded_sequence(torch.randn(8, BATCH, INPUT), torch.tensor([8, 4])))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: SlicedRNN(GRU, 3, 4, n=0), "n must be an int >= 1"),
        (lambda: SlicedRNN(GRU, 3, 4, k=-1), "k must be an int >= 0"),
        (lambda: SlicedRNN([GRU, GRU], 3, 4, n=2, k=2), "needs 3 cells"),
        (lambda: SlicedRNN(GRU, 3, 4, bidirectional=True), "bidirectional=True"),
        (lambda: SlicedRNN.from_levels([GRU(3, 4), GRU(5, 4)]), "reads 5 features"),
    ],
    ids=["n", "k", "cells", "bidirectional", "sizes"],
)
def test_invalid_configurations(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()
