"""QRNN (Bradbury et al. 2017): the chunked forget-mult against its loop, gradients, the three
poolings against loops written from Sec. 2, causality, zoneout, save_prev_x and the layouts."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence

from shared.models.cells.qrnn import QRNN, _zoneout_forget, forget_mult, forget_mult_reference
from tests.shared.models.cells.packing import assert_packed_equals_per_sequence

F64 = {"dtype": torch.float64}
TOL = {"rtol": 1e-10, "atol": 1e-10}

# 1-15: plain loop; 16 = 4 * 4 exactly; 23, 50: chunks plus a remainder; 100: 10 chunks of 10.
LENGTHS = [1, 2, 15, 16, 23, 50, 100]


@pytest.mark.parametrize("with_h0", [True, False], ids=["h0", "no_h0"])
@pytest.mark.parametrize("length", LENGTHS)
def test_forget_mult_equals_reference_loop(length: int, with_h0: bool) -> None:
    torch.manual_seed(length)
    f = torch.rand(length, 3, 5, **F64).requires_grad_()
    x = torch.randn(length, 3, 5, **F64).requires_grad_()
    h0 = torch.randn(3, 5, **F64).requires_grad_() if with_h0 else None
    fast, reference = forget_mult(f, x, h0), forget_mult_reference(f, x, h0)
    torch.testing.assert_close(fast, reference, **TOL)
    inputs = [t for t in (f, x, h0) if t is not None]
    grad = torch.randn_like(fast)
    for a, b in zip(torch.autograd.grad(fast, inputs, grad), torch.autograd.grad(reference, inputs, grad), strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_forget_mult_is_the_recurrence() -> None:
    """Two steps by hand: h1 = f1 h0 + x1, h2 = f2 h1 + x2; and a non-contiguous input."""
    f, x, h0 = torch.tensor([[0.5], [0.25]], **F64), torch.tensor([[1.0], [2.0]], **F64), torch.tensor([4.0], **F64)
    assert forget_mult(f, x, h0).flatten().tolist() == [3.0, 2.75]
    gates = torch.rand(40, 6, 2, **F64)
    f, x = gates.unbind(-1)  # strided views
    torch.testing.assert_close(forget_mult(f, x), forget_mult_reference(f, x), **TOL)
    with pytest.raises(ValueError, match="one shape"):
        forget_mult(f, x[:, :3])
    with pytest.raises(ValueError, match="h0"):
        forget_mult(f, x, torch.zeros(5, **F64))


@pytest.mark.parametrize("length", [5, 20])
def test_forget_mult_gradcheck(length: int) -> None:
    torch.manual_seed(0)
    f = torch.rand(length, 2, 3, **F64).requires_grad_()
    x = torch.randn(length, 2, 3, **F64).requires_grad_()
    h0 = torch.randn(2, 3, **F64).requires_grad_()
    assert torch.autograd.gradcheck(forget_mult, (f, x, h0))
    assert torch.autograd.gradcheck(lambda f, x: forget_mult(f, x), (f, x))


@pytest.mark.parametrize("pooling", ["f", "fo", "ifo"])
def test_qrnn_layer_gradcheck(pooling: str) -> None:
    torch.manual_seed(0)
    qrnn = QRNN(2, 2, window=2, pooling=pooling, **F64)
    names = [name for name, _ in qrnn.named_parameters()]

    def run(x, h0, *params):
        return functional_call(qrnn, dict(zip(names, params, strict=True)), (x, h0))

    params = [p.detach().clone() for p in qrnn.parameters()]
    inputs = [torch.randn(17, 1, 2, **F64), torch.randn(1, 1, 2, **F64), *params]
    assert torch.autograd.gradcheck(run, [t.requires_grad_() for t in inputs])


def hand_qrnn_layer(x, weight, bias, c, pooling):
    """Sec. 2 with a window of 2, one step at a time: gates from W^1 x_{t-1} + W^2 x_t + b (x_0 = 0)."""
    w1, w2 = weight.chunk(2, dim=1)  # column blocks: oldest input first
    previous = torch.zeros_like(x[0])
    outputs = []
    for x_t in x:
        gates = (previous @ w1.T + x_t @ w2.T + bias).chunk(len(pooling) + 1, -1)
        z, f = torch.tanh(gates[0]), torch.sigmoid(gates[1])
        if pooling == "f":
            c = f * c + (1 - f) * z
            h = c
        elif pooling == "fo":
            c = f * c + (1 - f) * z
            h = torch.sigmoid(gates[2]) * c
        else:
            c = f * c + torch.sigmoid(gates[3]) * z
            h = torch.sigmoid(gates[2]) * c
        outputs.append(h)
        previous = x_t
    return torch.stack(outputs), c


@pytest.mark.parametrize("pooling", ["f", "fo", "ifo"])
def test_poolings_equal_hand_written_loop(pooling: str) -> None:
    torch.manual_seed(0)
    qrnn = QRNN(3, 4, 2, window=2, pooling=pooling, **F64)
    assert qrnn.weight_ih_l0.shape == (len(pooling) * 4 + 4, 6) and qrnn.weight_ih_l1.shape[1] == 8
    x, h0 = torch.randn(20, 2, 3, **F64), torch.randn(2, 2, 4, **F64)
    output, h_n = qrnn(x, h0)
    layer_input, finals = x, []
    for layer in range(2):
        weight, bias = getattr(qrnn, f"weight_ih_l{layer}"), getattr(qrnn, f"bias_ih_l{layer}")
        layer_input, c = hand_qrnn_layer(layer_input, weight, bias, h0[layer], pooling)
        finals.append(c)
    torch.testing.assert_close(output, layer_input, **TOL)
    torch.testing.assert_close(h_n, torch.stack(finals), **TOL)  # h_n is the memory c_T


def test_causal_convolution() -> None:
    """Outputs up to step t do not depend on inputs after t (two layers of window 2); later ones do."""
    torch.manual_seed(0)
    qrnn = QRNN(3, 4, 2, window=2, **F64)
    x = torch.randn(10, 2, 3, **F64)
    changed = x.clone()
    changed[6:] = torch.randn(4, 2, 3, **F64)
    output, changed_output = qrnn(x)[0], qrnn(changed)[0]
    torch.testing.assert_close(changed_output[:6], output[:6], rtol=0, atol=0)
    assert (changed_output[6:] - output[6:]).abs().amin(dim=(1, 2)).gt(0).all()


def test_zoneout_is_stochastic_in_training_and_its_expectation_in_eval() -> None:
    torch.manual_seed(0)
    f = torch.rand(200, 50, **F64)
    zoned = _zoneout_forget(f, 0.25, training=True)
    kept = zoned == 1
    torch.testing.assert_close(zoned[~kept], f[~kept], rtol=1e-15, atol=1e-15)  # 1 - (1 - f) is f
    assert 0.23 < kept.double().mean() < 0.27  # no rescaling: f is set to 1, never scaled
    torch.testing.assert_close(_zoneout_forget(f, 0.25, training=False), 1 - 0.75 * (1 - f), rtol=0, atol=0)
    assert _zoneout_forget(f, 0.0, training=True) is f

    qrnn = QRNN(3, 4, zoneout=0.5, **F64)
    reference = QRNN(3, 4, **F64)
    reference.load_state_dict(qrnn.state_dict())
    x = torch.randn(8, 2, 3, **F64)
    assert not torch.equal(qrnn(x)[0], qrnn(x)[0])  # training: a fresh mask per call
    qrnn.eval()
    torch.testing.assert_close(qrnn(x)[0], qrnn(x)[0], rtol=0, atol=0)  # eval: deterministic
    assert not torch.allclose(qrnn(x)[0], reference(x)[0])  # ... with the expected gate, not f itself
    qrnn.zoneout = 0.0
    torch.testing.assert_close(qrnn(x)[0], reference(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("window", [2, 3])
def test_save_prev_x_runs_a_sequence_in_pieces_like_whole(window: int) -> None:
    torch.manual_seed(0)
    qrnn = QRNN(3, 4, 2, window=window, save_prev_x=True, **F64)
    whole = QRNN(3, 4, 2, window=window, **F64)
    whole.load_state_dict(qrnn.state_dict())
    x = torch.randn(12, 2, 3, **F64)
    expected, expected_h_n = whole(x)
    outputs, h = [], None
    for piece in x.split([5, 1, 6]):  # a piece shorter than window - 1 too
        output, h = qrnn(piece, h)
        outputs.append(output)
    torch.testing.assert_close(torch.cat(outputs), expected, **TOL)
    torch.testing.assert_close(h, expected_h_n, **TOL)
    qrnn.reset()
    torch.testing.assert_close(qrnn(x)[0], expected, **TOL)
    with pytest.raises(ValueError, match="reset"):
        qrnn(torch.randn(3, 5, 3, **F64))  # another batch size without reset()


def test_kept_inputs_carried_by_the_caller_continue_the_sequence_across_another_batch_size() -> None:
    """A language model carries the kept steps with the pooling state (checkpoints, evaluation at
    batch size 1 between training windows): restoring them with ``reset(kept)`` continues the
    sequence exactly, whatever ran in between."""
    torch.manual_seed(0)
    qrnn = QRNN(3, 4, 2, window=2, save_prev_x=True, **F64)
    x = torch.randn(10, 2, 3, **F64)
    expected, _ = qrnn(x)
    qrnn.reset()
    _, h = qrnn(x[:4])
    kept = qrnn.kept_inputs
    assert [k.shape for k in kept] == [(1, 2, 3), (1, 2, 4)] and not any(k.requires_grad for k in kept)
    torch.testing.assert_close(kept[0], x[3:4])
    qrnn.reset()
    qrnn(torch.randn(7, 1, 3, **F64))  # another stream, another batch size
    qrnn.reset(kept)
    torch.testing.assert_close(qrnn(x[4:], h)[0], expected[4:], **TOL)
    with pytest.raises(ValueError, match="one entry per layer"):
        qrnn.reset(kept[:1])


def test_save_prev_x_limits() -> None:
    with pytest.raises(ValueError, match="bidirectional"):
        QRNN(3, 4, bidirectional=True, save_prev_x=True)
    qrnn = QRNN(3, 4, window=2, save_prev_x=True)
    with pytest.raises(ValueError, match="PackedSequence"):
        qrnn(pack_padded_sequence(torch.randn(4, 2, 3), torch.tensor([4, 2])))


def test_packed_bidirectional_input_equals_per_sequence_runs() -> None:
    torch.manual_seed(0)
    qrnn = QRNN(3, 4, 2, bidirectional=True, window=2, pooling="ifo", **F64)
    x, h0 = torch.randn(7, 3, 3, **F64), torch.randn(4, 3, 4, **F64)
    assert_packed_equals_per_sequence(qrnn, x, h0, [4, 7, 1], **TOL)


def test_shapes_layouts_and_parameters() -> None:
    torch.manual_seed(0)
    qrnn = QRNN(3, 4, 2, bidirectional=True, window=2, **F64)
    batch_first = QRNN(3, 4, 2, bidirectional=True, window=2, batch_first=True, **F64)
    batch_first.load_state_dict(qrnn.state_dict())
    assert {n: tuple(p.shape) for n, p in qrnn.named_parameters()} == {
        "weight_ih_l0": (12, 6),
        "bias_ih_l0": (12,),
        "weight_ih_l0_reverse": (12, 6),
        "bias_ih_l0_reverse": (12,),
        "weight_ih_l1": (12, 16),
        "bias_ih_l1": (12,),
        "weight_ih_l1_reverse": (12, 16),
        "bias_ih_l1_reverse": (12,),
    }
    x = torch.randn(5, 2, 3, **F64)
    output, h_n = qrnn(x)
    assert output.shape == (5, 2, 8) and h_n.shape == (4, 2, 4)
    output_bf, h_n_bf = batch_first(x.transpose(0, 1))
    torch.testing.assert_close(output_bf, output.transpose(0, 1), **TOL)
    torch.testing.assert_close(h_n_bf, h_n, **TOL)
    output_1, h_n_1 = qrnn(x[:, 0])
    assert output_1.shape == (5, 8) and h_n_1.shape == (4, 4)
    torch.testing.assert_close(output_1, output[:, 0], **TOL)
    assert not hasattr(QRNN(3, 4, bias=False), "bias_ih_l0")
    assert "window=2" in repr(qrnn) and "pooling='ifo'" in repr(QRNN(3, 4, pooling="ifo"))
    for bad in ({"window": 0}, {"pooling": "o"}, {"zoneout": 1.0}):
        with pytest.raises(ValueError):
            QRNN(3, 4, **bad)
