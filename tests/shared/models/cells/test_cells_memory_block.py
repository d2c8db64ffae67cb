"""The 1997 memory cell blocks: a step by hand, the truncated gradient, the full gradient, errors."""

from __future__ import annotations

import math

import pytest
import torch

from shared.models.cells import MemoryBlockLSTM
from shared.models.cells.memory_block import squash


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_two_steps_equal_the_papers_equations_computed_by_hand() -> None:
    # One input, one block of two cells: hidden units [c1, c2, in, out].
    layer = MemoryBlockLSTM(1, blocks=1, block_size=2, bias_units="all").double()
    with torch.no_grad():
        layer.weight_ih.copy_(torch.tensor([[0.5], [-0.3], [0.2], [0.1]]))
        layer.weight_hh.copy_(0.1 * torch.arange(16, dtype=torch.float64).view(4, 4) - 0.7)
        layer.bias.copy_(torch.tensor([0.05, -0.05, -1.0, 0.3]))
    xs = [0.8, -0.4]
    cells, (y_last, s_last) = layer(torch.tensor(xs, dtype=torch.float64).view(2, 1, 1))

    w_in = [0.5, -0.3, 0.2, 0.1]
    w_rec = [[0.1 * (4 * i + j) - 0.7 for j in range(4)] for i in range(4)]
    bias = [0.05, -0.05, -1.0, 0.3]
    y = [0.0, 0.0, 0.0, 0.0]  # y^c1, y^c2, y^in, y^out at t-1
    s = [0.0, 0.0]
    expected = []
    for x in xs:
        net = [w_in[u] * x + sum(w_rec[u][m] * y[m] for m in range(4)) + bias[u] for u in range(4)]
        y_in, y_out = logistic(net[2]), logistic(net[3])  # Eqs. 7, 8 (f, Eq. 3)
        g = [4.0 * logistic(net[v]) - 2.0 for v in range(2)]  # Eq. 5
        s = [s[v] + y_in * g[v] for v in range(2)]  # Eq. 9
        y_c = [y_out * (2.0 * logistic(s[v]) - 1.0) for v in range(2)]  # Eq. 4, 9
        y = [*y_c, y_in, y_out]
        expected.append(y_c)
    assert torch.allclose(cells[:, 0], torch.tensor(expected, dtype=torch.float64), atol=1e-14)
    assert torch.allclose(s_last[0], torch.tensor(s, dtype=torch.float64), atol=1e-14)
    assert torch.allclose(y_last[0], torch.tensor(y, dtype=torch.float64), atol=1e-14)


def test_squashing_ranges() -> None:
    x = torch.tensor([-50.0, 0.0, 50.0])
    assert squash(x, 2.0).tolist() == pytest.approx([-2.0, 0.0, 2.0])
    assert squash(x, 1.0).tolist() == pytest.approx([-1.0, 0.0, 1.0])


def state_gradient_wrt_first_input(truncate: bool, steps: int) -> torch.Tensor:
    torch.manual_seed(0)
    layer = MemoryBlockLSTM(3, blocks=2, block_size=2, init_range=0.5, truncate=truncate).double()
    x = torch.randn(6, 1, 3, dtype=torch.float64)[:steps].requires_grad_()
    _, (_, s) = layer(x)
    (grad,) = torch.autograd.grad(s.sum(), x)
    return grad[0]


def test_truncated_error_reaches_an_input_only_through_the_constant_error_carousel() -> None:
    # Truncated: x(0) changes s(T) only through the first step's increment, carried unchanged by
    # the CEC (ds(t)/ds(t-1) = 1, Eq. 35): the same gradient after 1 step or after 6 steps.
    assert torch.allclose(state_gradient_wrt_first_input(True, 6), state_gradient_wrt_first_input(True, 1))
    # The full gradient also flows through the recurrent connections of later steps.
    assert not torch.allclose(state_gradient_wrt_first_input(False, 6), state_gradient_wrt_first_input(False, 1))


def test_full_gradient_passes_gradcheck() -> None:
    torch.manual_seed(1)
    layer = MemoryBlockLSTM(2, blocks=2, block_size=2, init_range=0.5, truncate=False).double()
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: layer(inp)[0], (x,))


def test_bias_units_and_gate_biases() -> None:
    layer = MemoryBlockLSTM(7, blocks=3, block_size=2, bias_units="gates", output_gate_bias=[-1.0, -2.0, -3.0])
    assert layer.hidden_size == 12 and layer.num_cells == 6
    assert layer.bias[:6].abs().sum() == 0  # cells are not biased
    assert layer.bias[9:].tolist() == [-1.0, -2.0, -3.0]
    assert layer.num_weights() == 12 * 7 + 12 * 12 + 6
    cells, _ = layer(torch.randn(5, 4, 7))
    cells.sum().backward()
    assert layer.bias.grad[:6].abs().sum() == 0  # an absent bias gets no gradient
    assert MemoryBlockLSTM(2, 2, 2, bias_units="none").num_weights() == 8 * 2 + 8 * 8


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="one value per block"):
        MemoryBlockLSTM(2, blocks=2, block_size=2, input_gate_bias=[-3.0])
    with pytest.raises(ValueError, match="bias_units"):
        MemoryBlockLSTM(2, blocks=2, block_size=2, bias_units="cells")
    with pytest.raises(ValueError, match="biased gates"):
        MemoryBlockLSTM(2, blocks=2, block_size=2, bias_units="none", input_gate_bias=[-1.0, -2.0])
    with pytest.raises(ValueError, match="expected input"):
        MemoryBlockLSTM(2, blocks=1, block_size=1)(torch.zeros(3, 2))
