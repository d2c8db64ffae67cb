"""The torch.nn contract of the shared stacks beyond numerical parity: parameter names, shapes and
init, options, dropout, input validation, the two execution paths, the weights hook for
regularizers, and that a new recurrence only needs its parameter shapes and its step."""

from __future__ import annotations

import copy
import math
import warnings
from collections import Counter

import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils import parametrize
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.profiler import ProfilerActivity, profile

from shared.models.cells import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from shared.models.cells.base import RecurrentCell, RecurrentModule, RecurrentStack

F64 = {"dtype": torch.float64}
TOL = {"rtol": 1e-10, "atol": 1e-12}
STACKS = {"rnn": (RNN, nn.RNN), "lstm": (LSTM, nn.LSTM), "gru": (GRU, nn.GRU)}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("mode", STACKS)
def test_parameters_and_state_dict_are_torchs(mode: str, bidirectional: bool, bias: bool) -> None:
    ours_cls, torch_cls = STACKS[mode]
    ours = ours_cls(3, 4, 2, bias=bias, bidirectional=bidirectional)
    reference = torch_cls(3, 4, 2, bias=bias, bidirectional=bidirectional)
    shapes = {name: p.shape for name, p in ours.named_parameters()}
    assert shapes == {name: p.shape for name, p in reference.named_parameters()}
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert list(ours.modules()) == [ours]  # the torch kernel is no submodule
    ours.load_state_dict(reference.state_dict())


def test_variants_keep_torchs_names() -> None:
    lstm = LSTM(3, 4, 2, bidirectional=True, forget_gate=False)
    gru = GRU(3, 4, 2, bidirectional=True, reset_after=False)
    assert list(lstm.state_dict()) == list(nn.LSTM(3, 4, 2, bidirectional=True).state_dict())
    assert {n: p.shape[0] for n, p in lstm.named_parameters()} == dict.fromkeys(lstm.state_dict(), 12)  # i, g, o
    assert {n: p.shape for n, p in gru.named_parameters()} == {
        n: p.shape for n, p in nn.GRU(3, 4, 2, bidirectional=True).named_parameters()
    }
    assert "forget_gate=False" in repr(lstm) and "reset_after=False" in repr(gru)


@pytest.mark.parametrize(
    "make",
    [lambda: LSTM(3, 16, 2), lambda: GRU(3, 16, bidirectional=True), lambda: RNN(3, 16), lambda: LSTMCell(3, 16)],
    ids=["lstm", "gru", "rnn", "lstm_cell"],
)
def test_init_is_uniform_in_inverse_sqrt_hidden(make) -> None:
    torch.manual_seed(0)
    module = make()
    bound = 1 / math.sqrt(16)
    values = torch.cat([p.detach().flatten() for p in module.parameters()])
    assert values.max() <= bound and values.min() >= -bound
    assert values.max() > 0.9 * bound and values.min() < -0.9 * bound
    module.reset_parameters()
    assert not torch.equal(values, torch.cat([p.detach().flatten() for p in module.parameters()]))


def test_forget_bias_is_split_over_both_biases() -> None:
    stack = LSTM(3, 4, 2, bidirectional=True, forget_bias=1.0)
    assert stack._uses_torch_kernel()  # an initial value, not another function
    cell = LSTMCell(3, 4, forget_bias=2.0)
    for module, suffixes, value in ((stack, ["_l0", "_l0_reverse", "_l1", "_l1_reverse"], 1.0), (cell, [""], 2.0)):
        for suffix in suffixes:
            b_ih, b_hh = getattr(module, "bias_ih" + suffix), getattr(module, "bias_hh" + suffix)
            assert torch.all(b_ih[4:8] == value / 2) and torch.all(b_hh[4:8] == value / 2)
            assert torch.all(b_ih[:4].abs() <= 0.5) and not torch.all(b_ih[:4] == value / 2)
    with pytest.raises(ValueError, match="forget gate"):
        LSTM(3, 4, forget_gate=False, forget_bias=1.0)
    with pytest.raises(ValueError, match="bias=True"):
        LSTMCell(3, 4, bias=False, forget_bias=1.0)


