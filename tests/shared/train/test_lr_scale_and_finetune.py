"""The loop's per-batch lr scale and early stop, and NT-ASGD's fine-tuning stage."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from shared.core.config import ConfigError, from_dict
from shared.train import checkpoint, runtime
from shared.train.config import TrainConfig
from shared.train.loop import Trainer
from shared.train.nt_asgd import NTASGD


class LinearTask:
    """Regression on fixed data; ``scales`` (when given) makes it a task with ``lr_scale``;
    ``valid_losses`` replaces the validation loss of epoch ``e`` by ``valid_losses[e - 1]``."""

    metric = "loss"  # the scripted one: best.pt follows it
    higher_is_better = False
    has_valid = True

    def __init__(self, valid_losses: list[float] | None = None) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(32, 3, generator=g)
        self.y = self.x.sum(1, keepdim=True)
        self.valid_losses = valid_losses
        self.epoch = 0

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[int]:
        self.epoch = epoch
        return [0, 1, 2, 3]

    def train_loss(self, model: nn.Module, batch: int) -> torch.Tensor:
        rows = slice(8 * batch, 8 * batch + 8)
        return nn.functional.mse_loss(model(self.x[rows]), self.y[rows])

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        mse = nn.functional.mse_loss(model(self.x), self.y).item()
        loss = self.valid_losses[self.epoch - 1] if self.valid_losses and split == "valid" else mse
        return {"loss": loss, "mse": mse}


class ScaledTask(LinearTask):
    def lr_scale(self, batch: int) -> float:
        return [1.0, 0.5, 2.0, 1.3][batch]


def trainer(tmp_path: Path, task, cfg: TrainConfig) -> Trainer:
    runtime.seed_everything(3)
    return Trainer(nn.Linear(3, 1), task, cfg, tmp_path, seed=3, fingerprint="toy", progress=False)


def test_the_lr_scale_acts_on_its_own_step_and_the_lr_is_restored_bitwise(tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=1, optimizer="sgd", lr=0.1 + 0.2, weight_decay=1e-3, selection="last")
    t = trainer(tmp_path, ScaledTask(), cfg)
    reference = nn.Linear(3, 1)
    reference.load_state_dict(t.model.state_dict())
    t.fit()
    for batch, scale in enumerate([1.0, 0.5, 2.0, 1.3]):  # plain SGD with lr x scale, by hand
        reference.zero_grad()
        t.task.train_loss(reference, batch).backward()
        with torch.no_grad():
            for p in reference.parameters():
                p -= cfg.lr * scale * (p.grad + 1e-3 * p)
    for ours, theirs in zip(t.model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
    assert t.optimizer.param_groups[0]["lr"] == cfg.lr  # exactly the configured value again


def test_a_task_without_lr_scale_trains_exactly_as_before(tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=1, optimizer="sgd", lr=0.1, selection="last")
    a, b = trainer(tmp_path / "a", LinearTask(), cfg), trainer(tmp_path / "b", ScaledTask(), cfg)
    b.task.lr_scale = lambda batch: 1.0
    a.fit(), b.fit()
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True))


# Validation losses: SGD until epoch 3 triggers averaging (nonmono 1); fine-tuning after epoch 4;
# its own log [5, 6, 7] fires at epoch 7 (7 > min of the epochs more than 1 back).
SCRIPT = [2.0, 3.0, 4.0, 1.0, 5.0, 6.0, 7.0, 0.5, 0.5, 0.5]
FT_CFG = TrainConfig(epochs=10, optimizer="nt_asgd", lr=0.05, nonmono=1, finetune_after=4, selection="best_valid")


def test_fine_tuning_restarts_from_the_best_weights_and_stops_on_the_criterion(tmp_path: Path) -> None:
    t = trainer(tmp_path, LinearTask(SCRIPT), FT_CFG)
    restarted: list[list[torch.Tensor]] = []
    original = NTASGD._restart

    def spy(self: NTASGD, tr: Trainer) -> None:
        original(self, tr)
        restarted.append([p.detach().clone() for p in tr.model.parameters()])

    NTASGD._restart = spy  # type: ignore[method-assign]
    try:
        t.fit()
    finally:
        NTASGD._restart = original  # type: ignore[method-assign]
    (hook,) = t.hooks
    assert t.stopped and len(t.history) == 7 and t.epoch == 8  # stopped after epoch 7, not 10
    assert hook.finetuning and hook.valid_losses == [5.0, 6.0, 7.0]
    assert hook.averaged_steps == 12  # the average restarted at epoch 5: 3 epochs of 4 steps
    best = checkpoint.load(tmp_path / "best.pt")["model"]  # epoch 4's (averaged) weights, valid 1.0
    assert len(restarted) == 1 and t.best_epoch == 4
    assert torch.equal(restarted[0][0], best["weight"]) and torch.equal(restarted[0][1], best["bias"])
    assert t.saved_run() == "finished"


def test_a_stopped_run_resumes_as_finished_and_a_killed_one_exactly(tmp_path: Path) -> None:
    straight = trainer(tmp_path / "straight", LinearTask(SCRIPT), FT_CFG)
    straight.fit()

    class Killed(Exception):
        pass

    def kill(step: int) -> None:
        if step == 22:  # in epoch 6, fine-tuning
            raise Killed

    cfg = TrainConfig(**{**FT_CFG.__dict__, "checkpoint_every": 2})
    first = trainer(tmp_path / "resumed", LinearTask(SCRIPT), cfg)
    first.on_step = kill
    with pytest.raises(Killed):
        first.fit()
    resumed = trainer(tmp_path / "resumed", LinearTask(SCRIPT), cfg)
    resumed.fit()
    assert resumed.stopped and resumed.step == straight.step == 28
    assert all(torch.equal(p, q) for p, q in zip(resumed.model.parameters(), straight.model.parameters(), strict=True))
    assert all(torch.equal(p, q) for p, q in zip(resumed.hooks[0].average, straight.hooks[0].average, strict=True))


def test_finetune_after_is_checked() -> None:
    for bad, match in [
        ({"epochs": 5, "optimizer": "sgd", "finetune_after": 2}, "stage of nt_asgd"),
        ({"epochs": 5, "optimizer": "nt_asgd", "finetune_after": 5}, r"\[1, train.epochs\)"),
    ]:
        with pytest.raises(ConfigError, match=match):
            from_dict(TrainConfig, bad, "train: ")
