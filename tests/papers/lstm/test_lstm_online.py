"""The 1997 experiments: the compiled learner equals autograd on the shared cell, the net sizes
are the paper's, the adding problem is learnt, and a trial resumes exactly."""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from papers.lstm import trials
from papers.lstm.__main__ import PAPER
from papers.lstm.config import OnlineTaskConfig
from papers.lstm.model import LSTM1997Net
from papers.lstm.online import OnlineLSTM
from shared.core.config import load_task_config
from shared.data import hochreiter1997 as tasks
from shared.run.experiment import RunOptions, RunSpec
from shared.run.guard import Terminated
from shared.tasks import hochreiter1997 as criteria
from shared.train import checkpoint


def online_config(task: str, **data: object) -> OnlineTaskConfig:
    cfg = load_task_config(PAPER.params_path, task, "cpu", OnlineTaskConfig)
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, **data)) if data else cfg


@pytest.mark.parametrize(
    ("task", "weights"),
    [("adding_t100", 93), ("temporal_order_6a", 156), ("reber_4x1_lr01", 264), ("reber_3x2_lr05", 276)],
)
def test_nets_have_the_papers_weight_counts(task: str, weights: int) -> None:
    assert trials.build_net(online_config(task), 1).num_weights() == weights  # Table 10, column w


def one_sequence(kind: str) -> tasks.SequenceBatch:
    rng = np.random.default_rng(3)
    if kind == "adding":
        return tasks.adding_problem(1, 40, rng)
    if kind == "reber":
        return tasks.reber_sets(1, 1, rng)[0]
    return tasks.temporal_order(1, rng)


@pytest.mark.parametrize("task", ["adding_t100", "temporal_order_6a", "reber_3x2_lr05"])
def test_end_of_sequence_update_is_the_autograd_gradient_of_the_truncated_cell(task: str) -> None:
    cfg = online_config(task)
    net = trials.build_net(cfg, 7)
    batch = one_sequence(cfg.data.kind)
    length = int(batch.lengths[0])
    x, target = torch.from_numpy(batch.inputs[0, :length]), torch.from_numpy(batch.targets[0, :length])
    mask = torch.from_numpy(batch.target_mask[0, :length])
    output = net(x[:, None])[:, 0]
    (0.5 * ((target - output) ** 2)[mask].sum()).backward()  # Eqs. 16-19 up to the factor 1/2

    online = OnlineLSTM.from_net(net)
    before = online.hidden.copy(), online.output.copy()
    online.train_sequence(batch.inputs[0, :length], batch.targets[0, :length], batch.target_mask[0, :length], 1.0)
    cell = net.hidden
    grad_hidden = torch.cat([cell.weight_ih.grad, cell.weight_hh.grad, cell.bias.grad[:, None]], 1).numpy()
    np.testing.assert_allclose(online.hidden - before[0], -grad_hidden, atol=1e-13)
    np.testing.assert_allclose(online.output[:, :-1] - before[1][:, :-1], -net.output.weight.grad.numpy(), atol=1e-13)
    if net.output.bias is not None:
        np.testing.assert_allclose(online.output[:, -1] - before[1][:, -1], -net.output.bias.grad.numpy(), atol=1e-13)


def test_per_step_and_end_of_sequence_updates_agree_with_a_single_target() -> None:
    net = trials.build_net(online_config("adding_t100"), 2)
    batch = one_sequence("adding")
    a, b = OnlineLSTM.from_net(net), OnlineLSTM.from_net(net)
    args = (batch.inputs[0], batch.targets[0], batch.target_mask[0], 0.5)
    a.train_sequence(*args, per_step=True)
    b.train_sequence(*args, per_step=False)
    np.testing.assert_allclose(a.hidden, b.hidden, atol=1e-15)


def test_forward_and_trained_weights_equal_the_torch_net() -> None:
    net = trials.build_net(online_config("reber_3x2_lr05"), 4)
    batch, _ = tasks.reber_sets(8, 1, np.random.default_rng(0))
    online = OnlineLSTM.from_net(net)
    for i in range(4):  # move the weights away from their initial values
        online.train_sequence(batch.inputs[i], batch.targets[i], batch.target_mask[i], 0.5)
    online.copy_into(net)
    with torch.no_grad():
        theirs = net(torch.from_numpy(batch.inputs).transpose(0, 1)).transpose(0, 1).numpy()
    mask = batch.target_mask[..., None]
    np.testing.assert_allclose(online.predict(batch) * mask, theirs * mask, atol=1e-13)


@pytest.mark.slow
def test_the_1997_lstm_learns_the_adding_problem_at_small_t_within_a_minute(tmp_path: Path) -> None:
    cfg = online_config("adding_t100", min_length=30, n_test=512)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, max_sequences=60_000))
    trial = trials.Trial(cfg, 1, tmp_path, "fp")
    wrong_before, mse_before, _ = trial.test()
    while not trial.done():
        trial.step()
    wrong, mse, by_sum = trial.test()
    # Untrained: ~85% of the sequences off by >= 0.04 and the MSE of predicting 0.5 (1/24).
    assert wrong_before > 300 and mse_before > 0.03
    assert wrong < 64 and mse < 0.05 * mse_before
    assert by_sum is not None and by_sum["wrong_extreme_sum"] + by_sum["wrong_other_sum"] == wrong
    # Mostly right (90% of a window) before all right, and no sooner than a full window.
    assert cfg.train.window <= trial.mostly_correct_after[0] <= trial.seen


