"""The clipped ReLU of the shared simple RNN (Deep Speech 2): min(max(x, 0), clip)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shared.models.cells import RNN, RNNCell


def test_clipped_relu_step_is_the_relu_step_clamped() -> None:
    torch.manual_seed(0)
    cell = RNNCell(3, 4, nonlinearity="clipped_relu", clip=0.5)
    x, h = 3 * torch.randn(5, 3), torch.randn(5, 4)
    pre = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    torch.testing.assert_close(cell(x, h), pre.clamp(0.0, 0.5))
    assert (cell(x, h) == 0.5).any()  # the ceiling is reached in this example


def test_clipped_relu_stack_equals_torchs_relu_while_below_the_ceiling() -> None:
    torch.manual_seed(1)
    ours = RNN(3, 4, 2, nonlinearity="clipped_relu", bidirectional=True, clip=1e6)
    reference = nn.RNN(3, 4, 2, nonlinearity="relu", bidirectional=True)
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(7, 2, 3)
    torch.testing.assert_close(ours(x)[0], reference(x)[0])


def test_clipped_relu_has_no_torch_kernel_and_checks_its_ceiling() -> None:
    assert not RNN(3, 4, nonlinearity="clipped_relu")._uses_torch_kernel()
    assert RNN(3, 4, nonlinearity="clipped_relu").clip == 20.0  # the paper's
    with pytest.raises(ValueError, match="fast_path=True"):
        RNN(3, 4, nonlinearity="clipped_relu", fast_path=True)
    with pytest.raises(ValueError, match="clip must be > 0"):
        RNN(3, 4, nonlinearity="clipped_relu", clip=0.0)
