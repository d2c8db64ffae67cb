"""Learning-rate schedules decided at the end of each epoch, with state for exact resume."""

from __future__ import annotations

from dataclasses import dataclass

import torch

SCHEDULE_KINDS = ("constant", "plateau", "exponential")


@dataclass
class ScheduleConfig:
    """``constant``; ``plateau``: multiply the lr by ``factor`` when, after epoch
    ``after_epoch``, the validation loss is worse than every one of the previous ``window``
    epochs (the rule of the TCN reference scripts: /10 for music, x0.5 for word PTB);
    ``exponential``: multiply it by ``factor`` at the end of every epoch from ``after_epoch`` on,
    so the first ``after_epoch`` epochs run at the initial lr (Zaremba et al. 2014, Sec. 4.1:
    "after 4 epochs we halve the learning rate each epoch" is ``after_epoch: 4, factor: 0.5``)."""

    kind: str = "constant"
    factor: float = 0.1
    after_epoch: int = 10
    window: int = 3

    def validate(self) -> None:
        if self.kind not in SCHEDULE_KINDS:
            raise ValueError(f"schedule.kind: {self.kind!r} is not one of {SCHEDULE_KINDS}")
        if not 0.0 < self.factor <= 1.0:
            raise ValueError(f"schedule.factor: {self.factor} is not in (0, 1]")
        if self.window < 1:
            raise ValueError(f"schedule.window: {self.window} must be >= 1")


class EpochSchedule:
    """Applies a :class:`ScheduleConfig` to an optimizer from the per-epoch validation loss."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: ScheduleConfig) -> None:
        self.optimizer = optimizer
        self.config = config
        self.history: list[float] = []

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def step(self, epoch: int, valid_loss: float | None) -> bool:
        """Record the epoch's validation loss; return True when the lr was decayed."""
        cfg = self.config
        decayed = False
        if cfg.kind == "plateau" and valid_loss is not None:
            previous = self.history[-cfg.window :]
            decayed = epoch > cfg.after_epoch and bool(previous) and valid_loss > max(previous)
        elif cfg.kind == "exponential":
            decayed = epoch >= cfg.after_epoch
        if decayed:
            for group in self.optimizer.param_groups:
                group["lr"] *= cfg.factor
        if valid_loss is not None:
            self.history.append(valid_loss)
        return decayed

    def state_dict(self) -> dict:
        return {"history": list(self.history)}

    def load_state_dict(self, state: dict) -> None:
        self.history = list(state["history"])
