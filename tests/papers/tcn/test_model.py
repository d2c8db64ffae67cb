"""Invariants of the TCN: causality, receptive field, weight norm, init, shapes."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize

import shared.models.cells
from papers.tcn.baselines import RecurrentEncoder
from papers.tcn.model import TCN, CausalConv1d, LanguageModel, receptive_field


@pytest.mark.parametrize(("kernel_size", "levels"), [(2, 1), (3, 2), (8, 3), (7, 4)])
def test_receptive_field_matches_the_formula(kernel_size: int, levels: int) -> None:
    torch.manual_seed(0)
    model = TCN(3, [5] * levels, kernel_size).double()
    length = receptive_field(kernel_size, levels) + 20
    x = torch.randn(1, length, 3, dtype=torch.double, requires_grad=True)
    model(x)[0, -1].sum().backward()
    touched = (x.grad[0].abs().sum(-1) > 0).nonzero().flatten()
    # The last output depends on exactly the last r inputs.
    assert length - touched.min().item() == receptive_field(kernel_size, levels) == model.receptive_field
    assert touched.max().item() == length - 1


def test_changing_future_inputs_leaves_past_outputs_unchanged() -> None:
    torch.manual_seed(0)
    model = TCN(4, [6, 6, 6], kernel_size=3, dropout=0.0).eval()
    x = torch.randn(2, 50, 4)
    t = 23
    y = model(x)
    x_future = x.clone()
    x_future[:, t + 1 :] = torch.randn(2, 50 - t - 1, 4) * 10
    y_future = model(x_future)
    assert torch.equal(y[:, : t + 1], y_future[:, : t + 1])
    assert not torch.allclose(y[:, t + 1 :], y_future[:, t + 1 :])


def test_weight_norm_is_a_parametrization_and_init_is_the_normal_draw() -> None:
    torch.manual_seed(0)
    conv = CausalConv1d(50, 60, kernel_size=5, dilation=2)
    assert parametrize.is_parametrized(conv.conv, "weight")
    names = {n for n, _ in conv.named_parameters()}
    assert {"conv.parametrizations.weight.original0", "conv.parametrizations.weight.original1"} <= names
    weight = conv.conv.parametrizations.weight
    direction, gain = weight.original1, weight.original0
    assert direction.std().item() == pytest.approx(0.01, rel=0.05)  # v ~ N(0, 0.01), 15,000 draws
    # g keeps the norm of torch's default init (kaiming-uniform, bound 1/sqrt(fan_in)), far above 0.01.
    fan_in = 50 * 5
    expected_norm = (fan_in / (3 * fan_in)) ** 0.5  # sqrt(fan_in * bound^2 / 3)
    assert gain.flatten().mean().item() == pytest.approx(expected_norm, rel=0.1)
    torch.testing.assert_close(conv.conv.weight.flatten(1).norm(dim=1), gain.flatten())
    assert conv.left_pad == 8


def test_shapes_and_one_by_one_skip_only_when_widths_differ() -> None:
    model = TCN(88, [150, 150], kernel_size=3, dropout=0.5)
    assert model(torch.randn(2, 30, 88)).shape == (2, 30, 150)
    assert isinstance(model.blocks[0].downsample, torch.nn.Conv1d)
    assert isinstance(model.blocks[1].downsample, torch.nn.Identity)
    rnn = RecurrentEncoder("lstm", 88, 20, num_layers=2, forget_bias=10.0)
    assert isinstance(rnn.rnn, shared.models.cells.LSTM)  # the baselines are the project's shared cells
    assert rnn(torch.randn(2, 30, 88)).shape == (2, 30, 20)
    assert torch.all(rnn.rnn.bias_ih_l1[20:40] + rnn.rnn.bias_hh_l1[20:40] == 10.0)


def test_spatial_dropout_zeroes_whole_channels() -> None:
    torch.manual_seed(0)
    dropout = TCN(4, [64], kernel_size=2, dropout=0.5).blocks[0].net[2]
    out = dropout(torch.ones(1, 64, 30))
    per_channel = out[0].abs().sum(-1)
    assert ((per_channel == 0) | (per_channel == 60)).all()  # each channel all zero or all 2.0
    assert 10 < (per_channel == 0).sum().item() < 54


def test_tied_language_model_shares_the_matrix_and_checks_widths() -> None:
    lm = LanguageModel(100, 16, TCN(16, [16, 16], 3), tied=True)
    assert lm.decoder.weight is lm.embedding.weight
    assert lm(torch.randint(0, 100, (3, 12))).shape == (3, 12, 100)
    with pytest.raises(ValueError, match="tied weights need the encoder width"):
        LanguageModel(100, 16, TCN(16, [24], 3), tied=True)


@pytest.mark.parametrize(
    ("task", "channels", "parameters"), [("char_ptb", [450, 450, 100], 2_222_100), ("word_ptb", [600] * 4, 14_659_600)]
)
def test_the_language_models_have_the_reference_codes_widths(task: str, channels: list[int], parameters: int) -> None:
    """The tied TCN ends on a level of emb_size channels (locuslab/TCN char_cnn_test.py and
    word_cnn_test.py: ``[nhid] * (levels - 1) + [emsize]``)."""
    from types import SimpleNamespace

    from papers.tcn.__main__ import PAPER, build_model

    cfg = PAPER.config(task, "paper")
    model = build_model(cfg, SimpleNamespace(vocab_size=50 if task == "char_ptb" else 10_000))
    assert [block.net[0].conv.out_channels for block in model.encoder.blocks] == channels
    assert sum(p.numel() for p in model.parameters()) == parameters
