"""The Dilated RNN paper's model and recipe: the dilation bookkeeping of the 9-layer stack against an
explicit loop over Eq. 2 at lengths that no dilation divides, the TensorFlow cell forms and
initialisation, the demo's RMSProp, clear errors on bad settings, and a dilated GRU that beats the
copy-memory baseline within a minute."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from papers.dilated_rnn.__main__ import PAPER, build_model, build_task
from papers.dilated_rnn.config import TaskConfig, TFRMSprop
from papers.dilated_rnn.model import DilatedRNNModel, dilations
from shared.core.config import ConfigError, from_dict
from shared.models.cells import gru_step, lstm_step, rnn_step
from shared.train import runtime
from shared.train.loop import Trainer


def model(
    cell: str, hidden: int = 4, layers: int = 9, dilated: bool = True, last_step: bool = False
) -> DilatedRNNModel:
    torch.manual_seed(0)
    return DilatedRNNModel(cell, 1, hidden, layers, 3, dilated=dilated, last_step=last_step).double()


def reference_top_layer(m: DilatedRNNModel, cell: str, x: torch.Tensor) -> torch.Tensor:
    """Eq. 2 step by step: layer l's state at t is f(x_t, state at t - s_l), zeros before the start."""
    seq = x.transpose(0, 1)  # (L, N, 1)
    for layer, s in zip(m.rnn.layers, m.rnn.dilations, strict=True):
        w_ih, w_hh, b_ih, b_hh = layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0
        zero = seq.new_zeros(seq.size(1), layer.hidden_size)
        states, outputs = [], []
        for t in range(seq.size(0)):
            gates_x = F.linear(seq[t], w_ih, b_ih)
            prev = states[t - s] if t >= s else ((zero, zero) if cell == "lstm" else zero)
            if cell == "gru":
                new = gru_step(gates_x, prev, w_hh, b_hh, reset_after=False)
                out = new
            elif cell == "lstm":
                new = lstm_step(gates_x, prev, w_hh, b_hh)
                out = new[0]
            else:
                new = out = rnn_step(gates_x, prev, w_hh, b_hh)
            states.append(new)
            outputs.append(out)
        seq = torch.stack(outputs)
    return seq.transpose(0, 1)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
@pytest.mark.parametrize("length", [784, 300, 5])
def test_the_stack_computes_eq_2_at_lengths_no_dilation_divides(cell: str, length: int) -> None:
    """784 = 3 * 256 + 16 (pixel MNIST), 300, and 5 (shorter than most dilations: those layers see
    one step per sub-sequence): the interleaved, end-padded stack equals the explicit recurrence."""
    m = model(cell)
    x = torch.randn(2, length, 1, dtype=torch.double)
    expected = reference_top_layer(m, cell, x)
    assert torch.allclose(m.rnn(x)[0], expected, atol=1e-10)
    assert torch.allclose(m(x), m.readout(expected), atol=1e-10)


def test_padding_at_the_end_never_reaches_a_real_step() -> None:
    """The outputs of the first L steps do not depend on what follows, whatever L mod each dilation."""
    m = model("gru")
    x = torch.randn(3, 517, 1, dtype=torch.double)
    full = m(x)
    for length in (1, 255, 257, 300, 511):
        assert torch.allclose(m(x[:, :length]), full[:, :length], atol=1e-12), length


def test_the_last_step_of_the_top_layer_sees_every_pixel_but_only_through_its_skips() -> None:
    """With dilations 1..256 the prediction at step 783 depends on all 784 inputs (a bottom dilation
    of 1 loses nothing). A 1-layer stack of dilation 256 would reach only steps 15, 271, 527, 783."""
    m = model("rnn", last_step=True)
    x = torch.randn(1, 784, 1, dtype=torch.double, requires_grad=True)
    m(x).sum().backward()
    assert (x.grad.abs().squeeze() > 0).all()
    lone = DilatedRNNModel("rnn", 1, 4, 1, 3).double()
    lone.rnn.dilations = (256,)
    x.grad = None
    lone(x).sum().backward()
    assert torch.nonzero(x.grad.squeeze()).flatten().tolist() == [15, 271, 527, 783]


