"""The training loop: exact resume, NaN guard, atomic checkpoints, selection, lr schedule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from shared.train import checkpoint, runtime
from shared.train.config import TrainConfig
from shared.train.loop import NonFiniteLossError, Trainer
from shared.train.schedules import EpochSchedule, ScheduleConfig


class ToyTask:
    """Noisy linear regression; the model has dropout so that resume must restore the RNG."""

    metric = "mse"
    higher_is_better = False
    has_valid = True

    def __init__(self, n: int = 96, batch_size: int = 8, poison_at: int | None = None) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 6, generator=g)
        self.y = self.x @ torch.randn(6, 1, generator=g) + 0.1 * torch.randn(n, 1, generator=g)
        self.batch_size = batch_size
        self.poison_at = poison_at
        self.calls = 0

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        return list(torch.randperm(len(self.x), generator=generator).split(self.batch_size))

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = nn.functional.mse_loss(model(self.x[idx]), self.y[idx])
        return loss * math.nan if self.calls == self.poison_at else loss

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        model.eval()
        half = len(self.x) // 2
        sl = slice(0, half) if split == "valid" else slice(half, None)
        mse = nn.functional.mse_loss(model(self.x[sl]), self.y[sl]).item()
        model.train()
        return {"loss": mse, "mse": mse}


class Recorder:
    def __init__(self) -> None:
        self.losses: dict[int, float] = {}

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        if "train/loss" in metrics and "lr" not in metrics:
            self.losses[step] = metrics["train/loss"]


class Killed(Exception):
    """Stands in for the process being killed right after a checkpoint."""


def make_trainer(run_dir: Path, task: ToyTask, cfg: TrainConfig, **kwargs) -> Trainer:
    runtime.seed_everything(7)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 1))
    return Trainer(model, task, cfg, run_dir, seed=7, fingerprint="toy", progress=False, **kwargs)


CFG = TrainConfig(
    epochs=3,
    lr=0.01,
    clip=1.0,
    log_every=1,
    checkpoint_every=5,
    selection="best_valid",
    schedule=ScheduleConfig(kind="plateau", factor=0.5, after_epoch=1, window=1),
)


def test_resume_after_a_kill_reproduces_the_uninterrupted_run(tmp_path: Path) -> None:
    straight = Recorder()
    straight_result = make_trainer(tmp_path / "straight", ToyTask(), CFG, tracker=straight).fit()
    n_steps = max(straight.losses)
    assert n_steps == 36

    def kill(step: int) -> None:
        if step == 20:  # mid-epoch (12 batches per epoch), right after the step-20 checkpoint
            raise Killed

    first = Recorder()
    with pytest.raises(Killed):
        make_trainer(tmp_path / "resumed", ToyTask(), CFG, tracker=first, on_step=kill).fit()
    second = Recorder()
    # A fresh process: new model init and RNG draws, all overwritten by the checkpoint.
    torch.manual_seed(12345)
    result = make_trainer(tmp_path / "resumed", ToyTask(), CFG, tracker=second).fit()
    assert min(second.losses) == 21
    resumed = {**{s: v for s, v in first.losses.items() if s <= 20}, **second.losses}
    assert resumed == straight.losses  # bit-identical, every step
    assert result.steps == n_steps and result.epochs == 3
    timing = ("train/steps_per_s", "eval_seconds")
    assert [{k: v for k, v in h.items() if k not in timing} for h in result.history] == [
        {k: v for k, v in h.items() if k not in timing} for h in straight_result.history
    ]


def test_a_checkpoint_of_another_configuration_is_not_resumed(tmp_path: Path) -> None:
    make_trainer(tmp_path, ToyTask(), CFG).fit()
    other = make_trainer(tmp_path, ToyTask(), CFG)
    other.fingerprint = "changed"
    assert other.try_resume() is False and other.step == 0


def test_nan_guard_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, ToyTask(poison_at=17), CFG)
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 2, step 17.*last good checkpoint"):
        trainer.fit()
    state = checkpoint.load(tmp_path / "last.pt")
    assert state["step"] == 15  # the checkpoint of step 15 survives; nothing was written after the NaN
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_checkpoints_load_with_weights_only_and_hold_no_modules(tmp_path: Path) -> None:
    make_trainer(tmp_path, ToyTask(), CFG).fit()
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert {"model", "optimizer", "schedule", "rng", "epoch", "batch_index", "step"} <= set(state)
    assert not list(tmp_path.glob(".*.tmp"))


def test_atomic_save_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    checkpoint.save_atomic({"a": torch.ones(2)}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        checkpoint.save_atomic({"a": Unpicklable()}, path)
    assert torch.equal(checkpoint.load(path)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


@pytest.mark.parametrize("selection", ["best_valid", "last3_mean", "last"])
def test_selection_protocols(tmp_path: Path, selection: str) -> None:
    cfg = TrainConfig(epochs=4, lr=0.01, selection=selection)
    result = make_trainer(tmp_path, ToyTask(), cfg).fit()
    tests = [h["test/mse"] for h in result.history]
    if selection == "last3_mean":
        assert result.value == pytest.approx(sum(tests[-3:]) / 3)
    elif selection == "last":
        assert result.value == tests[-1]
    else:
        valids = [h["valid/mse"] for h in result.history]
        best = valids.index(min(valids))
        assert result.selected_epoch == best + 1
        assert result.value == pytest.approx(tests[best])


def test_plateau_schedule_decays_only_after_warmup_and_on_a_worse_epoch() -> None:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = EpochSchedule(opt, ScheduleConfig(kind="plateau", factor=0.1, after_epoch=2, window=2))
    decisions = [schedule.step(e, v) for e, v in enumerate([5.0, 6.0, 4.0, 4.5, 3.0, 4.9, 5.0], start=1)]
    # epoch 2 is worse but within warm-up; epoch 4 (4.5) is not worse than both of (6.0, 4.0);
    # epoch 6 (4.9) is worse than 4.5 and 3.0; epoch 7 (5.0) is worse than 3.0 and 4.9.
    assert decisions == [False, False, False, False, False, True, True]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)


def test_exponential_schedule_keeps_the_lr_for_after_epoch_epochs_then_decays_every_epoch() -> None:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = EpochSchedule(opt, ScheduleConfig(kind="exponential", factor=0.5, after_epoch=4))
    lrs = []
    for epoch in range(1, 8):
        lrs.append(schedule.lr)  # the lr epoch ``epoch`` trains with
        schedule.step(epoch, None)
    # Zaremba et al. (2014): "after 4 epochs we halve the learning rate each epoch"
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125]
