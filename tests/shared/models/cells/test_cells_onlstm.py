"""ON-LSTM (Shen et al. 2019): the stack and the cell against the paper's Eqs. (9)-(14) written out
plainly here, cumax and master-gate monotonicity, chunk repetition, the distances (shape, layout,
range, backward direction in input order), DropConnect masks (one per forward, off in eval),
packed/batch-first consistency with per-sequence runs, gradcheck, and argument checks. Float64."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from shared.models.cells.onlstm import ONLSTM, ONLSTMCell, cumax

F64 = {"dtype": torch.float64}
TOL = {"rtol": 1e-10, "atol": 1e-12}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def reference_layer(x, h, c, w, chunk_size):
    """One layer over a time-major ``x`` (L, N, H_in), straight from Eqs. (9)-(14), with the master
    gates repeated chunk_size times explicitly. Returns outputs, (h, c), distances (L, N)."""
    hidden = h.size(-1)
    n = hidden // chunk_size
    outputs, distances = [], []
    for x_t in x:
        gates = x_t @ w["weight_ih"].T + w["bias_ih"] + h @ w["weight_hh"].T + w["bias_hh"]
        master_input_pre, master_forget_pre = gates[:, :n], gates[:, n : 2 * n]
        o, c_hat, i, f = gates[:, 2 * n :].split(hidden, 1)
        master_forget = torch.cumsum(torch.softmax(master_forget_pre, -1), -1)  # Eq. (9)
        master_input = 1 - torch.cumsum(torch.softmax(master_input_pre, -1), -1)  # Eq. (10)
        mf = master_forget.repeat_interleave(chunk_size, -1)
        mi = master_input.repeat_interleave(chunk_size, -1)
        omega = mf * mi  # Eq. (11)
        f_hat = torch.sigmoid(f) * omega + (mf - omega)  # Eq. (12)
        i_hat = torch.sigmoid(i) * omega + (mi - omega)  # Eq. (13)
        c = f_hat * c + i_hat * torch.tanh(c_hat)  # Eq. (14)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
        distances.append(1 - master_forget.sum(-1) / n)  # the official distance_cforget
    return torch.stack(outputs), (h, c), torch.stack(distances)


def layer_weights(module, suffix):
    return {name: getattr(module, name + suffix) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


@pytest.mark.parametrize("chunk_size", [1, 2, 4])
def test_stack_matches_the_papers_equations(chunk_size: int) -> None:
    model = ONLSTM(3, 4, 2, chunk_size=chunk_size, **F64)
    x = torch.randn(5, 2, 3, **F64)
    h0, c0 = torch.randn(2, 2, 4, **F64), torch.randn(2, 2, 4, **F64)
    output, (h_n, c_n), distances = model(x, (h0, c0), return_distances=True)
    layer_input, finals, expected_distances = x, [], []
    for k in range(2):
        layer_input, state, d = reference_layer(layer_input, h0[k], c0[k], layer_weights(model, f"_l{k}"), chunk_size)
        finals.append(state)
        expected_distances.append(d)
    torch.testing.assert_close(output, layer_input, **TOL)
    torch.testing.assert_close(h_n, torch.stack([s[0] for s in finals]), **TOL)
    torch.testing.assert_close(c_n, torch.stack([s[1] for s in finals]), **TOL)
    torch.testing.assert_close(distances, torch.stack(expected_distances), **TOL)
    plain_output, (plain_h, plain_c) = model(x, (h0, c0))  # the torch contract without the flag
    torch.testing.assert_close(plain_output, output, **TOL)
    torch.testing.assert_close(plain_c, c_n, **TOL)


def test_backward_direction_distances_are_in_input_order() -> None:
    model = ONLSTM(3, 4, bidirectional=True, chunk_size=2, **F64)
    forward_only = ONLSTM(3, 4, chunk_size=2, **F64)
    with torch.no_grad():
        for name, weight in layer_weights(model, "_l0_reverse").items():
            getattr(forward_only, name + "_l0").copy_(weight)
    x = torch.randn(6, 2, 3, **F64)
    output, _, distances = model(x, return_distances=True)
    reversed_output, _, reversed_distances = forward_only(x.flip(0), return_distances=True)
    torch.testing.assert_close(output[..., 4:], reversed_output.flip(0), **TOL)
    torch.testing.assert_close(distances[1], reversed_distances[0].flip(0), **TOL)


def test_cumax_is_a_monotone_cdf() -> None:
    x = 5 * torch.randn(7, 9, **F64)
    y = cumax(x)
    assert torch.all(y.diff(dim=-1) >= 0) and torch.all(y >= 0) and torch.all(y <= 1 + 1e-12)
    torch.testing.assert_close(y[:, -1], torch.ones(7, **F64), **TOL)
    torch.testing.assert_close(cumax(x.T, dim=0), y.T, **TOL)


def saturated_cell(chunk_size: int, cell_input_bias: float) -> ONLSTMCell:
    """A cell whose standard gates are saturated (i = f = 1, o irrelevant) and whose cell input is
    tanh(cell_input_bias), so that c_1 = master_forget * c_0 + master_input * tanh(cell_input_bias)
    with the master gates repeated over the chunks; only the master-gate biases are random."""
    cell = ONLSTMCell(3, 8, chunk_size=chunk_size, **F64)
    hidden, n = 8, 8 // chunk_size
    with torch.no_grad():
        for weight in cell.parameters():
            weight.zero_()
        cell.bias_ih[: 2 * n] = 3 * torch.randn(2 * n, **F64)
        cell.bias_ih[2 * n + hidden : 2 * n + 2 * hidden] = cell_input_bias
        cell.bias_ih[2 * n + 2 * hidden :] = 60.0  # sigmoid(60) == 1.0 in float64
    return cell


@pytest.mark.parametrize("chunk_size", [1, 2, 4])
def test_master_gates_are_monotone_and_repeated_over_chunks(chunk_size: int) -> None:
    n = 8 // chunk_size
    x = torch.randn(2, 3, **F64)
    # c_0 = 1, cell input 0: c_1 is the repeated master forget gate, rising to 1.
    forget_cell = saturated_cell(chunk_size, 0.0)
    (_, master_forget), distance = forget_cell(
        x, (torch.randn(2, 8, **F64), torch.ones(2, 8, **F64)), return_distances=True
    )
    # c_0 = 0, cell input 1: c_1 is the repeated master input gate, falling to 0.
    input_cell = saturated_cell(chunk_size, 60.0)
    _, master_input = input_cell(x, (torch.randn(2, 8, **F64), torch.zeros(2, 8, **F64)))
    for gate in (master_forget, master_input):
        chunks = gate.view(2, n, chunk_size)
        torch.testing.assert_close(chunks, chunks[..., :1].expand_as(chunks), **TOL)
        assert torch.all(gate >= 0) and torch.all(gate <= 1 + 1e-12)
    assert torch.all(master_forget.diff(dim=-1) >= 0)
    assert torch.all(master_input.diff(dim=-1) <= 0)
    torch.testing.assert_close(master_forget[:, -1], torch.ones(2, **F64), **TOL)
    torch.testing.assert_close(master_input[:, -1], torch.zeros(2, **F64), **TOL)
    torch.testing.assert_close(distance, 1 - master_forget.mean(-1), **TOL)


def test_distances_shape_layout_and_range() -> None:
    model = ONLSTM(3, 8, 2, bidirectional=True, chunk_size=2, **F64)  # D_m = 4: d in [0, 0.75]
    x = 3 * torch.randn(6, 5, 3, **F64)
    _, _, distances = model(x, return_distances=True)
    assert distances.shape == (4, 6, 5)
    assert distances.min() >= -1e-12 and distances.max() <= 1 - 2 / 8 + 1e-12
    model.batch_first = True
    _, _, batch_first = model(x.transpose(0, 1), return_distances=True)
    torch.testing.assert_close(batch_first, distances.transpose(1, 2), **TOL)
    model.batch_first = False
    _, _, unbatched = model(x[:, 3], return_distances=True)
    torch.testing.assert_close(unbatched, distances[:, :, 3], **TOL)
    _, _, one_chunk = ONLSTM(3, 8, chunk_size=8, **F64)(x, return_distances=True)
    assert torch.all(one_chunk == 0)  # a single master dimension always keeps everything


def test_packed_and_batch_first_match_per_sequence_runs() -> None:
    model = ONLSTM(3, 4, 2, bidirectional=True, chunk_size=2, **F64)
    lengths = [4, 2, 5]
    x = torch.randn(5, 3, 3, **F64)
    h0, c0 = torch.randn(4, 3, 4, **F64), torch.randn(4, 3, 4, **F64)
    packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    output, (h_n, c_n), distances = model(packed, (h0, c0), return_distances=True)
    padded, _ = pad_packed_sequence(output)
    assert distances.shape == (4, 5, 3)
    for n, length in enumerate(lengths):
        out_n, (h_nn, c_nn), d_n = model(x[:length, n], (h0[:, n], c0[:, n]), return_distances=True)
        torch.testing.assert_close(padded[:length, n], out_n, **TOL)
        torch.testing.assert_close(h_n[:, n], h_nn, **TOL)
        torch.testing.assert_close(c_n[:, n], c_nn, **TOL)
        torch.testing.assert_close(distances[:, :length, n], d_n, **TOL)
        assert torch.all(distances[:, length:, n] == 0)

    batch_first = ONLSTM(3, 4, 2, batch_first=True, bidirectional=True, chunk_size=2, **F64)
    batch_first.load_state_dict(model.state_dict())
    full, (h_full, _), d_full = model(x, (h0, c0), return_distances=True)
    full_bf, (h_bf, _), d_bf = batch_first(x.transpose(0, 1), (h0, c0), return_distances=True)
    torch.testing.assert_close(full_bf, full.transpose(0, 1), **TOL)
    torch.testing.assert_close(h_bf, h_full, **TOL)  # states keep (layers * D, N, H)
    torch.testing.assert_close(d_bf, d_full.transpose(1, 2), **TOL)


def test_dropconnect_one_mask_per_forward_off_in_eval() -> None:
    p = 0.5
    model = ONLSTM(3, 16, chunk_size=4, dropconnect=p, **F64)
    plain = ONLSTM(3, 16, chunk_size=4, **F64)
    plain.load_state_dict(model.state_dict())
    x = torch.randn(6, 2, 3, **F64)

    # The forward reads its weights once through _weights(), before anything else random.
    torch.manual_seed(1)
    masked = model._weights()
    torch.manual_seed(1)
    output, _, distances = model(x, return_distances=True)
    mask = masked["weight_hh_l0"] / model.weight_hh_l0
    assert set(mask.unique().tolist()) == {0.0, 1.0}  # the official non-inverted form
    assert abs((mask == 0).double().mean().item() - p) < 0.1
    assert torch.equal(masked["weight_ih_l0"], model.weight_ih_l0)  # only the recurrent weights
    assert torch.equal(masked["bias_hh_l0"], model.bias_hh_l0)
    # One fixed matrix reproduces every step of every sequence: the mask did not change in the forward.
    expected, _, expected_distances = functional_call(
        plain, {"weight_hh_l0": masked["weight_hh_l0"]}, (x,), {"return_distances": True}
    )
    torch.testing.assert_close(output, expected, **TOL)
    torch.testing.assert_close(distances, expected_distances, **TOL)

    assert not torch.equal(model._weights()["weight_hh_l0"], model._weights()["weight_hh_l0"])
    assert not torch.allclose(model(x)[0], model(x)[0])

    model.eval()
    evaluated = model(x)[0]
    torch.testing.assert_close(model(x)[0], evaluated, rtol=0, atol=0)
    expected_eval = functional_call(plain, {"weight_hh_l0": (1 - p) * plain.weight_hh_l0}, (x,))[0]
    torch.testing.assert_close(evaluated, expected_eval, **TOL)

    output.sum().backward()
    assert torch.all(model.weight_hh_l0.grad[mask == 0] == 0)  # dropped weights get no gradient


def test_cell_gradcheck() -> None:
    cell = ONLSTMCell(3, 4, chunk_size=2, **F64)
    names = [name for name, _ in cell.named_parameters()]

    def step(x, h, c, *params):
        (h1, c1), distance = functional_call(
            cell, dict(zip(names, params, strict=True)), (x, (h, c)), {"return_distances": True}
        )
        return h1, c1, distance

    inputs = [torch.randn(2, 3, **F64), torch.randn(2, 4, **F64), torch.randn(2, 4, **F64)]
    inputs += [p.detach().clone() for p in cell.parameters()]
    assert torch.autograd.gradcheck(step, [t.requires_grad_() for t in inputs])


def test_stack_gradcheck_with_distances() -> None:
    model = ONLSTM(2, 4, bidirectional=True, chunk_size=2, dropconnect=0.3, **F64).eval()
    names = [name for name, _ in model.named_parameters()]

    def run(x, *params):
        output, (h_n, c_n), distances = functional_call(
            model, dict(zip(names, params, strict=True)), (x,), {"return_distances": True}
        )
        return output, h_n, c_n, distances

    inputs = [torch.randn(3, 2, 2, **F64)] + [p.detach().clone() for p in model.parameters()]
    assert torch.autograd.gradcheck(run, [t.requires_grad_() for t in inputs])


def test_parameters_and_init() -> None:
    model = ONLSTM(3, 8, 2, bidirectional=True, chunk_size=4)  # D_m = 2: 4 * 8 + 2 * 2 = 36 rows
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    for suffix in ("_l0", "_l0_reverse", "_l1", "_l1_reverse"):
        width = 3 if suffix.startswith("_l0") else 16
        assert shapes["weight_ih" + suffix] == (36, width)
        assert shapes["weight_hh" + suffix] == (36, 8)
        assert shapes["bias_ih" + suffix] == shapes["bias_hh" + suffix] == (36,)
        for name in ("weight_ih", "bias_ih", "weight_hh", "bias_hh"):
            fan_in = width if name.endswith("_ih") else 8
            assert getattr(model, name + suffix).abs().max() <= 1 / math.sqrt(fan_in)
    assert "chunk_size=4" in repr(model)
    assert "dropconnect=0.3" in repr(ONLSTM(3, 8, dropconnect=0.3))
    assert set(dict(ONLSTMCell(3, 8, chunk_size=2).named_parameters())) == {
        "weight_ih",
        "weight_hh",
        "bias_ih",
        "bias_hh",
    }


def test_argument_errors() -> None:
    with pytest.raises(ValueError, match="divisible by chunk_size"):
        ONLSTM(3, 10, chunk_size=4)
    with pytest.raises(ValueError, match="divisible by chunk_size"):
        ONLSTMCell(3, 10, chunk_size=3)
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        ONLSTM(3, 8, chunk_size=0)
    with pytest.raises(ValueError, match="dropconnect"):
        ONLSTM(3, 8, dropconnect=1.5)
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        ONLSTM(3, 0, chunk_size=2)