def test_the_mostly_correct_mark_is_the_first_full_window_with_that_fraction_right() -> None:
    """The compiled running count against a recount of the window after every single sequence."""
    cfg = online_config("adding_t100", min_length=24)
    window, n = 50, 1000
    batch = criteria.generate("adding", n, np.random.default_rng(3), 24)
    marks = []
    for chunk in (n, 1):  # one call for all sequences, and one call per sequence
        online = OnlineLSTM.from_net(trials.build_net(cfg, 2))
        errors, correct = np.zeros(window), np.zeros(window, dtype=np.bool_)
        mark = np.full(1, -1, dtype=np.int64)
        recounted = None
        for start in range(0, n, chunk):
            part = tasks.SequenceBatch(*(a[start : start + chunk] for a in dataclasses.astuple(batch)[:4]), None)
            online.train_until(part, 0.5, True, 0.2, None, errors, correct, start, 0.8, mark)
            if recounted is None and start + chunk >= window and correct.mean() >= 0.8:
                recounted = start + chunk
        marks.append((int(mark[0]), recounted))
    (in_one, _), (per_sequence, recounted) = marks
    assert recounted is not None and in_one == per_sequence == recounted > window, marks


def test_adding_errors_are_split_by_the_size_of_the_sum() -> None:
    batch = criteria.generate("adding", 4, np.random.default_rng(0), 24)
    last = batch.lengths - 1
    rows = np.arange(4)
    batch.targets[rows, last, 0] = 0.5 + np.array([1.9, -1.9, 0.2, 1.0]) / 4  # sums: high, low, other, other
    outputs = np.zeros_like(batch.targets)
    outputs[rows, last, 0] = batch.targets[rows, last, 0] + np.array([-0.05, 0.03, 0.01, -0.06])
    by_sum = criteria.adding_errors_by_sum(outputs, batch, 0.04)
    assert by_sum["wrong_extreme_sum"] == 1 and by_sum["wrong_other_sum"] == 1
    assert by_sum["signed_error_high_sum"] == pytest.approx(-0.05)
    assert by_sum["signed_error_low_sum"] == pytest.approx(0.03)
    assert by_sum["max_abs_error_other_sum"] == pytest.approx(0.06)


def test_an_interrupted_trial_resumes_exactly(tmp_path: Path) -> None:
    cfg = online_config("adding_t100", min_length=30)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, max_sequences=600, chunk=200))
    straight = trials.Trial(cfg, 5, tmp_path / "a", "fp")
    while not straight.done():
        straight.step()
    first = trials.Trial(cfg, 5, tmp_path / "b", "fp")
    first.step()
    first.save()
    resumed = trials.Trial(cfg, 5, tmp_path / "b", "fp")
    assert resumed.try_resume() and resumed.seen == 200
    assert not trials.Trial(cfg, 5, tmp_path / "b", "another config").try_resume()
    while not resumed.done():
        resumed.step()
    np.testing.assert_array_equal(resumed.online.hidden, straight.online.hidden)
    np.testing.assert_array_equal(resumed.window_errors, straight.window_errors)
    assert resumed.mostly_correct_after[0] == straight.mostly_correct_after[0]


@pytest.mark.slow
def test_sigterm_ends_a_trial_killed_and_the_resumed_trial_continues_its_mlflow_run_exactly(
    tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_store)

    def logged(run_id: str) -> set[tuple[str, int, float]]:
        keys = client.get_run(run_id).data.metrics
        return {(k, m.step, m.value) for k in keys for m in client.get_metric_history(run_id, k)}

    cfg = load_task_config(PAPER.params_path, "adding_t100", "smoke", OnlineTaskConfig)  # 3 chunks of 100
    options = RunOptions(progress=False)
    straight = trials.run_trial(
        RunSpec("lstm", "adding_t100", "smoke", 1, tmp_path / "straight", "fp", options), cfg, PAPER.card_path, {}
    )
    spec = RunSpec("lstm", "adding_t100", "smoke", 1, tmp_path / "run", "fp", options)
    step = trials.Trial.step

    def step_then_sigterm(trial: trials.Trial) -> dict[str, float]:
        metrics = step(trial)
        if trial.chunk == 2:  # as a SIGTERM is delivered: when the compiled learner returns
            os.kill(os.getpid(), signal.SIGTERM)
        return metrics

    monkeypatch.setattr(trials.Trial, "step", step_then_sigterm)
    with pytest.raises(Terminated):
        trials.run_trial(spec, cfg, PAPER.card_path, {})
    monkeypatch.setattr(trials.Trial, "step", step)
    run_id = (spec.run_dir / "mlflow_run_id").read_text()
    assert client.get_run(run_id).info.status == "KILLED"  # was: RUNNING forever
    assert checkpoint.load(spec.run_dir / "last.pt")["seen"] == 100  # the checkpoint before the chunk

    resumed = trials.run_trial(spec, cfg, PAPER.card_path, {})
    assert resumed.mlflow_run_id == run_id and client.get_run(run_id).info.status == "FINISHED"
    assert dataclasses.replace(resumed, wall_time_s=0, mlflow_run_id="") == dataclasses.replace(
        straight, wall_time_s=0, mlflow_run_id=""
    )
    assert logged(run_id) == logged(straight.mlflow_run_id)  # every chunk's metrics, no gap


def test_reber_success_check_counts_strings_with_a_wrong_prediction() -> None:
    batch, _ = tasks.reber_sets(4, 1, np.random.default_rng(1))
    outputs = batch.allowed.astype(float)  # the possible next symbols' units most active
    assert criteria.reber_strings_with_mistakes(outputs, batch) == 0
    outputs[2, 0] = 1.0 - outputs[2, 0]  # string 2: the first prediction is now wrong
    assert criteria.reber_strings_with_mistakes(outputs, batch) == 1


def test_lstm1997net_rejects_bad_bias_units() -> None:
    with pytest.raises(ValueError, match="bias_units"):
        LSTM1997Net(2, 1, 2, 2, 0.1, bias_units="none")
