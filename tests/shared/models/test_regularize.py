"""The regularizers of shared.models.regularize: locked dropout, embedding dropout, weight drop, zoneout,
AR/TAR. Masks are checked for where they must be shared (time, repeated words, time steps of one
forward) and where they must differ; weight drop against a hand-unrolled recurrence with the
recorded mask, on the torch-kernel path and on the loop, in float64."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from shared.models.cells import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, gru_step, lstm_step
from shared.models.regularize import (
    EmbeddingDropout,
    LockedDropout,
    WeightDrop,
    Zoneout,
    activation_regularization,
    embedding_dropout,
    locked_dropout,
    temporal_activation_regularization,
    zoneout,
)

F64 = {"dtype": torch.float64}
TOL = {"rtol": 1e-10, "atol": 1e-12}
STACKS = {"lstm": LSTM, "gru": GRU}
PATHS = {"kernel": None, "loop": False}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ---------------------------------------------------------------------------------- locked dropout


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
def test_locked_dropout_one_mask_per_sequence_and_feature(batch_first: bool) -> None:
    steps, batch, features, p = 6, 5, 40, 0.5
    x = torch.rand(steps, batch, features) + 0.5  # nonzero, so out / x is the mask
    x = x.transpose(0, 1) if batch_first else x
    out = LockedDropout(p, batch_first=batch_first)(x)
    mask = out / x
    mask = mask.transpose(0, 1) if batch_first else mask  # (L, N, H)
    assert torch.equal(mask, mask[:1].expand_as(mask)), "the mask must be the same at every time step"
    assert set(mask.unique().tolist()) == {0.0, 1 / (1 - p)}
    assert not torch.equal(mask[0, 0], mask[0, 1]), "each sequence has its own mask"
    assert mask[0, 0].min() == 0 and mask[0, 0].max() > 0, "each feature has its own entry"


def test_locked_dropout_unbatched_and_packed() -> None:
    p = 0.5
    out = locked_dropout(torch.ones(7, 30), p)  # (L, H): one mask over time
    assert torch.equal(out, out[:1].expand_as(out))

    lengths = [4, 2, 3]  # unsorted: masks follow each sequence through the packing
    padded = torch.ones(4, 3, 30)
    packed = pack_padded_sequence(padded, torch.tensor(lengths), enforce_sorted=False)
    out, _ = pad_packed_sequence(LockedDropout(p)(packed))
    for n, length in enumerate(lengths):
        seq = out[:length, n]
        assert torch.equal(seq, seq[:1].expand_as(seq))
        assert set(seq.unique().tolist()) <= {0.0, 2.0}
    assert not torch.equal(out[0, 0], out[0, 1])


def test_locked_dropout_identity_in_eval_and_for_p0() -> None:
    x = torch.randn(5, 2, 3)
    module = LockedDropout(0.5).eval()
    assert module(x) is x
    assert LockedDropout(0.0)(x) is x
    assert locked_dropout(x, 0.5, training=False) is x
    assert torch.equal(locked_dropout(x, 1.0), torch.zeros_like(x))
    with pytest.raises(ValueError, match="probability"):
        LockedDropout(1.5)


# ------------------------------------------------------------------------------- embedding dropout


def test_embedding_dropout_drops_whole_words_consistently() -> None:
    vocab, dim, p = 12, 6, 0.5
    embedding = nn.Embedding(vocab, dim)
    module = EmbeddingDropout(embedding, p)
    words = torch.randint(0, vocab, (8, 3))  # 24 positions over 12 ids: words repeat
    out = module(words)
    mask = module.last_mask
    reference = embedding(words)
    dropped = set()
    for position in words.flatten().unique().tolist():
        where = words == position
        rows = out[where]
        if mask[position] == 0:
            dropped.add(position)
            assert torch.equal(rows, torch.zeros_like(rows)), "a dropped word is zero at every position"
        else:
            torch.testing.assert_close(rows, reference[where] / (1 - p))
    assert 0 < len(dropped) < len(words.unique()), "seed should give dropped and kept words"

    # Gradient: a dropped word's row gets none; a kept one mask * (number of occurrences).
    out.sum().backward()
    counts = torch.bincount(words.flatten(), minlength=vocab).to(out.dtype)
    torch.testing.assert_close(embedding.weight.grad, (mask * counts).unsqueeze(1).expand(vocab, dim))


def test_embedding_dropout_eval_identity_and_names() -> None:
    embedding = nn.Embedding(10, 4, padding_idx=0)
    module = EmbeddingDropout(embedding, 0.3)
    assert list(module.state_dict()) == ["embedding.weight"]
    assert module.embedding.weight is embedding.weight
    words = torch.randint(0, 10, (5, 2))
    module.eval()
    assert torch.equal(module(words), embedding(words))
    assert module.last_mask is None
    assert torch.equal(embedding_dropout(embedding, words, 0.3, training=False), embedding(words))
    assert torch.equal(embedding_dropout(embedding, words, 0.0), embedding(words))
    with pytest.raises(TypeError):
        EmbeddingDropout(nn.Linear(2, 2))


# ------------------------------------------------------------------------------------- weight drop


def unrolled(stack: nn.Module, x: torch.Tensor, weight_hh: torch.Tensor) -> torch.Tensor:
    """A one-layer LSTM/GRU over time-major ``x`` by hand, with the same ``weight_hh`` at every step."""
    gates_x = F.linear(x, stack.weight_ih_l0, stack.bias_ih_l0)
    h = x.new_zeros(x.size(1), stack.hidden_size)
    c = torch.zeros_like(h)
    outputs = []
    for gates_t in gates_x:
        if isinstance(stack, LSTM):
            h, c = lstm_step(gates_t, (h, c), weight_hh, stack.bias_hh_l0)
        else:
            h = gru_step(gates_t, h, weight_hh, stack.bias_hh_l0)
        outputs.append(h)
    return torch.stack(outputs)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", STACKS)
def test_weight_drop_one_mask_for_all_steps(mode: str, path: str) -> None:
    stack = STACKS[mode](3, 4, fast_path=PATHS[path], **F64)
    assert stack._uses_torch_kernel() is (path == "kernel")
    dropped = WeightDrop(stack, ["weight_hh_l0"], p=0.5)
    x = torch.randn(6, 2, 3, **F64)
    output, _ = dropped(x)
    mask = dropped.last_masks["weight_hh_l0"]
    assert mask.shape == stack.weight_hh_l0.shape and set(mask.unique().tolist()) == {0.0, 2.0}
    # Every step computed with mask * weight_hh: a different matrix at any step would change
    # the output from that step on.
    torch.testing.assert_close(output, unrolled(stack, x, mask * stack.weight_hh_l0), **TOL)
    assert not torch.allclose(output, unrolled(stack, x, stack.weight_hh_l0))


def test_weight_drop_new_mask_each_forward_and_off_in_eval() -> None:
    stack = LSTM(3, 4, **F64)
    dropped = WeightDrop(stack, p=0.5)
    assert dropped.weights == ("weight_hh_l0",)
    x = torch.randn(5, 2, 3, **F64)
    first, _ = dropped(x)
    first_mask = dropped.last_masks["weight_hh_l0"]
    second, _ = dropped(x)
    assert not torch.equal(first_mask, dropped.last_masks["weight_hh_l0"])
    assert not torch.equal(first, second)

    dropped.eval()
    out, (h, c) = dropped(x)
    plain, (h_ref, c_ref) = stack(x)
    assert dropped.last_masks is None
    assert torch.equal(out, plain) and torch.equal(h, h_ref) and torch.equal(c, c_ref)
    # Explicit masks are applied in eval mode too (documented), and reproduce the training output.
    masks = {"weight_hh_l0": first_mask}
    torch.testing.assert_close(dropped(x, masks=masks)[0], first, **TOL)
    dropped.train()
    dropped.p = 0.0
    assert torch.equal(dropped(x)[0], plain)


@pytest.mark.parametrize("layout", ["time_major", "batch_first", "packed"])
@pytest.mark.parametrize("mode", STACKS)
def test_weight_drop_kernel_and_loop_agree_for_the_same_masks(mode: str, layout: str) -> None:
    config = {"num_layers": 2, "bidirectional": True, "batch_first": layout == "batch_first", **F64}
    kernel = STACKS[mode](3, 4, **config)
    loop = STACKS[mode](3, 4, fast_path=False, **config)
    loop.load_state_dict(kernel.state_dict())
    dropped_kernel, dropped_loop = WeightDrop(kernel, p=0.5), WeightDrop(loop, p=0.5)
    assert dropped_kernel.weights == ("weight_hh_l0", "weight_hh_l0_reverse", "weight_hh_l1", "weight_hh_l1_reverse")
    masks = dropped_kernel.sample_masks()

    x = torch.randn(5, 3, 3, **F64)
    if layout == "batch_first":
        x = x.transpose(0, 1)
    inp = pack_padded_sequence(x, torch.tensor([5, 2, 4]), enforce_sorted=False) if layout == "packed" else x
    out_kernel, final_kernel = dropped_kernel(inp, masks=masks)
    out_loop, final_loop = dropped_loop(inp, masks=masks)
    if layout == "packed":
        out_kernel, out_loop = out_kernel.data, out_loop.data
    torch.testing.assert_close(out_kernel, out_loop, **TOL)
    torch.testing.assert_close(final_kernel, final_loop, **TOL)
    assert not torch.allclose(out_kernel, (kernel(inp)[0].data if layout == "packed" else kernel(inp)[0]))


def test_weight_drop_packed_batch_equals_each_sequence_alone() -> None:
    stack = LSTM(3, 4, **F64)
    dropped = WeightDrop(stack, p=0.5)
    masks = dropped.sample_masks()
    lengths = [5, 2, 4]
    x = torch.randn(5, 3, 3, **F64)
    packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    output, _ = pad_packed_sequence(dropped(packed, masks=masks)[0])
    for n, length in enumerate(lengths):
        alone, _ = dropped(x[:length, n : n + 1], masks=masks)
        torch.testing.assert_close(output[:length, n : n + 1], alone, **TOL)


@pytest.mark.parametrize("path", PATHS)
def test_weight_drop_gradient_reaches_raw_weight_through_kept_entries(path: str) -> None:
    stack = LSTM(3, 4, fast_path=PATHS[path], **F64)
    dropped = WeightDrop(stack, p=0.5)
    x = torch.randn(5, 2, 3, **F64)
    projection = torch.randn(5, 2, 4, **F64)
    output, _ = dropped(x)
    raw = stack.weight_hh_l0
    (grad_raw,) = torch.autograd.grad((output * projection).sum(), [raw])
    mask = dropped.last_masks["weight_hh_l0"]

    # The gradient with respect to the masked matrix, as a leaf of its own.
    effective = (mask * raw).detach().requires_grad_()
    output_ref, _ = functional_call(stack, {"weight_hh_l0": effective}, (x,))
    (grad_effective,) = torch.autograd.grad((output_ref * projection).sum(), [effective])
    torch.testing.assert_close(grad_raw, mask * grad_effective, **TOL)
    assert torch.all(grad_raw[mask == 0] == 0)
    assert torch.all(grad_raw[mask != 0] != 0)


def test_weight_drop_keeps_parameter_names_and_state_dict() -> None:
    stack = LSTM(3, 4, num_layers=2)
    before = {name: param for name, param in stack.named_parameters()}
    dropped = WeightDrop(stack, ["weight_hh_l0", "weight_hh_l1"], p=0.5)
    expected = {"module." + key for key in LSTM(3, 4, num_layers=2).state_dict()}
    assert set(dropped.state_dict()) == expected
    dropped(torch.randn(4, 2, 3))[0].sum().backward()
    assert set(dropped.state_dict()) == expected
    assert set(stack.state_dict()) == set(before)
    for name, param in before.items():  # the same Parameters, never replaced
        assert getattr(dropped.module, name) is param and isinstance(param, nn.Parameter)
        assert param.grad is not None
    plain = LSTM(3, 4, num_layers=2)
    plain.load_state_dict({key.removeprefix("module."): value for key, value in dropped.state_dict().items()})


def test_weight_drop_errors() -> None:
    with pytest.raises(ValueError, match="unknown weight"):
        WeightDrop(LSTM(3, 4), ["weight_hh_l1"])
    with pytest.raises(TypeError, match="RecurrentStack"):
        WeightDrop(nn.LSTM(3, 4), ["weight_hh_l0"])
    with pytest.raises(ValueError, match="probability"):
        WeightDrop(GRU(3, 4), p=-0.1)
    dropped = WeightDrop(RNN(3, 4), p=0.5)
    with pytest.raises(ValueError, match="keys"):
        dropped(torch.randn(2, 1, 3), masks={"weight_ih_l0": torch.ones(4, 3)})
    with pytest.raises(ValueError, match="shape"):
        dropped(torch.randn(2, 1, 3), masks={"weight_hh_l0": torch.ones(4, 3)})


# ----------------------------------------------------------------------------------------- zoneout


def test_zoneout_function_train_eval_and_expectation() -> None:
    p = 0.3
    prev = torch.randn(8, **F64).requires_grad_()
    new = (torch.randn(8, **F64) + 5).requires_grad_()  # never equal to prev
    draws = 4000
    out = zoneout(prev.expand(draws, 8), new.expand(draws, 8), p)
    kept = out == prev
    assert torch.all(kept | (out == new)), "training: every unit is either its old or its new value"
    assert abs(kept.double().mean().item() - p) < 0.02
    expectation = zoneout(prev, new, p, training=False)
    torch.testing.assert_close(expectation, p * prev + (1 - p) * new, **TOL)
    torch.testing.assert_close(out.mean(0), expectation, rtol=0, atol=0.15)
    out.sum().backward()  # the gradient goes to whichever value was kept
    torch.testing.assert_close(prev.grad, kept.double().sum(0))
    torch.testing.assert_close(new.grad, (~kept).double().sum(0))
    assert zoneout(prev, new, 0.0) is new
    assert torch.equal(zoneout(prev, new, 1.0), prev)
    # QRNN's use: zoning out the forget gate.
    f = torch.rand(10)
    torch.testing.assert_close(zoneout(torch.ones(()), f, p, training=False), 1 - (1 - p) * (1 - f))


def test_zoneout_lstm_cell() -> None:
    cell = LSTMCell(3, 100, **F64)
    wrapped = Zoneout(cell, zoneout_h=0.3, zoneout_c=0.6)
    assert set(wrapped.state_dict()) == {"cell." + key for key in cell.state_dict()}
    x = torch.randn(4, 3, **F64)
    h0, c0 = torch.randn(4, 100, **F64), torch.randn(4, 100, **F64)
    h_new, c_new = cell(x, (h0, c0))
    h, c = wrapped(x, (h0, c0))
    h_kept, c_kept = h == h0, c == c0
    assert torch.all(h_kept | (h == h_new)) and torch.all(c_kept | (c == c_new))
    assert abs(h_kept.double().mean().item() - 0.3) < 0.06
    assert abs(c_kept.double().mean().item() - 0.6) < 0.06
    assert not torch.equal(h_kept, c_kept), "h and c have masks of their own"

    wrapped.eval()
    h, c = wrapped(x, (h0, c0))
    torch.testing.assert_close(h, 0.3 * h0 + 0.7 * h_new, **TOL)
    torch.testing.assert_close(c, 0.6 * c0 + 0.4 * c_new, **TOL)


@pytest.mark.parametrize("cell_cls", [GRUCell, RNNCell])
def test_zoneout_single_state_cells(cell_cls: type) -> None:
    cell = cell_cls(3, 5, **F64)
    wrapped = Zoneout(cell, zoneout_h=0.25).eval()
    x, h0 = torch.randn(2, 3, **F64), torch.randn(2, 5, **F64)
    torch.testing.assert_close(wrapped(x, h0), 0.25 * h0 + 0.75 * cell(x, h0), **TOL)
    torch.testing.assert_close(wrapped(x), 0.75 * cell(x), **TOL)  # no state: the previous one is zero
    with pytest.raises(ValueError, match="no cell state"):
        Zoneout(cell, zoneout_h=0.1, zoneout_c=0.1)
    with pytest.raises(TypeError, match="single-step"):
        Zoneout(GRU(3, 5), 0.1)


# -------------------------------------------------------------------------------------- AR and TAR


def test_activation_regularization_by_hand() -> None:
    output = torch.tensor([[[1.0, 2.0]], [[3.0, 5.0]]])  # (L=2, N=1, H=2)
    # AR: alpha * mean(h^2) = 2 * (1 + 4 + 9 + 25) / 4 = 19.5
    assert activation_regularization(output, alpha=2.0).item() == pytest.approx(19.5)
    # TAR: beta * mean((h_{t+1} - h_t)^2) = 3 * (2^2 + 3^2) / 2 = 19.5
    assert temporal_activation_regularization(output, beta=3.0).item() == pytest.approx(19.5)
    assert temporal_activation_regularization(output[:1], beta=3.0).item() == 0.0


def test_temporal_activation_regularization_differences_over_time_only() -> None:
    # Two sequences (N=2) of two steps, batch first: differences 4 - 1 = 3 and 2 - 2 = 0.
    batch_first = torch.tensor([[[1.0], [4.0]], [[2.0], [2.0]]])
    assert temporal_activation_regularization(batch_first, 1.0, batch_first=True).item() == pytest.approx(4.5)
    time_major = batch_first.transpose(0, 1)
    assert temporal_activation_regularization(time_major, 1.0).item() == pytest.approx(4.5)
