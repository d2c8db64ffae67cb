"""IndRNN (Li et al. 2018): the cell's gradients, the stack against a loop written from Sec. 3,
the recurrent-weight bound and its enforcement after optimizer steps, and the input layouts."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from shared.models.cells.indrnn import IndRNN, IndRNNCell, register_recurrent_clip
from tests.shared.models.cells.packing import assert_packed_equals_per_sequence

F64 = {"dtype": torch.float64}
TOL = {"rtol": 1e-10, "atol": 1e-12}
NAMES = ("weight_ih", "weight_hh", "bias_ih")


def indrnn_layer(x, weight_ih, weight_hh, bias_ih, h, act=torch.relu):
    """Sec. 3, h_t = act(W x_t + u * h_{t-1} + b), one step at a time; returns all h_t and h_T."""
    outputs = []
    for x_t in x:
        h = act(x_t @ weight_ih.T + weight_hh * h + bias_ih)
        outputs.append(h)
    return torch.stack(outputs), h


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_cell_gradcheck(nonlinearity: str) -> None:
    torch.manual_seed(0)
    cell = IndRNNCell(3, 4, nonlinearity=nonlinearity, **F64)
    names = [name for name, _ in cell.named_parameters()]

    def step(x, h, *params):
        return functional_call(cell, dict(zip(names, params, strict=True)), (x, h))

    inputs = [torch.randn(2, 3, **F64), torch.randn(2, 4, **F64)] + [p.detach().clone() for p in cell.parameters()]
    assert torch.autograd.gradcheck(step, [t.requires_grad_() for t in inputs])


def test_cell_is_the_equation_and_one_stack_step() -> None:
    torch.manual_seed(0)
    cell = IndRNNCell(3, 4, **F64)
    stack = IndRNN(3, 4, **F64)
    stack.load_state_dict({name + "_l0": p for name, p in cell.state_dict().items()})
    x, h = torch.randn(2, 3, **F64), torch.randn(2, 4, **F64)
    expected = torch.relu(x @ cell.weight_ih.T + cell.weight_hh * h + cell.bias_ih)
    torch.testing.assert_close(cell(x, h), expected, **TOL)
    torch.testing.assert_close(cell(x[0], h[0]), expected[0], **TOL)  # unbatched
    output, h_n = stack(x.unsqueeze(0), h.unsqueeze(0))
    torch.testing.assert_close(output[0], expected, **TOL)
    torch.testing.assert_close(h_n[0], expected, **TOL)


@pytest.mark.parametrize("bias", [True, False])
def test_stack_equals_hand_written_loop(bias: bool) -> None:
    """Two bidirectional layers: each direction is the Sec. 3 equation over the sequence (reversed for the
    backward one), layer 2 reads both directions of layer 1."""
    torch.manual_seed(0)
    stack = IndRNN(3, 4, 2, bias=bias, bidirectional=True, **F64)
    x, h0 = torch.randn(6, 2, 3, **F64), torch.randn(4, 2, 4, **F64)
    output, h_n = stack(x, h0)

    layer_input, finals = x, []
    for layer in range(2):
        outputs = []
        for direction, suffix in enumerate(["", "_reverse"]):
            p = {name: getattr(stack, f"{name}_l{layer}{suffix}", None) for name in NAMES}
            bias_ih = p["bias_ih"] if bias else torch.zeros(4, **F64)
            seq = layer_input.flip(0) if direction else layer_input
            out, last = indrnn_layer(seq, p["weight_ih"], p["weight_hh"], bias_ih, h0[2 * layer + direction])
            outputs.append(out.flip(0) if direction else out)
            finals.append(last)
        layer_input = torch.cat(outputs, -1)
    torch.testing.assert_close(output, layer_input, **TOL)
    torch.testing.assert_close(h_n, torch.stack(finals), **TOL)


def test_parameters_and_initialisation() -> None:
    torch.manual_seed(0)
    bound = IndRNN.recurrent_bound(50)
    stack = IndRNN(5, 64, 2, bidirectional=True, recurrent_max_abs=bound)
    shapes = {name: tuple(p.shape) for name, p in stack.named_parameters()}
    expected = {}
    for k, fan_in in ((0, 5), (1, 128)):
        for suffix in ("", "_reverse"):
            expected |= {f"weight_ih_l{k}{suffix}": (64, fan_in), f"weight_hh_l{k}{suffix}": (64,)}
            expected |= {f"bias_ih_l{k}{suffix}": (64,)}
    assert shapes == expected  # no bias_hh
    for name, p in stack.named_parameters():
        if name.startswith("weight_hh"):
            assert 0 <= p.min() and p.max() <= bound
        elif name.startswith("bias_ih"):
            assert not p.any()
        else:
            assert p.abs().max() <= math.sqrt(6 / (65 * p.size(1)))
    assert IndRNNCell(2, 8).weight_hh.max() <= 1.0  # U(0, 1) without a bound
    custom = IndRNN(2, 1000, recurrent_init=(0.5, 0.6))
    assert 0.5 <= custom.weight_hh_l0.min() and custom.weight_hh_l0.max() <= 0.6
    assert "recurrent_max_abs" in repr(stack) and "nonlinearity='tanh'" in repr(IndRNN(2, 3, nonlinearity="tanh"))


def test_recurrent_bound_formula() -> None:
    assert IndRNN.recurrent_bound(100) == pytest.approx(2 ** (1 / 100), rel=1e-15)
    assert IndRNNCell.recurrent_bound(784, gamma=10.0) == pytest.approx(10 ** (1 / 784), rel=1e-15)
    # The point of the bound: the recurrent factor u^T of the gradient is at most gamma.
    assert IndRNN.recurrent_bound(1000) ** 1000 == pytest.approx(2.0, rel=1e-12)
    for bad in ({"seq_len": 0}, {"seq_len": 2.5}, {"seq_len": 10, "gamma": 0.0}):
        with pytest.raises(ValueError):
            IndRNN.recurrent_bound(**bad)


def test_invalid_options() -> None:
    with pytest.raises(ValueError, match="nonlinearity"):
        IndRNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="recurrent_max_abs"):
        IndRNN(2, 3, recurrent_max_abs=0.0)
    with pytest.raises(ValueError, match="reaches outside"):
        IndRNN(2, 3, recurrent_max_abs=1.0, recurrent_init=(0.0, 1.5))
    with pytest.raises(ValueError, match="low <= high"):
        IndRNNCell(2, 3, recurrent_init=(1.0, 0.0))


def test_clip_recurrent_weights_clamps_only_the_recurrent_weights() -> None:
    stack = IndRNN(2, 3, 2, bidirectional=True, recurrent_max_abs=1.5, **F64)
    with torch.no_grad():
        for p in stack.parameters():
            if p.dim() == 1:
                p.copy_(torch.tensor([-4.0, 0.5, 4.0]))
    stack.clip_recurrent_weights_()
    for name, p in stack.named_parameters():
        if name.startswith("weight_hh"):
            assert p.tolist() == [-1.5, 0.5, 1.5]
        elif name.startswith("bias_ih"):
            assert p.tolist() == [-4.0, 0.5, 4.0]
    with pytest.raises(ValueError, match="no bound"):
        IndRNN(2, 3).clip_recurrent_weights_()


def test_registered_clip_holds_the_bound_after_every_step() -> None:
    """SGD with a huge learning rate pushes the recurrent weights far out; the hook brings them back."""
    torch.manual_seed(0)
    bound = IndRNN.recurrent_bound(8)
    model = nn.ModuleDict({"rnn": IndRNN(2, 4, 2, recurrent_max_abs=bound, **F64), "cell": IndRNNCell(2, 4, **F64)})
    optimizer = torch.optim.SGD(model.parameters(), lr=100.0)
    handle = register_recurrent_clip(optimizer, model)  # the unbounded cell is left alone
    with torch.no_grad():  # no ReLU unit starts dead, so every recurrent weight gets a gradient
        for name, p in model.named_parameters():
            if name.startswith("rnn.bias_ih"):
                p.fill_(1.0)
    x = torch.rand(8, 3, 2, **F64) + 0.5
    recurrent = [p for n, p in model["rnn"].named_parameters() if n.startswith("weight_hh")]
    for _ in range(4):
        optimizer.zero_grad()
        output, _ = model["rnn"](x)
        (-output.sum() - model["cell"](x[0]).sum()).backward()  # rewards larger recurrent weights
        optimizer.step()
        assert all(p.abs().max() <= bound for p in recurrent)
        assert max(p.abs().max() for p in recurrent) == bound  # the step did leave the bound
    handle.remove()
    optimizer.zero_grad()
    (-model["rnn"](x)[0].sum()).backward()
    optimizer.step()
    assert max(p.abs().max() for p in recurrent) > bound
    with pytest.raises(ValueError, match="no IndRNN module"):
        register_recurrent_clip(optimizer, IndRNN(2, 3))


def test_packed_bidirectional_input_equals_per_sequence_runs() -> None:
    torch.manual_seed(0)
    stack = IndRNN(3, 4, 2, bidirectional=True, **F64)
    x, h0 = torch.randn(6, 3, 3, **F64), torch.randn(4, 3, 4, **F64)
    assert_packed_equals_per_sequence(stack, x, h0, [4, 6, 1], **TOL)


def test_batch_first_is_a_transpose() -> None:
    torch.manual_seed(0)
    stack = IndRNN(3, 4, 2, bidirectional=True, **F64)
    batch_first = IndRNN(3, 4, 2, bidirectional=True, batch_first=True, **F64)
    batch_first.load_state_dict(stack.state_dict())
    x, h0 = torch.randn(5, 2, 3, **F64), torch.randn(4, 2, 4, **F64)
    output, h_n = stack(x, h0)
    output_bf, h_n_bf = batch_first(x.transpose(0, 1), h0)
    torch.testing.assert_close(output_bf, output.transpose(0, 1), **TOL)
    torch.testing.assert_close(h_n_bf, h_n, **TOL)