@pytest.mark.parametrize("fast_path", [None, False], ids=["kernel", "loop"])
def test_dropout_between_layers(fast_path: bool | None) -> None:
    torch.manual_seed(0)
    ours = LSTM(3, 4, 3, dropout=0.5, fast_path=fast_path, **F64)
    reference = nn.LSTM(3, 4, 3, dropout=0.5, **F64)
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(5, 2, 3, **F64)
    ours.eval()
    reference.eval()
    out, (h_n, _) = ours(x)
    torch.testing.assert_close(out, ours(x)[0], rtol=0, atol=0)
    torch.testing.assert_close(out, reference(x)[0], **TOL)
    ours.train()
    first, (h_train, _) = ours(x)
    second = ours(x)[0]
    assert not torch.allclose(first, second) and not torch.allclose(first, out)
    # The first layer's state sees no dropout: dropout acts between layers only.
    torch.testing.assert_close(h_train[0], h_n[0], **TOL)


def test_dropout_validation_and_single_layer_warning() -> None:
    for bad in (-0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match="dropout"):
            GRU(3, 4, 2, dropout=bad)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LSTM(3, 4, dropout=0.3)
    assert len(caught) == 1 and "num_layers greater than 1" in str(caught[0].message)


def test_invalid_inputs_give_clear_errors() -> None:
    lstm, gru = LSTM(3, 4, 2, batch_first=True), GRU(3, 4, 2, bidirectional=True)
    with pytest.raises(ValueError, match="expected input with 3 features"):
        lstm(torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match="expected input with 3 features"):
        gru(pack_padded_sequence(torch.randn(5, 2, 6), torch.tensor([5, 3])))
    with pytest.raises(ValueError, match="2-D .* or 3-D, got 4-D"):
        gru(torch.randn(1, 5, 2, 3))
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(4, 2, 4\), got \(2, 2, 4\)"):
        gru(torch.randn(5, 2, 3), torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(4, 4\)"):
        gru(torch.randn(5, 3), torch.zeros(4, 1, 4))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(2, 2, 4\), got \(2, 4, 4\)"):
        lstm(torch.randn(2, 5, 3), (torch.zeros(2, 2, 4), torch.zeros(2, 4, 4)))  # (L*D, N, H) even batch_first
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\)"):
        lstm(torch.randn(2, 5, 3), torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="fast_path=True"):
        GRU(3, 4, reset_after=False, fast_path=True)
    with pytest.raises(ValueError, match="hidden_size"):
        LSTM(3, 0)
    cell = LSTMCell(3, 4)
    with pytest.raises(ValueError, match="expected input with 3 features"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(2, 4\), got \(4,\)"):
        cell(torch.randn(2, 3), (torch.zeros(4), torch.zeros(4)))
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        GRUCell(3, 4)(torch.randn(1, 2, 3))


KERNEL_OPS = {"rnn": "aten::rnn_tanh", "lstm": "aten::lstm", "gru": "aten::gru"}


@pytest.mark.parametrize("mode", STACKS)
def test_fast_path_calls_torchs_kernel_and_loop_hoists_the_input_projection(mode: str) -> None:
    stack = STACKS[mode][0](3, 4, 2, bidirectional=True)
    x = torch.randn(6, 2, 3)

    def ops() -> Counter:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            stack(x)
        return Counter(event.name for event in prof.events())

    assert ops()[KERNEL_OPS[mode]] == 1
    stack.fast_path = False
    counts = ops()
    assert counts[KERNEL_OPS[mode]] == 0
    layer_directions, steps = 4, 6
    # One input projection per layer and direction, one recurrent product per step (GRU's
    # reset-after form needs a single one too).
    assert counts["aten::linear"] == layer_directions * (1 + steps)


class MaskedLSTM(LSTM):
    """A stand-in for a DropConnect regularizer: the recurrent weights of layer 0 times a mask
    fixed for the whole forward."""

    def __init__(self, *args, mask: torch.Tensor, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mask = mask

    def _weights(self) -> dict[str, torch.Tensor]:
        weights = super()._weights()
        return weights | {"weight_hh_l0": weights["weight_hh_l0"] * self.mask}


@pytest.mark.parametrize("fast_path", [None, False], ids=["kernel", "loop"])
def test_weights_hook_supplies_the_weights_of_one_forward(fast_path: bool | None) -> None:
    torch.manual_seed(0)
    mask = (torch.rand(16, 4) > 0.5).double()
    ours = MaskedLSTM(3, 4, 2, mask=mask, fast_path=fast_path, **F64)
    reference = nn.LSTM(3, 4, 2, **F64)
    reference.load_state_dict(ours.state_dict())
    with torch.no_grad():
        reference.weight_hh_l0.mul_(mask)
    x = torch.randn(5, 2, 3, **F64)
    out, reference_out = ours(x)[0], reference(x)[0]
    torch.testing.assert_close(out, reference_out, **TOL)
    out.sum().backward()
    reference_out.sum().backward()
    torch.testing.assert_close(ours.weight_hh_l0.grad, mask * reference.weight_hh_l0.grad, **TOL)
    copy.deepcopy(ours)  # the kernel keeps no masked (non-leaf) tensor in the way of a copy


class Mask(nn.Module):
    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask


@pytest.mark.parametrize("fast_path", [None, False], ids=["kernel", "loop"])
def test_functional_call_and_parametrizations_supply_weights(fast_path: bool | None) -> None:
    torch.manual_seed(0)
    ours = GRU(3, 4, bidirectional=True, fast_path=fast_path, **F64)
    reference = nn.GRU(3, 4, bidirectional=True, **F64)
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(5, 2, 3, **F64)
    replacement = torch.randn(12, 4, **F64)
    torch.testing.assert_close(
        functional_call(ours, {"weight_hh_l0_reverse": replacement}, (x,))[0],
        functional_call(reference, {"weight_hh_l0_reverse": replacement}, (x,))[0],
        **TOL,
    )
    mask = (torch.rand(12, 4) > 0.5).double()
    parametrize.register_parametrization(ours, "weight_hh_l0", Mask(mask))
    with torch.no_grad():
        reference.weight_hh_l0.mul_(mask)
    torch.testing.assert_close(ours(x)[0], reference(x)[0], **TOL)


def test_kernel_is_kept_out_of_conversion_and_copies() -> None:
    stack = LSTM(3, 4, 2, bidirectional=True)
    stack(torch.randn(5, 2, 3))
    stack.to(torch.float64)
    copied = copy.deepcopy(stack)
    x = torch.randn(5, 2, 3, **F64)
    torch.testing.assert_close(copied(x)[0], stack(x)[0], rtol=0, atol=0)
    assert sum(p.numel() for p in stack.parameters()) == sum(
        p.numel() for p in nn.LSTM(3, 4, 2, bidirectional=True).parameters()
    )


class _ScaledRecurrence(RecurrentModule):
    """A toy element-wise recurrence, h_t = tanh(W x_t + b + u * h_{t-1}) (IndRNN-like, tanh)."""

    def _parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        return {
            "weight_ih": (self.hidden_size, input_size),
            "weight_hh": (self.hidden_size,),
            "bias_ih": (self.hidden_size,),
        }

    def _step(self, gates_x, state, weights):
        return (torch.tanh(gates_x + weights["weight_hh"] * state[0]),)


class ScaledRNN(_ScaledRecurrence, RecurrentStack):
    pass


class ScaledRNNCell(_ScaledRecurrence, RecurrentCell):
    pass


def test_a_new_recurrence_gets_layouts_packing_directions_and_layers() -> None:
    torch.manual_seed(0)
    stack = ScaledRNN(3, 4, 2, bidirectional=True, batch_first=True, **F64)
    assert stack.weight_hh_l1_reverse.shape == (4,) and stack.weight_ih_l1.shape == (4, 8)
    assert not stack._uses_torch_kernel()
    lengths = [4, 1, 3]
    x = torch.randn(3, 4, 3, **F64)
    h0 = torch.randn(4, 3, 4, **F64)
    packed_out, h_n = stack(pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False), h0)
    padded, _ = pad_packed_sequence(packed_out, batch_first=True)
    for n, length in enumerate(lengths):  # each sequence alone, unbatched, gives the same
        alone, alone_h_n = stack(x[n, :length], h0[:, n])
        torch.testing.assert_close(padded[n, :length], alone, **TOL)
        torch.testing.assert_close(h_n[:, n], alone_h_n, **TOL)

    cell = ScaledRNNCell(3, 4, **F64)
    one_layer = ScaledRNN(3, 4, batch_first=True, **F64)
    cell.load_state_dict({name.removesuffix("_l0"): p for name, p in one_layer.state_dict().items()})
    torch.testing.assert_close(cell(x[:, 0], h0[0]), one_layer(x[:, :1], h0[:1])[1][0], **TOL)
    with pytest.raises(ValueError, match="fast_path=True"):
        ScaledRNN(3, 4, fast_path=True)
