"""NT-ASGD: SGD whose iterates are averaged from an epoch chosen by a non-monotone trigger.

Merity, Keskar and Socher (2018), "Regularizing and Optimizing LSTM Language Models", ICLR,
Sec. 3 and Algorithm 1 (NT-AvSGD); official code: github.com/salesforce/awd-lstm-lm, ``main.py``
at commit 1d466ec5875675ca6b6f0caacbb741240a29da9e (the ``--nonmono`` check in the epoch loop).
Train with plain SGD; at the end of every epoch, while no averaging has started, compare the
validation loss with those logged so far; once it is worse than the best of the epochs more
than ``nonmono`` epochs back, average the iterates of every later step and evaluate (and
select) the averaged weights. The trigger is checked once per epoch and ``nonmono`` defaults
to 5, as in the official code.

Fine-tuning (Sec. 5: "fine-tuning ... ASGD restarted ... until the same non-monotone criterion
fires"; the official ``finetune.py``), optional: after epoch ``finetune_after`` the weights are
reset to those of ``best.pt`` (the best evaluated, i.e. averaged, weights: the model
``finetune.py`` loads), the average restarts empty at once (a fresh ``ASGD(t0=0, lambd=0)``) and
training goes on until the validation loss of the *averaged* weights, logged from that epoch on,
meets the same non-monotone condition; then the hook ends the run
(:meth:`shared.train.loop.Trainer.request_stop`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from shared.train import checkpoint
from shared.train.hooks import swapped_weights

if TYPE_CHECKING:
    from shared.train.loop import Trainer


def should_start_averaging(valid_losses: Sequence[float], nonmono: int) -> bool:
    """The non-monotone trigger, evaluated at the end of an epoch of the SGD phase.

    ``valid_losses`` are the validation losses of the epochs so far, this epoch's last (at least
    one). True when more than ``nonmono`` epochs precede this one and its loss is worse than the
    best of those more than ``nonmono`` epochs before it: the official code's
    ``len(logs) > nonmono and val_loss > min(logs[:-nonmono])`` with ``logs`` the earlier losses,
    Algorithm 1's ``t > n and v > min(logs[0 .. t-n-1])``.
    """
    *earlier, current = valid_losses
    return len(earlier) > nonmono and current > min(earlier[: len(earlier) - nonmono])


def _parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


class NTASGD:
    """The trainer hook of the ``nt_asgd`` optimizer (registered in :mod:`shared.train.optimizers`).

    The optimizer stays the SGD the trainer built; after the trigger this hook keeps a running
    mean of the parameters after every step (``after_step``, so after any projection hook that
    precedes it) and swaps it in around each evaluation. The mean is, bit for bit, the ``ax`` of
    the official code's ``torch.optim.ASGD(t0=0, lambd=0)`` after the switch, whose steps are
    SGD's: torch sets its averaging weight one step late (``mu = 1 / max(1, n - 1)`` at the n-th
    step), so after n >= 2 steps it is the mean of the iterates of steps 2..n. The paper's mean
    starts at the iterate of the trigger, two iterates earlier: over the epochs averaged, nil.

    The mean is kept here rather than by swapping the optimizer for ASGD at the trigger so that
    the optimizer, which the schedule and the checkpoint hold, never changes: resume needs only
    this hook's state (the logged losses, the phase, the mean and its count), and an lr change
    applies at the next step (torch's ASGD applies it one step late).
    """

    def __init__(self, nonmono: int, finetune_after: int | None = None) -> None:
        self.nonmono = nonmono
        self.finetune_after = finetune_after
        # The trigger's log: validation losses of the SGD phase, then (fine-tuning) of the
        # averaged weights since the restart.
        self.valid_losses: list[float] = []
        self.averaging = False
        self.finetuning = False
        self.averaged_steps = 0
        self.average: list[torch.Tensor] = []  # empty until the first step after the trigger

    def after_epoch(self, trainer: Trainer, record: dict[str, float]) -> None:
        if self.averaging and not self.finetuning:
            if trainer.epoch == self.finetune_after:
                self._restart(trainer)
            return
        if "valid/loss" not in record:
            raise RuntimeError("optimizer nt_asgd is triggered by the validation loss: the task has no valid split")
        self.valid_losses.append(record["valid/loss"])
        fired = should_start_averaging(self.valid_losses, self.nonmono)
        if self.finetuning:
            if fired:
                trainer.request_stop("nt_asgd fine-tuning: validation loss of the averaged weights not improving")
            return
        if fired:
            self.averaging = True
            tqdm.write(f"[train] nt_asgd: validation loss not improving; averaging from epoch {trainer.epoch + 1} on")
        if trainer.epoch == self.finetune_after:
            self._restart(trainer)

    def _restart(self, trainer: Trainer) -> None:
        """Fine-tuning: hot-start from ``best.pt``'s weights with an empty average and log."""
        if trainer.best_path.exists():
            trainer.model.load_state_dict(checkpoint.load(trainer.best_path, map_location=trainer.device)["model"])
        self.finetuning = self.averaging = True
        self.valid_losses, self.average, self.averaged_steps = [], [], 0
        tqdm.write(
            f"[train] nt_asgd: fine-tuning from the best weights, averaging afresh from epoch {trainer.epoch + 1}"
        )

    def after_step(self, trainer: Trainer) -> None:
        if not self.averaging:
            return
        params = _parameters(trainer.optimizer)
        self.averaged_steps += 1
        weight = 1 / max(1, self.averaged_steps - 1)  # torch's ASGD with t0=0 (see the class docstring)
        with torch.no_grad():
            if not self.average:
                self.average = [p.detach().clone() for p in params]
            elif weight == 1:
                for mean, p in zip(self.average, params, strict=True):
                    mean.copy_(p)
            else:
                for mean, p in zip(self.average, params, strict=True):
                    mean.add_(p.sub(mean).mul_(weight))

    def around_evaluation(self, trainer: Trainer) -> contextlib.AbstractContextManager[None]:
        if not self.average:
            return contextlib.nullcontext()
        return swapped_weights(_parameters(trainer.optimizer), self.average)

    def state_dict(self) -> dict[str, Any]:
        return {
            "valid_losses": list(self.valid_losses),
            "averaging": self.averaging,
            "finetuning": self.finetuning,
            "averaged_steps": self.averaged_steps,
            "average": list(self.average),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.valid_losses = list(state["valid_losses"])
        self.averaging = state["averaging"]
        self.finetuning = state.get("finetuning", False)
        self.averaged_steps = state["averaged_steps"]
        self.average = list(state["average"])