def test_the_plain_stack_is_the_same_model_with_every_dilation_one() -> None:
    dilated, plain = model("gru"), model("gru", dilated=False)
    assert dilated.rnn.dilations == (1, 2, 4, 8, 16, 32, 64, 128, 256) == tuple(dilations(9))
    assert plain.rnn.dilations == (1,) * 9
    assert [p.shape for p in dilated.parameters()] == [p.shape for p in plain.parameters()]


def test_parameter_counts_of_the_papers_9x20_models() -> None:
    """9 layers of 20 units and a 10-way read-out, with torch's two bias vectors per layer. With
    TensorFlow's one bias per kernel (the function is the same: only the sum of the two acts) the
    counts are 7,210 / 21,210 / 28,210: the "21K" of the dilated GRU that the TCN paper cites."""
    counts = {c: sum(p.numel() for p in DilatedRNNModel(c, 1, 20, 9, 10).parameters()) for c in ("rnn", "gru", "lstm")}
    # gates * (first layer: 20 * (1 + 20 + 2), others: 20 * (20 + 20 + 2)) + read-out 20 * 10 + 10
    assert counts == {g: k * (20 * 23 + 8 * 20 * 42) + 210 for g, k in (("rnn", 1), ("gru", 3), ("lstm", 4))}
    assert counts == {"rnn": 7390, "gru": 21750, "lstm": 28930}


def test_the_gru_is_tensorflows_grucell() -> None:
    """r, u = sigma(W [x, h] + b); c = tanh(W_c [x, r * h] + b_c); h' = u * h + (1 - u) * c."""
    m = model("gru", hidden=3, layers=1)
    layer = m.rnn.layers[0]
    x, h = torch.randn(2, 1, dtype=torch.double), torch.randn(2, 3, dtype=torch.double)
    w = torch.cat([layer.weight_ih_l0, layer.weight_hh_l0], 1)
    b = layer.bias_ih_l0 + layer.bias_hh_l0
    r, u = torch.sigmoid(torch.cat([x, h], 1) @ w[:6].T + b[:6]).chunk(2, 1)
    c = torch.tanh(torch.cat([x, r * h], 1) @ w[6:].T + b[6:])
    gates_x = F.linear(x, layer.weight_ih_l0, layer.bias_ih_l0)
    state = gru_step(gates_x, h, layer.weight_hh_l0, layer.bias_hh_l0, reset_after=False)
    assert torch.allclose(state, u * h + (1 - u) * c)


@pytest.mark.parametrize(("cell", "gates"), [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_official_initialisation(cell: str, gates: int) -> None:
    torch.manual_seed(0)
    m = DilatedRNNModel(cell, 1, 20, 9, 10)
    for i, layer in enumerate(m.rnn.layers):
        n_in = 1 if i == 0 else 20
        blocks = [(0, 40, 40), (40, 60, 20)] if cell == "gru" else [(0, gates * 20, gates * 20)]
        for start, stop, fan_out in blocks:
            bound = math.sqrt(6 / (n_in + 20 + fan_out))
            # One Glorot bound over the kernel acting on [x, h]: both torch matrices share it.
            kernel = torch.cat([layer.weight_ih_l0, layer.weight_hh_l0], 1)[start:stop]
            assert 0.95 * bound < kernel.abs().max() <= bound
        bias = layer.bias_ih_l0 + layer.bias_hh_l0
        expected = torch.zeros(gates * 20)
        if cell == "gru":
            expected[:40] = 1.0
        elif cell == "lstm":
            expected[20:40] = 1.0  # the forget gate, torch's order i, f, g, o
        assert torch.equal(bias, expected)
    assert 0.8 < m.readout.weight.std().item() < 1.2  # N(0, 1), tf.random_normal


def test_tf_rmsprop_matches_a_hand_computed_update() -> None:
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.double))
    opt = TFRMSprop([w], lr=0.01)
    ms, expected = torch.ones(2, dtype=torch.double), w.detach().clone()
    for g in ([0.5, -3.0], [0.25, 1.0]):
        g = torch.tensor(g, dtype=torch.double)
        w.grad = g.clone()
        opt.step()
        ms = 0.9 * ms + 0.1 * g**2
        expected -= 0.01 * g / torch.sqrt(ms + 1e-10)
        assert torch.allclose(w.detach(), expected, rtol=0, atol=1e-15)
    assert torch.allclose(opt.state[w]["ms"], ms)


