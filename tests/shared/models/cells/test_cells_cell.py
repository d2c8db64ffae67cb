"""Single-step cells: parity with torch.nn.*Cell, gradcheck of every variant, and the paper
variants (LSTM without forget gate, GRU with the reset gate before the product) against
references written from the papers' equations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence

from shared.models.cells import GRU, LSTM, GRUCell, LSTMCell, RNNCell

CELLS = {
    "rnn_tanh": (RNNCell, nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (LSTMCell, nn.LSTMCell, {}),
    "gru": (GRUCell, nn.GRUCell, {}),
}
TOL = {"rtol": 1e-10, "atol": 1e-12}
F64 = {"dtype": torch.float64}


@pytest.mark.parametrize("with_state", [True, False], ids=["h0", "no_h0"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("mode", CELLS)
def test_cell_matches_torch(mode: str, batched: bool, with_state: bool) -> None:
    torch.manual_seed(0)
    ours_cls, torch_cls, options = CELLS[mode]
    reference = torch_cls(3, 4, **F64, **options)
    ours = ours_cls(3, 4, **F64, **options)
    assert {n: p.shape for n, p in ours.named_parameters()} == {n: p.shape for n, p in reference.named_parameters()}
    ours.load_state_dict(reference.state_dict())
    x = torch.randn((2, 3) if batched else (3,), **F64)
    states = [torch.randn((2, 4) if batched else (4,), **F64) for _ in range(2 if mode == "lstm" else 1)]

    def run(cell: nn.Module) -> list[torch.Tensor]:
        inputs = [t.clone().requires_grad_() for t in [x, *states]]
        hx = None if not with_state else inputs[1] if len(states) == 1 else tuple(inputs[1:])
        out = cell(inputs[0], hx)
        outs = [out] if isinstance(out, torch.Tensor) else list(out)
        sum((o * (i + 1)).sum() for i, o in enumerate(outs)).backward()
        grads = [t.grad for t in inputs[: 1 + len(states) * with_state]] + [p.grad for p in cell.parameters()]
        return [o.detach() for o in outs] + grads

    for a, b in zip(run(ours), run(reference), strict=True):
        torch.testing.assert_close(a, b, **TOL)


GRADCHECK_CELLS = {
    "rnn_tanh": lambda: RNNCell(3, 2, **F64),
    "rnn_relu": lambda: RNNCell(3, 2, nonlinearity="relu", **F64),
    "lstm": lambda: LSTMCell(3, 2, **F64),
    "lstm_no_forget_gate": lambda: LSTMCell(3, 2, forget_gate=False, **F64),
    "gru": lambda: GRUCell(3, 2, **F64),
    "gru_reset_before": lambda: GRUCell(3, 2, reset_after=False, **F64),
}


@pytest.mark.parametrize("variant", GRADCHECK_CELLS)
def test_cell_gradcheck(variant: str) -> None:
    torch.manual_seed(0)
    cell = GRADCHECK_CELLS[variant]()
    names = [name for name, _ in cell.named_parameters()]
    num_states = 2 if variant.startswith("lstm") else 1

    def step(x, *tensors):
        states, params = tensors[:num_states], tensors[num_states:]
        hx = states[0] if num_states == 1 else tuple(states)
        return functional_call(cell, dict(zip(names, params, strict=True)), (x, hx))

    inputs = [torch.randn(2, 3, **F64)] + [torch.randn(2, 2, **F64) for _ in range(num_states)]
    inputs += [p.detach().clone() for p in cell.parameters()]
    assert torch.autograd.gradcheck(step, [t.requires_grad_() for t in inputs])


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTM(2, 2, 2, bidirectional=True, forget_gate=False, fast_path=False, **F64),
        lambda: GRU(2, 2, 2, bidirectional=True, reset_after=False, fast_path=False, **F64),
    ],
    ids=["lstm_no_forget_gate", "gru_reset_before"],
)
def test_loop_stack_gradcheck_with_packed_input(make) -> None:
    torch.manual_seed(0)
    stack = make()
    num_states = 2 if isinstance(stack, LSTM) else 1

    def run(x, *states):
        output, final = stack(
            pack_padded_sequence(x, torch.tensor([2, 4, 1]), enforce_sorted=False),
            states[0] if num_states == 1 else states,
        )
        return (output.data, *([final] if num_states == 1 else final))

    inputs = [torch.randn(4, 3, 2, **F64)] + [torch.randn(4, 3, 2, **F64) for _ in range(num_states)]
    assert torch.autograd.gradcheck(run, [t.requires_grad_() for t in inputs])


def cho_gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """Cho et al. (2014), Sec. 2.3, Eqs. 5-8, one matrix per gate (plus torch's biases)."""
    (w_r, w_z, w), (u_r, u_z, u) = weight_ih.chunk(3), weight_hh.chunk(3)
    (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = bias_ih.chunk(3), bias_hh.chunk(3)
    r = torch.sigmoid(x @ w_r.T + b_ir + h @ u_r.T + b_hr)  # Eq. 5
    z = torch.sigmoid(x @ w_z.T + b_iz + h @ u_z.T + b_hz)  # Eq. 6
    h_tilde = torch.tanh(x @ w.T + b_in + (r * h) @ u.T + b_hn)  # Eq. 8
    return z * h + (1 - z) * h_tilde  # Eq. 7


def test_gru_reset_before_is_cho_eq8() -> None:
    torch.manual_seed(0)
    gru = GRU(3, 4, reset_after=False, **F64)
    cell = GRUCell(3, 4, reset_after=False, **F64)
    cell.load_state_dict({name.removesuffix("_l0"): p for name, p in gru.state_dict().items()})
    weights = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    x, h = torch.randn(6, 2, 3, **F64), torch.randn(2, 4, **F64)

    torch.testing.assert_close(cell(x[0], h), cho_gru_step(x[0], h, *weights), **TOL)
    expected = []
    state = h
    for x_t in x:
        state = cho_gru_step(x_t, state, *weights)
        expected.append(state)
    output, h_n = gru(x, h.unsqueeze(0))
    torch.testing.assert_close(output, torch.stack(expected), **TOL)
    torch.testing.assert_close(h_n[0], state, **TOL)
    # The two forms differ: the test would not notice a swapped flag otherwise.
    torch_form = nn.GRUCell(3, 4, **F64)
    torch_form.load_state_dict(cell.state_dict())
    assert not torch.allclose(torch_form(x[0], h), cell(x[0], h))


@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
def test_gru_linear_candidate_is_the_tanh_form_without_the_tanh(reset_after: bool) -> None:
    """``activation="linear"`` (Keras' ``GRU(activation=None)``, the Sliced RNN script's unit): the
    candidate is the tanh form's pre-activation; the stack runs the loop and matches the cell."""
    torch.manual_seed(0)
    cell = GRUCell(3, 4, reset_after=reset_after, activation="linear", **F64)
    weights = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    x, h = torch.randn(5, 2, 3, **F64), torch.randn(2, 4, **F64)
    (w_r, w_z, w), (u_r, u_z, u) = weights[0].chunk(3), weights[1].chunk(3)
    (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = weights[2].chunk(3), weights[3].chunk(3)
    r = torch.sigmoid(x[0] @ w_r.T + b_ir + h @ u_r.T + b_hr)
    z = torch.sigmoid(x[0] @ w_z.T + b_iz + h @ u_z.T + b_hz)
    recurrent = r * (h @ u.T + b_hn) if reset_after else (r * h) @ u.T + b_hn
    n = x[0] @ w.T + b_in + recurrent  # no tanh
    torch.testing.assert_close(cell(x[0], h), z * h + (1 - z) * n, **TOL)

    gru = GRU(3, 4, reset_after=reset_after, activation="linear", **F64)
    gru.load_state_dict({f"{name}_l0": p for name, p in cell.state_dict().items()})
    assert not gru._uses_torch_kernel() and "activation='linear'" in repr(gru)
    state, expected = h, []
    for x_t in x:
        state = cell(x_t, state)
        expected.append(state)
    torch.testing.assert_close(gru(x, h.unsqueeze(0))[0], torch.stack(expected), **TOL)
    tanh_form = GRUCell(3, 4, reset_after=reset_after, **F64)
    tanh_form.load_state_dict(cell.state_dict())
    assert not torch.allclose(tanh_form(x[0], h), cell(x[0], h))
    with pytest.raises(ValueError, match="activation 'relu' is not one of tanh, linear"):
        GRU(3, 4, activation="relu")


def test_lstm_without_forget_gate_hand_computed() -> None:
    """One unit, gates (i, g, o) with pre-activations (0, ln 2, 0): i = o = 1/2, g = tanh(ln 2) = 3/5,
    so the cell adds 3/10 per step and never forgets: c = 0.5 -> 0.8 -> 1.1."""
    cell = LSTMCell(1, 1, forget_gate=False, **F64)
    stack = LSTM(1, 1, forget_gate=False, **F64)
    assert cell.weight_ih.shape == (3, 1) and stack.weight_hh_l0.shape == (3, 1)
    with torch.no_grad():
        for module, suffix in ((cell, ""), (stack, "_l0")):
            for p in module.parameters():
                p.zero_()
            getattr(module, "weight_ih" + suffix)[1] = math.log(2.0)
    x, h0, c0 = torch.ones(1, 1, **F64), torch.zeros(1, 1, **F64), torch.full((1, 1), 0.5, **F64)

    h1, c1 = cell(x, (h0, c0))
    assert c1.item() == pytest.approx(0.8, abs=1e-15)
    assert h1.item() == pytest.approx(0.5 * math.tanh(0.8), abs=1e-15)
    output, (h_n, c_n) = stack(torch.ones(2, 1, 1, **F64), (h0.unsqueeze(0), c0.unsqueeze(0)))
    expected = [0.5 * math.tanh(0.8), 0.5 * math.tanh(1.1)]
    assert output.flatten().tolist() == pytest.approx(expected, abs=1e-15)
    assert c_n.item() == pytest.approx(1.1, abs=1e-15)
