"""Invariants of the dilated RNN (Chang et al. 2017): the interleave round trip, equality with the
plain stack when every dilation is 1, the dependency pattern of the dilated skip connection, the
definition of h_n, packed batches, shapes and input validation. Float64 throughout."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from shared.models.cells import GRU, LSTM, RNN
from shared.models.cells.base import RecurrentStack
from shared.models.cells.dilated import DilatedRNN, deinterleave, interleave

INPUT, HIDDEN, BATCH = 3, 4, 2
F64 = {"dtype": torch.float64}
TOL = {"rtol": 1e-10, "atol": 1e-12}


class ElementwiseRNN(RecurrentStack):
    """An IndRNN-like recurrence on the loop path: any RecurrentStack can be a dilated layer."""

    def _parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        return {"weight_ih": (self.hidden_size, input_size), "weight_hh": (self.hidden_size,)}

    def _step(self, gates_x: Tensor, state: tuple[Tensor, ...], weights: dict[str, Tensor]) -> tuple[Tensor, ...]:
        return (torch.tanh(gates_x + weights["weight_hh"] * state[0]),)


CELLS = {
    "rnn": RNN,
    "lstm": LSTM,
    "gru": GRU,
    "gru_loop": functools.partial(GRU, reset_after=False),
    "elementwise": ElementwiseRNN,
}


def randn(*shape: int, seed: int = 0) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), **F64)


def as_tuple(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return (state,) if isinstance(state, Tensor) else tuple(state)


def initial_state(cell: str, rows: int, batch: int) -> Tensor | tuple[Tensor, Tensor]:
    h = randn(rows, batch, HIDDEN, seed=1)
    return (h, randn(rows, batch, HIDDEN, seed=2)) if cell == "lstm" else h


@pytest.mark.parametrize("dilation", [1, 2, 3, 4])
@pytest.mark.parametrize("length", [1, 2, 3, 5, 7, 8])
def test_interleave_layout_and_round_trip(length: int, dilation: int) -> None:
    x = randn(length, BATCH, 3)
    y = interleave(x, dilation)
    steps = -(-length // dilation)
    assert y.shape == (steps, dilation * BATCH, 3)
    for phase in range(dilation):
        sub = x[phase::dilation]  # rows phase * N ... hold this phase, zero-padded at the end
        block = y[:, phase * BATCH : (phase + 1) * BATCH]
        assert block[: len(sub)].equal(sub) and not block[len(sub) :].any()
    assert deinterleave(y, dilation, length).equal(x)


def test_deinterleave_rejects_a_wrong_length() -> None:
    with pytest.raises(ValueError, match="no interleaved sequence"):
        deinterleave(torch.zeros(3, 4, 1), 2, 7)


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("with_state", [True, False], ids=["h0", "no_h0"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_dilations_of_one_equal_the_plain_stack(cell: str, with_state: bool, batch_first: bool) -> None:
    torch.manual_seed(0)
    plain = CELLS[cell](INPUT, HIDDEN, num_layers=3, batch_first=batch_first, **F64)
    dilated = DilatedRNN(CELLS[cell], INPUT, HIDDEN, 3, dilations=[1, 1, 1], batch_first=batch_first, **F64)
    for i, layer in enumerate(dilated.layers):
        layer.load_state_dict(
            {name: getattr(plain, name.removesuffix("_l0") + f"_l{i}") for name in layer.state_dict()}
        )
    x = randn(BATCH, 5, INPUT) if batch_first else randn(5, BATCH, INPUT)
    hx = initial_state(cell, 3, BATCH) if with_state else None
    results = []
    for module in (plain, dilated):
        inp = x.clone().requires_grad_()
        output, state = module(inp, hx)
        (output.sum() + sum(s.sum() for s in as_tuple(state))).backward()
        results.append((output, *as_tuple(state), inp.grad))
    for ours, reference in zip(*results, strict=True):
        torch.testing.assert_close(ours, reference, **TOL)


def reachable_offsets(dilations: list[int], length: int) -> set[int]:
    """The lags o such that the top output at t reads x at t - o: sums of multiples of the dilations."""
    offsets = {0}
    for d in dilations:
        offsets = {o + a * d for o in offsets for a in range(length) if o + a * d < length}
    return offsets


@pytest.mark.parametrize("dilations", [[3], [2, 4], [1, 3]], ids=str)
@pytest.mark.parametrize("cell", CELLS)
def test_output_reads_only_the_dilated_past(cell: str, dilations: list[int]) -> None:
    torch.manual_seed(0)
    length = 10
    model = DilatedRNN(CELLS[cell], INPUT, HIDDEN, len(dilations), dilations=dilations, **F64)
    offsets = reachable_offsets(dilations, length)
    x = randn(length, BATCH, INPUT).requires_grad_()
    output, _ = model(x)
    for t in range(length):
        (grad,) = torch.autograd.grad(output[t, 0].sum(), x, retain_graph=True)
        read = {s for s in range(length) if grad[s, 0].abs().sum() > 0}
        assert read == {t - o for o in offsets if o <= t}, f"t={t}"
        assert not grad[:, 1].any()  # nor the other sequence of the batch


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_h_n_is_the_state_after_the_last_step(cell: str) -> None:
    """h_n[l] is the final state of the sub-sequence (phase (L - 1) mod d) holding step L - 1,
    computed by the layer's stack alone on that sub-sequence; output[-1] is the top layer's h_n."""
    torch.manual_seed(0)
    length, dilations = 8, [3, 2]
    model = DilatedRNN(CELLS[cell], INPUT, HIDDEN, 2, dilations=dilations, **F64)
    x, hx = randn(length, BATCH, INPUT), initial_state(cell, 2, BATCH)
    output, state = model(x, hx)
    hx = as_tuple(hx)

    first = DilatedRNN.from_layers([model.layers[0]], dilations=[3])
    below, _ = first(x, tuple(s[:1] for s in hx) if cell == "lstm" else hx[0][:1])
    for i, (inp, d) in enumerate(zip([x, below], dilations, strict=True)):
        phase = (length - 1) % d
        layer_hx = tuple(s[i : i + 1] for s in hx)
        _, expected = model.layers[i](inp[phase::d], layer_hx if cell == "lstm" else layer_hx[0])
        for ours, reference in zip(as_tuple(state), as_tuple(expected), strict=True):
            torch.testing.assert_close(ours[i], reference[0], **TOL)
    torch.testing.assert_close(output[-1], as_tuple(state)[0][-1], **TOL)


@pytest.mark.parametrize("cell", ["lstm", "gru", "elementwise"])
def test_packed_batch_equals_each_sequence_alone(cell: str) -> None:
    torch.manual_seed(0)
    lengths = [7, 3, 5, 1]  # unsorted; some shorter than a dilation
    model = DilatedRNN(CELLS[cell], INPUT, HIDDEN, 3, dilations=[1, 2, 4], **F64)
    x, hx = randn(7, len(lengths), INPUT), initial_state(cell, 3, len(lengths))
    packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    output, state = model(packed, hx)
    assert isinstance(output, PackedSequence)
    assert output.batch_sizes.equal(packed.batch_sizes) and output.sorted_indices.equal(packed.sorted_indices)
    padded, _ = pad_packed_sequence(output)
    for n, length in enumerate(lengths):
        alone_hx = tuple(s[:, n] for s in as_tuple(hx))
        alone, alone_state = model(x[:length, n], alone_hx if cell == "lstm" else alone_hx[0])
        torch.testing.assert_close(padded[:length, n], alone, **TOL)
        for ours, reference in zip(as_tuple(state), as_tuple(alone_state), strict=True):
            torch.testing.assert_close(ours[:, n], reference, **TOL)


@pytest.mark.parametrize("layout", ["time_major", "batch_first", "unbatched"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_shapes(cell: str, layout: str) -> None:
    model = DilatedRNN(CELLS[cell], INPUT, HIDDEN, 3, batch_first=layout == "batch_first")
    length = 7
    shape = {"time_major": (length, BATCH), "batch_first": (BATCH, length), "unbatched": (length,)}[layout]
    state_shape = (3, HIDDEN) if layout == "unbatched" else (3, BATCH, HIDDEN)
    hx = torch.zeros(state_shape)
    output, state = model(torch.randn(*shape, INPUT), (hx, hx) if cell == "lstm" else hx)
    assert output.shape == (*shape, HIDDEN)
    assert [s.shape for s in as_tuple(state)] == [state_shape] * (2 if cell == "lstm" else 1)
    assert model.dilations == (1, 2, 4)


def test_options_reach_every_layer_and_parameters_are_the_layers() -> None:
    model = DilatedRNN(RNN, INPUT, HIDDEN, 2, nonlinearity="relu", bias=False)
    assert all(layer.nonlinearity == "relu" and not layer.bias for layer in model.layers)
    assert [name for name, _ in model.named_parameters()] == [
        "layers.0.weight_ih_l0",
        "layers.0.weight_hh_l0",
        "layers.1.weight_ih_l0",
        "layers.1.weight_hh_l0",
    ]
    assert "dilations=(1, 2)" in repr(model)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: DilatedRNN(GRU, 3, 4, 2, dilations=[1]), ValueError, "2 layers but 1 dilations"),
        (lambda: DilatedRNN(GRU, 3, 4, 2, dilations=[1, 0]), ValueError, "positive int"),
        (lambda: DilatedRNN(GRU, 3, 4, 1, bidirectional=True), ValueError, "bidirectional=True"),
        (lambda: DilatedRNN(functools.partial(GRU, batch_first=True), 3, 4, 1), ValueError, "batch_first=True"),
        (lambda: DilatedRNN.from_layers([GRU(3, 4, 2)]), ValueError, "num_layers=2"),
        (lambda: DilatedRNN.from_layers([GRU(3, 4), GRU(5, 4)]), ValueError, "reads 5 features"),
        (lambda: DilatedRNN.from_layers([GRU(3, 4), GRU(4, 5)]), ValueError, "same hidden_size"),
        (lambda: DilatedRNN(GRU, 3, 4, 1, dropout=1.5), ValueError, "dropout"),
    ],
    ids=["count", "zero", "bidirectional", "batch_first", "multi_layer", "sizes", "hidden", "dropout"],
)
def test_invalid_configurations(make, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_invalid_inputs() -> None:
    model = DilatedRNN(GRU, INPUT, HIDDEN, 2)
    with pytest.raises(ValueError, match="input_size"):
        model(torch.randn(5, BATCH, INPUT + 1))
    with pytest.raises(ValueError, match=r"shape \(2, 2, 4\)"):
        model(torch.randn(5, BATCH, INPUT), torch.zeros(1, BATCH, HIDDEN))
    with pytest.raises(TypeError, match="different forms"):
        DilatedRNN.from_layers([GRU(INPUT, HIDDEN), LSTM(HIDDEN, HIDDEN)])(torch.randn(5, BATCH, INPUT))
