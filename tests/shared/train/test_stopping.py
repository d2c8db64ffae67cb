"""The stopping rules ``train.stop_lr`` and ``train.patience`` (shared.train.hooks)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared.train.config import TrainConfig
from shared.train.schedules import ScheduleConfig
from tests.shared.train.test_loop import Killed, ToyTask, make_trainer

TIMING = ("train/steps_per_s", "eval_seconds")


def _curves(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in h.items() if k not in TIMING} for h in history]


class ScriptedValid(ToyTask):
    """ToyTask whose validation loss of epoch e is ``script[e - 1]``: the stopping epoch is known."""

    def __init__(self, script: list[float], epochs_done: int = 0) -> None:
        super().__init__()
        self.script = script
        self.valid_calls = epochs_done

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, split: str) -> dict[str, float]:
        result = super().evaluate(model, split)
        if split == "valid":
            self.valid_calls += 1
            result = {"loss": self.script[self.valid_calls - 1], "mse": self.script[self.valid_calls - 1]}
        return result


def test_stop_lr_ends_the_run_after_the_epoch_whose_decay_crosses_it_as_a_prefix_of_the_full_run(
    tmp_path: Path,
) -> None:
    halving = ScheduleConfig(kind="exponential", factor=0.5, after_epoch=1)
    full = make_trainer(tmp_path / "full", ToyTask(), TrainConfig(epochs=5, lr=0.01, schedule=halving)).fit()
    # lr per epoch: 0.01, 0.005, 0.0025: the decay after epoch 2 sets 0.0025 < 0.003, so 2 epochs run.
    cfg = TrainConfig(epochs=5, lr=0.01, schedule=halving, stop_lr=0.003)
    stopped = make_trainer(tmp_path / "stopped", ToyTask(), cfg).fit()
    assert stopped.epochs == 2 and full.epochs == 5
    assert _curves(stopped.history) == _curves(full.history[:2])  # the same run, cut short
    # A finished (stopped) run is not trained further when started again.
    again = make_trainer(tmp_path / "stopped", ToyTask(), cfg)
    assert again.saved_run() == "finished"


def test_patience_stops_after_that_many_epochs_without_a_better_validation_metric(tmp_path: Path) -> None:
    script = [5.0, 4.0, 4.5, 4.0, 4.2, 3.0, 2.0, 1.0]  # best at epoch 2; 3, 4, 5 are not better
    cfg = TrainConfig(epochs=8, lr=0.01, patience=3, selection="best_valid")
    result = make_trainer(tmp_path / "straight", ScriptedValid(script), cfg).fit()
    assert result.epochs == 5 and result.selected_epoch == 2

    def kill(step: int) -> None:
        if step == 4 * 12 + 1:  # the first step of epoch 5 (12 batches per epoch): after epoch 4's checkpoint
            raise Killed

    with pytest.raises(Killed):
        make_trainer(tmp_path / "resumed", ScriptedValid(script), cfg, on_step=kill).fit()
    resumed = make_trainer(tmp_path / "resumed", ScriptedValid(script, epochs_done=4), cfg).fit()
    assert resumed.epochs == 5 and resumed.selected_epoch == 2
    assert _curves(resumed.history) == _curves(result.history)


def test_bad_stopping_rules_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="train.stop_lr.*first epoch"):
        TrainConfig(epochs=3, lr=0.01, stop_lr=0.01).validate()
    with pytest.raises(ValueError, match="train.patience"):
        TrainConfig(epochs=3, patience=0).validate()
    with pytest.raises(ValueError, match="train.patience needs train.selection: best_valid, not 'last'"):
        TrainConfig(epochs=3, patience=2, selection="last").validate()


def test_patience_needs_a_validation_split(tmp_path: Path) -> None:
    task = ToyTask()
    task.has_valid = False
    with pytest.raises(ValueError, match="train.patience: ToyTask has no validation split"):
        make_trainer(tmp_path, task, TrainConfig(epochs=3, patience=2))
