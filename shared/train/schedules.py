"""Learning-rate schedules decided at the end of each epoch, with state for exact resume.

``schedule.kind`` is a name in one registry of rules; a paper adds its own rule with
:func:`register_schedule` instead of editing this module. A rule decides, from the epoch, its
validation loss and the earlier ones, whether the lr is multiplied by ``factor`` now.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass
class ScheduleConfig:
    """``constant``; ``plateau``: multiply the lr by ``factor`` when, after epoch
    ``after_epoch``, the validation loss is worse than every one of the previous ``window``
    epochs (the rule of the TCN reference scripts: /10 for music, x0.5 for word PTB);
    ``exponential``: multiply it by ``factor`` at the end of every epoch from ``after_epoch`` on,
    so the first ``after_epoch`` epochs run at the initial lr (Zaremba et al. 2014, Sec. 4.1:
    "after 4 epochs we halve the learning rate each epoch" is ``after_epoch: 4, factor: 0.5``);
    ``step``: multiply it by ``factor`` at the end of epoch ``after_epoch`` and of every
    ``window``-th epoch after it (torch's ``StepLR`` with ``step_size = after_epoch = window``;
    Li et al. 2018: "reduced by a factor of 10 every 20K training steps");
    ``reduce_on_plateau``: torch's ``ReduceLROnPlateau`` rule (mode ``min``, threshold 0, no
    cooldown): multiply it by ``factor`` when the validation loss has not improved on its best for
    more than ``window`` epochs (torch's ``patience``); the count restarts after each decay."""

    kind: str = "constant"
    factor: float = 0.1
    after_epoch: int = 10
    window: int = 3

    def validate(self) -> None:
        known = registered_schedules()  # now, so that a rule a paper registered counts
        if self.kind not in known:
            raise ValueError(
                f"schedule.kind: {self.kind!r} is not one of {', '.join(known)} "
                "(a paper adds its own with shared.train.schedules.register_schedule)"
            )
        if not 0.0 < self.factor <= 1.0:
            raise ValueError(f"schedule.factor: {self.factor} is not in (0, 1]")
        if self.window < 1:
            raise ValueError(f"schedule.window: {self.window} must be >= 1")


#: ``rule(config, epoch, valid_loss, history) -> decay now?``; ``history`` holds the validation
#: losses of the earlier epochs that had one, ``valid_loss`` is None for a task without a valid split.
ScheduleRule = Callable[[ScheduleConfig, int, float | None, Sequence[float]], bool]

_RULES: dict[str, ScheduleRule] = {}


def register_schedule(name: str, rule: ScheduleRule) -> None:
    """Make ``schedule.kind: name`` decay the lr by ``factor`` whenever ``rule`` says so.

    Registering a taken name is an error, so that no import silently replaces another rule.
    """
    if name in _RULES:
        raise ValueError(f"schedule {name!r} is already registered")
    _RULES[name] = rule


def registered_schedules() -> tuple[str, ...]:
    """The names ``schedule.kind`` accepts now, in registration order."""
    return tuple(_RULES)


def lookup_schedule(name: str) -> ScheduleRule:
    """The rule registered under ``name``; an unknown name is an error that lists the known ones."""
    try:
        return _RULES[name]
    except KeyError:
        known = ", ".join(_RULES)
        raise ValueError(f"schedule {name!r} is not registered (known: {known})") from None


def _constant(cfg: ScheduleConfig, epoch: int, valid_loss: float | None, history: Sequence[float]) -> bool:
    return False


def _plateau(cfg: ScheduleConfig, epoch: int, valid_loss: float | None, history: Sequence[float]) -> bool:
    if valid_loss is None:
        return False
    previous = history[-cfg.window :]
    return epoch > cfg.after_epoch and bool(previous) and valid_loss > max(previous)


def _exponential(cfg: ScheduleConfig, epoch: int, valid_loss: float | None, history: Sequence[float]) -> bool:
    return epoch >= cfg.after_epoch


def _step(cfg: ScheduleConfig, epoch: int, valid_loss: float | None, history: Sequence[float]) -> bool:
    return epoch >= cfg.after_epoch and (epoch - cfg.after_epoch) % cfg.window == 0


def reduce_on_plateau(cfg: ScheduleConfig, epoch: int, valid_loss: float | None, history: Sequence[float]) -> bool:
    """Whether to decay now: torch's ``ReduceLROnPlateau`` replayed over the validation losses so
    far (a pure function of them, so nothing but the loss history needs saving for exact resume)."""
    if valid_loss is None:
        return False
    best, bad, decay = math.inf, 0, False
    for loss in [*history, valid_loss]:
        decay = False
        if loss < best:
            best, bad = loss, 0
        else:
            bad += 1
            if bad > cfg.window:
                decay, bad = True, 0
    return decay


register_schedule("constant", _constant)
register_schedule("plateau", _plateau)
register_schedule("exponential", _exponential)
register_schedule("step", _step)
register_schedule("reduce_on_plateau", reduce_on_plateau)


class EpochSchedule:
    """Applies a :class:`ScheduleConfig` to an optimizer from the per-epoch validation loss."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: ScheduleConfig) -> None:
        self.optimizer = optimizer
        self.config = config
        self.rule = lookup_schedule(config.kind)
        self.history: list[float] = []

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def step(self, epoch: int, valid_loss: float | None) -> bool:
        """Record the epoch's validation loss; return True when the lr was decayed."""
        decayed = self.rule(self.config, epoch, valid_loss, self.history)
        if decayed:
            for group in self.optimizer.param_groups:
                group["lr"] *= self.config.factor
        if valid_loss is not None:
            self.history.append(valid_loss)
        return decayed

    def state_dict(self) -> dict:
        return {"history": list(self.history)}

    def load_state_dict(self, state: dict) -> None:
        self.history = list(state["history"])
