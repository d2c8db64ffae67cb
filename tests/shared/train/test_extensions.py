"""Trainer extension points: optimizer and schedule registries, hooks (with exact resume), NT-ASGD."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from shared.core.config import ConfigError, from_dict
from shared.train import checkpoint, runtime
from shared.train.config import TrainConfig
from shared.train.hooks import swapped_weights
from shared.train.loop import Trainer
from shared.train.nt_asgd import NTASGD, should_start_averaging
from shared.train.optimizers import lookup_optimizer, register_optimizer, registered_optimizers
from shared.train.schedules import EpochSchedule, ScheduleConfig, register_schedule, registered_schedules


class ToyTask:
    """Noisy linear regression (the pattern of test_train_loop.py). ``valid_losses``, when given,
    replaces the validation loss of epoch ``e`` by ``valid_losses[e - 1]`` so that a test decides
    when NT-ASGD triggers; ``seen`` records the weights every evaluation ran with."""

    metric = "mse"
    higher_is_better = False
    has_valid = True

    def __init__(self, valid_losses: list[float] | None = None) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(96, 6, generator=g)
        self.y = self.x @ torch.randn(6, 1, generator=g) + 0.1 * torch.randn(96, 1, generator=g)
        self.valid_losses = valid_losses
        self.epoch = 0
        self.seen: list[tuple[int, str, list[torch.Tensor]]] = []

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        self.epoch = epoch
        return list(torch.randperm(len(self.x), generator=generator).split(8))

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(model(self.x[idx]), self.y[idx])

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        self.seen.append((self.epoch, split, [p.detach().clone() for p in model.parameters()]))
        sl = slice(0, 48) if split == "valid" else slice(48, None)
        mse = nn.functional.mse_loss(model(self.x[sl]), self.y[sl]).item()
        loss = self.valid_losses[self.epoch - 1] if self.valid_losses and split == "valid" else mse
        return {"loss": loss, "mse": mse}


class Killed(Exception):
    """Stands in for the process being killed right after a checkpoint."""


def kill_at(step: int):
    def on_step(current: int) -> None:
        if current == step:
            raise Killed

    return on_step


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 1))


def make_trainer(run_dir: Path, task: ToyTask, cfg: TrainConfig, model=mlp, **kwargs) -> Trainer:
    runtime.seed_everything(7)
    return Trainer(model(), task, cfg, run_dir, seed=7, fingerprint="toy", progress=False, **kwargs)


def parameters(trainer: Trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.model.parameters()]


def bitwise_equal(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------- registries
def _adamw(params: list[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _every_epoch(cfg: ScheduleConfig, epoch: int, valid_loss: float | None, history: list[float]) -> bool:
    return True


# Registered once, at import (a second registration of a name is an error).
register_optimizer("test_adamw", _adamw)
register_schedule("test_every_epoch", _every_epoch)


def test_the_registries_hold_the_builtins() -> None:
    assert {"adam", "sgd", "rmsprop", "adadelta", "asgd", "nt_asgd"} <= set(registered_optimizers())
    assert {"constant", "plateau", "exponential"} <= set(registered_schedules())


def test_an_unknown_optimizer_or_schedule_name_is_a_clear_error_that_lists_the_known_names() -> None:
    with pytest.raises(ValueError, match=r"train\.optimizer: 'adamx' is not one of adam, sgd, rmsprop, adadelta, asgd"):
        TrainConfig(epochs=1, optimizer="adamx").validate()
    with pytest.raises(ValueError, match=r"optimizer 'adamx' is not registered \(known: adam, sgd, "):
        lookup_optimizer("adamx")
    with pytest.raises(ValueError, match=r"schedule\.kind: 'cosine' is not one of constant, plateau, exponential"):
        ScheduleConfig(kind="cosine").validate()
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match=r"schedule 'cosine' is not registered \(known: constant, plateau"):
        EpochSchedule(opt, ScheduleConfig(kind="cosine"))
    with pytest.raises(ConfigError, match=r"train\.optimizer: 'adamx' is not one of"):
        from_dict(TrainConfig, {"epochs": 1, "optimizer": "adamx"}, "train: ")


def test_the_step_schedule_decays_at_after_epoch_and_every_window_epochs_after() -> None:
    # Li et al. (2018): /10 every 20K steps, with epochs of 1K steps: after_epoch 20, window 20.
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = EpochSchedule(opt, ScheduleConfig(kind="step", factor=0.1, after_epoch=3, window=2))
    decayed = [epoch for epoch in range(1, 10) if schedule.step(epoch, None)]
    assert decayed == [3, 5, 7, 9]
    assert schedule.lr == pytest.approx(1e-4)


def test_a_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="optimizer 'adam' is already registered"):
        register_optimizer("adam", _adamw)
    with pytest.raises(ValueError, match="schedule 'plateau' is already registered"):
        register_schedule("plateau", _every_epoch)


def test_a_registered_optimizer_and_schedule_are_used_by_name(tmp_path: Path) -> None:
    schedule = ScheduleConfig(kind="test_every_epoch", factor=0.5)
    cfg = from_dict(
        TrainConfig,
        {"epochs": 2, "optimizer": "test_adamw", "lr": 0.01, "weight_decay": 0.1, "schedule": vars(schedule)},
        "train: ",
    )
    trainer = make_trainer(tmp_path, ToyTask(), cfg)
    assert type(trainer.optimizer) is torch.optim.AdamW and trainer.optimizer.defaults["weight_decay"] == 0.1
    result = trainer.fit()
    assert [h["lr"] for h in result.history] == [0.01, 0.005] and trainer.schedule.lr == 0.0025


def test_nesterov_needs_momentum() -> None:
    with pytest.raises(ValueError, match="train.nesterov: Nesterov momentum needs train.momentum > 0"):
        TrainConfig(epochs=1, optimizer="sgd", nesterov=True).validate()
    optimizer = lookup_optimizer("sgd").factory(
        [nn.Parameter(torch.zeros(1))], TrainConfig(epochs=1, momentum=0.9, nesterov=True)
    )
    assert optimizer.defaults["nesterov"] is True and optimizer.defaults["momentum"] == 0.9


# The optimizers as loop.make_optimizer constructed them before the registry, argument for argument.
TODAY = {
    "adam": lambda params, cfg: torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay),
    "sgd": lambda params, cfg: torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay),
    "adadelta": lambda params, cfg: torch.optim.Adadelta(
        params, lr=cfg.lr, rho=0.95, eps=1e-6, weight_decay=cfg.weight_decay
    ),
    "rmsprop": lambda params, cfg: torch.optim.RMSprop(
        params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    ),
}
for _name, _factory in TODAY.items():
    register_optimizer(f"test_direct_{_name}", _factory)


@pytest.mark.parametrize("name", sorted(TODAY))
def test_every_existing_optimizer_trains_bit_identically_to_a_direct_construction(tmp_path: Path, name: str) -> None:
    def run(optimizer: str) -> Trainer:
        cfg = TrainConfig(
            epochs=2, optimizer=optimizer, lr=0.01, momentum=0.9, weight_decay=1e-3, clip=1.0, selection="last"
        )
        trainer = make_trainer(tmp_path / optimizer, ToyTask(), cfg)
        trainer.fit()
        return trainer

    registered, direct = run(name), run(f"test_direct_{name}")
    assert type(registered.optimizer) is type(direct.optimizer)
    assert registered.optimizer.defaults == direct.optimizer.defaults
    order = [p for group in registered.optimizer.param_groups for p in group["params"]]
    assert [id(p) for p in order] == [id(p) for p in registered.model.parameters()]
    assert bitwise_equal(parameters(registered), parameters(direct))


# ---------------------------------------------------------------------- hooks
class ClampFirstLayer:
    """Projects the first layer's weights into [-bound, bound] after every step (as a recurrent
    weight bound would be kept)."""

    def __init__(self, bound: float) -> None:
        self.bound = bound
        self.calls = 0

    def after_step(self, trainer: Trainer) -> None:
        self.calls += 1
        with torch.no_grad():
            trainer.model[0].weight.clamp_(-self.bound, self.bound)


def test_a_post_step_hook_is_applied_after_every_step(tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=2, optimizer="sgd", lr=0.1, selection="last")
    free = make_trainer(tmp_path / "free", ToyTask(), cfg)
    free.fit()
    bound = 0.0625  # exact in float32
    assert free.model[0].weight.abs().max() > bound  # the bound is violated without the hook

    clamp = ClampFirstLayer(bound)
    maxima: list[float] = []
    trainer = make_trainer(tmp_path / "clamped", ToyTask(), cfg, hooks=[clamp])
    trainer.on_step = lambda step: maxima.append(trainer.model[0].weight.abs().max().item())
    trainer.fit()
    assert clamp.calls == trainer.step == len(maxima) == 24
    assert max(maxima) <= bound and trainer.model[0].weight.abs().max() <= bound


class ShrinkingClamp(ClampFirstLayer):
    """A clamp whose bound tightens with its step count: resumed without that count, it would clamp
    differently."""

    def after_step(self, trainer: Trainer) -> None:
        self.bound = 0.5 / (1 + 0.1 * self.calls)
        super().after_step(trainer)

    def state_dict(self) -> dict[str, int]:
        return {"calls": self.calls}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.calls = state["calls"]


class StatelessShrinkingClamp(ClampFirstLayer):
    def after_step(self, trainer: Trainer) -> None:
        self.bound = 0.5 / (1 + 0.1 * self.calls)
        super().after_step(trainer)


RESUME_CFG = TrainConfig(
    epochs=3, optimizer="sgd", lr=0.2, momentum=0.5, clip=1.0, checkpoint_every=5, selection="last"
)


def test_hook_state_survives_an_exact_resume(tmp_path: Path) -> None:
    straight = make_trainer(tmp_path / "straight", ToyTask(), RESUME_CFG, hooks=[ShrinkingClamp(1.0)])
    straight.fit()

    with pytest.raises(Killed):  # mid-epoch 2, right after the step-20 checkpoint
        make_trainer(
            tmp_path / "resumed", ToyTask(), RESUME_CFG, hooks=[ShrinkingClamp(1.0)], on_step=kill_at(20)
        ).fit()
    torch.manual_seed(12345)  # a fresh process
    hook = ShrinkingClamp(1.0)
    resumed = make_trainer(tmp_path / "resumed", ToyTask(), RESUME_CFG, hooks=[hook])
    resumed.fit()
    assert hook.calls == 36
    assert bitwise_equal(parameters(resumed), parameters(straight))
    assert checkpoint.load(tmp_path / "resumed" / "last.pt")["hooks"] == [{"calls": 36}]

    # The same interruption with a hook that does not save its count ends elsewhere.
    with pytest.raises(Killed):
        kwargs = {"hooks": [StatelessShrinkingClamp(1.0)], "on_step": kill_at(20)}
        make_trainer(tmp_path / "stateless", ToyTask(), RESUME_CFG, **kwargs).fit()
    lost = make_trainer(tmp_path / "stateless", ToyTask(), RESUME_CFG, hooks=[StatelessShrinkingClamp(1.0)])
    lost.fit()
    assert not bitwise_equal(parameters(lost), parameters(straight))


def test_a_checkpoint_without_hook_states_still_resumes_and_one_of_other_hooks_does_not(tmp_path: Path) -> None:
    with pytest.raises(Killed):
        make_trainer(tmp_path, ToyTask(), RESUME_CFG, on_step=kill_at(20)).fit()
    state = checkpoint.load(tmp_path / "last.pt")
    assert state["schedule"] == {"history": [state["history"][0]["valid/loss"]]}  # the format of before
    del state["hooks"]  # as written before hooks existed
    checkpoint.save_atomic(state, tmp_path / "last.pt")
    assert make_trainer(tmp_path, ToyTask(), RESUME_CFG).try_resume() is True
    other = make_trainer(tmp_path, ToyTask(), RESUME_CFG, hooks=[ShrinkingClamp(1.0)])
    assert other.try_resume() is False and other.step == 0


def test_a_task_metric_the_loop_does_not_know_is_recorded_for_both_splits(tmp_path: Path) -> None:
    class WithCache(ToyTask):
        def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
            return {**super().evaluate(model, split), "cache_ppl": 42.0 if split == "valid" else 43.0}

    result = make_trainer(tmp_path, WithCache(), TrainConfig(epochs=1, selection="last")).fit()
    assert result.history[0]["valid/cache_ppl"] == 42.0 and result.history[0]["test/cache_ppl"] == 43.0


def test_swapped_weights_restores_the_trained_weights_bitwise() -> None:
    p = nn.Parameter(torch.tensor([0.1, 0.2]))
    with swapped_weights([p], [torch.tensor([1.0, 2.0])]):
        assert p.tolist() == [1.0, 2.0]
    assert torch.equal(p, torch.tensor([0.1, 0.2]))


# ---------------------------------------------------------------------- NT-ASGD
def first_trigger(losses: list[float], nonmono: int) -> int | None:
    """The 1-based epoch at which the trigger first fires when checked after every epoch."""
    return next((t for t in range(1, len(losses) + 1) if should_start_averaging(losses[:t], nonmono)), None)


def test_the_nt_asgd_trigger_fires_exactly_where_the_rule_says() -> None:
    losses = [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 5.5, 6.0, 7.0, 8.0, 9.5]
    # Epochs 7-9 are worse than epoch 6 but not than the best of the epochs more than 5 back
    # (10, then 9, then 8); epoch 10 (8.0) is worse than 7.0, the best of epochs 1-4.
    assert [should_start_averaging(losses[:t], 5) for t in range(1, 11)] == [False] * 9 + [True]
    assert first_trigger(losses, 5) == 10
    # Strictly worse: equal to that best is not enough.
    assert first_trigger([10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 5.5, 6.0, 7.0, 7.0], 5) is None
    # Worse from epoch 2 on, but the rule first looks back at epoch 7 (more than 5 earlier epochs).
    assert first_trigger([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 5) == 7
    assert first_trigger([3.0, 2.0, 2.5], 0) == 3  # n = 0: worse than the best so far
    assert first_trigger([2.0, 3.0, 4.0], 1) == 3


# Validation losses that trigger NT-ASGD (nonmono 1) at the end of epoch 3.
SCRIPT = [2.0, 3.0, 4.0, 1.0, 1.0]
NT_CFG = TrainConfig(epochs=5, optimizer="nt_asgd", lr=0.05, nonmono=1, checkpoint_every=5, selection="last")


def test_nt_asgd_evaluates_the_average_of_the_iterates_after_the_trigger(tmp_path: Path) -> None:
    task = ToyTask(SCRIPT)
    iterates: list[list[torch.Tensor]] = []
    trainer = make_trainer(tmp_path, task, NT_CFG, model=lambda: nn.Linear(6, 1))
    trainer.on_step = lambda step: iterates.append(parameters(trainer))
    trainer.fit()
    assert len(iterates) == 60  # 12 steps per epoch
    evaluated = {(epoch, split): weights for epoch, split, weights in task.seen}
    for epoch in (1, 2, 3):  # SGD: the last iterate of the epoch
        assert bitwise_equal(evaluated[epoch, "valid"], iterates[12 * epoch - 1])
    for epoch in (4, 5):  # the mean of the iterates of the steps after epoch 3 but its first (torch's ASGD)
        since_trigger = iterates[37 : 12 * epoch]
        mean = [torch.stack(ws).double().mean(0).float() for ws in zip(*since_trigger, strict=True)]
        for split in ("valid", "test"):
            torch.testing.assert_close(evaluated[epoch, split], mean, rtol=1e-6, atol=1e-7)
        assert not bitwise_equal(evaluated[epoch, "valid"], iterates[12 * epoch - 1])
    assert bitwise_equal(parameters(trainer), iterates[-1])  # training goes on from the iterate
    # best.pt holds the weights evaluated at the best epoch, here averaged ones.
    assert trainer.best_epoch in (4, 5)
    best = checkpoint.load(tmp_path / "best.pt")["model"]
    assert bitwise_equal([best["weight"], best["bias"]], evaluated[trainer.best_epoch, "valid"])
    (hook,) = trainer.hooks
    assert isinstance(hook, NTASGD) and hook.valid_losses == [2.0, 3.0, 4.0] and hook.averaged_steps == 24


def test_nt_asgd_resumes_exactly_across_the_switch(tmp_path: Path) -> None:
    straight = make_trainer(tmp_path / "straight", ToyTask(SCRIPT), NT_CFG)
    straight_result = straight.fit()
    # Killed in epoch 3 (before the trigger), then in epoch 5 (while averaging), resumed each time.
    for step in (30, 55):
        torch.manual_seed(step)
        with pytest.raises(Killed):
            make_trainer(tmp_path / "resumed", ToyTask(SCRIPT), NT_CFG, on_step=kill_at(step)).fit()
    torch.manual_seed(12345)
    resumed = make_trainer(tmp_path / "resumed", ToyTask(SCRIPT), NT_CFG)
    result = resumed.fit()
    assert resumed.step == 60
    assert bitwise_equal(parameters(resumed), parameters(straight))
    assert bitwise_equal(resumed.hooks[0].average, straight.hooks[0].average)
    timing = ("train/steps_per_s", "eval_seconds")
    assert [{k: v for k, v in h.items() if k not in timing} for h in result.history] == [
        {k: v for k, v in h.items() if k not in timing} for h in straight_result.history
    ]


def test_nt_asgd_after_the_switch_follows_torch_asgd_bitwise() -> None:
    """The official code switches to ``torch.optim.ASGD(t0=0, lambd=0)``: the same iterates, and
    its average ``ax`` is this hook's."""
    torch.manual_seed(0)
    sgd_model, asgd_model = nn.Linear(6, 3), nn.Linear(6, 3)
    asgd_model.load_state_dict(sgd_model.state_dict())
    sgd = torch.optim.SGD(sgd_model.parameters(), lr=0.1, weight_decay=0.01)
    asgd = torch.optim.ASGD(asgd_model.parameters(), lr=0.1, t0=0, lambd=0.0, weight_decay=0.01)
    hook = NTASGD(nonmono=5)
    hook.averaging = True
    for _ in range(7):
        x = torch.randn(4, 6)
        for model, optimizer in ((sgd_model, sgd), (asgd_model, asgd)):
            optimizer.zero_grad()
            model(x).pow(2).mean().backward()
            optimizer.step()
        hook.after_step(SimpleNamespace(optimizer=sgd))
        assert bitwise_equal(list(sgd_model.parameters()), list(asgd_model.parameters()))
        assert bitwise_equal(hook.average, [asgd.state[p]["ax"] for p in asgd_model.parameters()])


def test_nt_asgd_needs_a_validation_loss() -> None:
    with pytest.raises(RuntimeError, match="no valid split"):
        NTASGD(5).after_epoch(SimpleNamespace(epoch=1), {"test/loss": 1.0})


def test_asgd_evaluates_its_running_average(tmp_path: Path) -> None:
    task = ToyTask()
    trainer = make_trainer(tmp_path, task, TrainConfig(epochs=2, optimizer="asgd", lr=0.05, selection="last"))
    trainer.fit()
    ax = [trainer.optimizer.state[p]["ax"] for p in trainer.model.parameters()]
    assert bitwise_equal(task.seen[-1][2], ax)  # the final evaluation ran with the average
    assert not bitwise_equal(parameters(trainer), ax)  # and the model keeps training's iterate
    assert math.isfinite(trainer.history[-1]["valid/mse"])
