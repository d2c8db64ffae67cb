"""Trainer hooks: what a method adds to the one training loop without a loop of its own.

A hook is any object passed in ``Trainer(..., hooks=[...])`` (by the runner: what a paper's
``Paper.hooks(cfg, model)`` returns, e.g. IndRNN's weight bound) or named by the optimizer's
registry entry; it implements whichever of these it needs, each receiving the trainer:

``after_step(trainer)``
    after every ``optimizer.step()``, e.g. to project weights back into a constraint set.
``after_epoch(trainer, record)``
    after the epoch's evaluation, the lr schedule's step and before the checkpoint, with the epoch's
    record (``valid/<metric>``, ``test/<metric>``, ``lr``, ...); changes to ``record`` are logged.
    A hook that ends training early calls ``trainer.request_stop(reason)`` here.
``around_evaluation(trainer)``
    a context manager entered around every per-epoch evaluation (and the ``best.pt`` save that
    follows it), for a method that evaluates other weights than it trains, e.g. averaged ones.
``state_dict()`` / ``load_state_dict(state)``
    the hook's state, saved in the trainer's checkpoint under ``"hooks"`` and restored on resume,
    so that a resumed run is exactly the uninterrupted one. Tensors and plain values only (the
    checkpoint is loaded with ``weights_only``).

Hooks run in order; an optimizer's own hooks come after the trainer's ``hooks`` argument, so a
weight projection runs before an optimizer averages the projected weights. The stopping rules a
configuration names (``train.stop_lr``, ``train.patience``: :func:`stopping_rules`) come last.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from shared.train.config import TrainConfig
    from shared.train.loop import Trainer


@contextlib.contextmanager
def swapped_weights(params: Sequence[torch.Tensor], values: Sequence[torch.Tensor]) -> Iterator[None]:
    """Copy ``values`` into ``params`` inside the block and the original weights back on exit.

    In-place copies: the parameters stay the tensors the optimizer holds, and the restored
    weights are bit-identical to the trained ones.
    """
    with torch.no_grad():
        saved = [p.detach().clone() for p in params]
        for p, value in zip(params, values, strict=True):
            p.copy_(value)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, original in zip(params, saved, strict=True):
                p.copy_(original)


class EvaluateWithASGDAverage:
    """Evaluate with the running average ``state[p]["ax"]`` of ``torch.optim.ASGD`` instead of the
    last iterate: averaging is what ASGD is for, and its parameters alone are plain SGD's."""

    def around_evaluation(self, trainer: Trainer) -> contextlib.AbstractContextManager[None]:
        averaged = [(p, state["ax"]) for p, state in trainer.optimizer.state.items() if "ax" in state]
        return swapped_weights([p for p, _ in averaged], [ax for _, ax in averaged])


class StopBelowLr:
    """Ends training once the lr schedule has set the learning rate below ``threshold``
    (``train.stop_lr``): after its decays an lr that small no longer moves the weights enough to
    change a result (ConvS2S's own rule, Sec. 4.2; a stated saving for the TCN music tasks)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def after_epoch(self, trainer: Trainer, record: dict[str, float]) -> None:
        lr = trainer.schedule.lr
        if lr < self.threshold:
            trainer.request_stop(f"the learning rate {lr:.3g} is below train.stop_lr = {self.threshold:g}")


class EarlyStopping:
    """Ends training once ``patience`` epochs have passed without a better validation metric
    (``train.patience``); with ``selection: best_valid`` (which the configuration requires) the
    reported epoch is then the best one, ``patience`` epochs back. Stateless: it reads the
    trainer's best epoch, which the checkpoint already holds."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def after_epoch(self, trainer: Trainer, record: dict[str, float]) -> None:
        if trainer.best_epoch is not None and trainer.epoch - trainer.best_epoch >= self.patience:
            trainer.request_stop(
                f"no better validation {trainer.task.metric} for {self.patience} epochs "
                f"(best: epoch {trainer.best_epoch}; train.patience)"
            )


def stopping_rules(cfg: TrainConfig) -> list[StopBelowLr | EarlyStopping]:
    """The hooks that end a run before ``cfg.epochs`` on the rules ``cfg`` names (none by default)."""
    rules: list[StopBelowLr | EarlyStopping] = []
    if cfg.stop_lr is not None:
        rules.append(StopBelowLr(cfg.stop_lr))
    if cfg.patience is not None:
        rules.append(EarlyStopping(cfg.patience))
    return rules
