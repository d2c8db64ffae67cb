"""Parity of the shared stacks with torch.nn.RNN/LSTM/GRU: same weights, float64; outputs, final
states and gradients (input, initial state, every parameter) agree to 1e-10 relative, on the
torch-kernel path and on the Python loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from shared.models.cells import GRU, LSTM, RNN

MODES = {
    "rnn_tanh": (RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, nn.LSTM, {}),
    "gru": (GRU, nn.GRU, {}),
}
PATHS = {"kernel": None, "loop": False}
INPUT, HIDDEN, STEPS = 3, 4, 5
LENGTHS = [5, 2, 4, 2]  # unequal, unsorted, with a tie
TOL = {"rtol": 1e-10, "atol": 1e-12}


def make_pair(mode: str, path: str, **config) -> tuple[nn.Module, nn.Module]:
    ours_cls, torch_cls, options = MODES[mode]
    reference = torch_cls(INPUT, HIDDEN, dtype=torch.float64, **options, **config)
    ours = ours_cls(INPUT, HIDDEN, dtype=torch.float64, fast_path=PATHS[path], **options, **config)
    ours.load_state_dict(reference.state_dict())
    assert ours._uses_torch_kernel() is (path == "kernel")
    return ours, reference


def run(module: nn.Module, x: torch.Tensor, hx, packed: bool, batch_first: bool) -> dict[str, torch.Tensor]:
    """Forward + backward of a fixed random projection of everything the module returns; the
    outputs, final states and all gradients, by name."""
    x = x.detach().clone().requires_grad_()
    states = None if hx is None else [s.detach().clone().requires_grad_() for s in hx]
    inp = pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first, enforce_sorted=False) if packed else x
    arg = None if states is None else (states[0] if len(states) == 1 else tuple(states))
    output, final = module(inp, arg)
    if packed:
        assert isinstance(output, PackedSequence)
        assert output.batch_sizes.equal(inp.batch_sizes) and output.sorted_indices.equal(inp.sorted_indices)
        output = output.data
    finals = [final] if isinstance(final, torch.Tensor) else list(final)
    generator = torch.Generator().manual_seed(1)
    loss = sum((t * torch.randn(t.shape, generator=generator, dtype=t.dtype)).sum() for t in [output, *finals])
    loss.backward()
    result = {"output": output.detach(), "grad_input": x.grad}
    result |= {f"final_{i}": f.detach() for i, f in enumerate(finals)}
    result |= {f"grad_state_{i}": s.grad for i, s in enumerate(states or [])}
    result |= {f"grad_{name}": p.grad for name, p in module.named_parameters()}
    return result


def assert_same(ours: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> None:
    assert ours.keys() == reference.keys()
    for name in reference:
        torch.testing.assert_close(ours[name], reference[name], **TOL, msg=lambda m, name=name: f"{name}: {m}")


def initial_state(mode: str, rows: int, batch: int | None) -> list[torch.Tensor]:
    shape = (rows, HIDDEN) if batch is None else (rows, batch, HIDDEN)
    generator = torch.Generator().manual_seed(2)
    return [torch.randn(shape, generator=generator, dtype=torch.float64) for _ in range(2 if mode == "lstm" else 1)]


@pytest.mark.parametrize("with_state", [True, False], ids=["h0", "no_h0"])
@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", MODES)
def test_stack_matches_torch(
    mode: str, path: str, num_layers: int, bidirectional: bool, batch_first: bool, packed: bool, with_state: bool
) -> None:
    torch.manual_seed(0)
    ours, reference = make_pair(mode, path, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    batch = len(LENGTHS)
    x = torch.randn((batch, STEPS, INPUT) if batch_first else (STEPS, batch, INPUT), dtype=torch.float64)
    hx = initial_state(mode, num_layers * (2 if bidirectional else 1), batch) if with_state else None
    assert_same(run(ours, x, hx, packed, batch_first), run(reference, x, hx, packed, batch_first))


@pytest.mark.parametrize("with_state", [True, False], ids=["h0", "no_h0"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", MODES)
def test_unbatched_input_matches_torch(
    mode: str, path: str, batch_first: bool, bidirectional: bool, with_state: bool
) -> None:
    torch.manual_seed(0)
    ours, reference = make_pair(mode, path, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    x = torch.randn(STEPS, INPUT, dtype=torch.float64)
    hx = initial_state(mode, 2 * (2 if bidirectional else 1), None) if with_state else None
    result = run(ours, x, hx, packed=False, batch_first=batch_first)
    assert result["output"].shape == (STEPS, (2 if bidirectional else 1) * HIDDEN)
    assert_same(result, run(reference, x, hx, packed=False, batch_first=batch_first))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_sorted_packed_sequence_matches_torch(mode: str, path: str) -> None:
    """A batch packed with ``enforce_sorted=True`` has no ``sorted_indices``."""
    torch.manual_seed(0)
    ours, reference = make_pair(mode, path, num_layers=2, bidirectional=True)
    x = torch.randn(STEPS, 3, INPUT, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([5, 3, 1]))
    (out, _), (expected, _) = ours(packed), reference(packed)
    assert out.sorted_indices is None
    torch.testing.assert_close(out.data, expected.data, **TOL)