BASE = {
    "data": {"kind": "copy_memory", "seq_len": 500, "n_train": 100, "n_test": 10},
    "model": {"cell": "gru", "hidden": 10, "layers": 9},
    "train": {"epochs": 1, "optimizer": "rmsprop_tf", "lr": 0.001},
}


def config(override: dict) -> TaskConfig:
    data = copy.deepcopy(BASE)
    for section, values in override.items():
        data[section] = {k: v for k, v in {**data[section], **values}.items() if v is not ...}
    return from_dict(TaskConfig, data, "params.yaml: tasks.t: ")


def test_the_base_settings_load() -> None:
    assert config({}).data.steps == 520
    assert config({"data": {"kind": "mnist", "seq_len": ..., "n_train": ..., "n_test": ...}}).data.steps == 784


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"model": {"cell": "tanh"}}, "model.cell: 'tanh' is not one of rnn, lstm, gru"),
        ({"model": {"hidden": 0}}, "model.hidden: 0 must be >= 1"),
        ({"data": {"kind": "adding"}}, "data.kind: 'adding' is not one of"),
        ({"data": {"seq_len": ...}}, "data.seq_len is required for data.kind copy_memory"),
        ({"data": {"n_test": ...}}, "data.n_test is required for data.kind copy_memory"),
        ({"data": {"permute": True}}, "data.permute: only pixel MNIST"),
        ({"data": {"kind": "mnist", "seq_len": 784}}, "data.seq_len: not a setting of data.kind mnist"),
        ({"data": {"seq_len": 200}}, "model.layers: 9 dilated layers reach dilation 256, not below the 220 steps"),
        ({"train": {"momentum": 0.9}}, "rmsprop_tf has neither"),
        ({"train": {"optimizer": "rmsprop_tf2"}}, "train.optimizer: 'rmsprop_tf2' is not one of"),
    ],
)
def test_bad_settings_are_clear_errors(override: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        config(override)
    assert str(error.value).startswith("params.yaml: tasks.t: ")


def test_the_plain_stack_may_be_as_deep_as_the_sequence_allows() -> None:
    """Dilation 1 everywhere has no such limit: 9 plain layers over 30 + 20 steps are fine."""
    assert config({"data": {"seq_len": 30}, "model": {"dilated": False}}).model.layers == 9


def test_a_dilated_gru_beats_the_copy_memory_baseline_within_a_minute(tmp_path: Path) -> None:
    """T = 30 (50 steps), 5 layers (dilations 1..16) of 10 units, lr 5e-3: 750 steps, ~40 s on one
    busy thread. The memoryless baseline, 10 ln 8 / 50 = 0.416 nats per step, recalls 12.5 %."""
    cfg = PAPER.config("copy_t500_dilated_gru", "smoke")
    cfg = dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, seq_len=30, n_train=4000, n_test=256),
        model=dataclasses.replace(cfg.model, hidden=10, layers=5),
        train=dataclasses.replace(cfg.train, epochs=6, lr=0.005, seeds=[0]),
    )
    runtime.seed_everything(0)
    task = build_task(cfg, 0, torch.device("cpu"))
    m = build_model(cfg, task)
    assert m.rnn.dilations == (1, 2, 4, 8, 16)
    result = Trainer(m, task, cfg.train, tmp_path, seed=0, fingerprint="learns", progress=False).fit()
    baseline = 10 * math.log(8) / 50
    metrics = task.evaluate(m, "test")
    assert result.value < 0.75 * baseline, (result.value, baseline)
    assert metrics["recall_accuracy_pct"] > 30.0, metrics
