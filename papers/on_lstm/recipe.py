"""The pieces of the official recipes of yikangshen/Ordered-Neurons that the shared registries
lack, registered under their own names when this package is imported (before its configuration
is validated).

Logical inference (``proplog.py``, branch ``propositional_logic``):

* optimizer ``adam_eps1e-9``: Adam with ``eps = 1e-9`` (torch's default is 1e-8), the official
  ``torch.optim.Adam(params, lr, eps=1e-9, weight_decay)``;
* schedule ``reduce_on_plateau`` (shared: :func:`shared.train.schedules.reduce_on_plateau`,
  torch's ``ReduceLROnPlateau`` rule): the loop hands schedules the validation *loss*; the
  official code watches the validation *accuracy* (mode ``max``, factor 0.5, patience 2): a
  deviation.

Language model (``main.py`` of master):

* optimizer ``nt_asgd_restart``: AWD-LSTM's NT-ASGD (SGD, averaging from the non-monotone
  trigger on, :class:`shared.train.nt_asgd.NTASGD`) with the official ON-LSTM code's
  "fine-tuning": after epoch ``train.restart_averaging_after`` (``--finetuning``, 500), if the
  averaging has started, a fresh ``ASGD(t0=0, lambd=0)`` replaces the optimizer on the *current*
  weights, i.e. the average restarts empty from the next step on, and training goes on to
  ``train.epochs`` (1000). Unlike AWD-LSTM's ``finetune.py`` (``train.finetune_after``) it neither
  reloads the best averaged weights nor stops on the trigger: ``main.py`` empties its log of
  validation losses at the switch and never appends to it afterwards, so its stopping test can
  never fire. The best averaged weights over all epochs are tested (``--save``, kept on every
  improvement), as ``selection: best_valid`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from shared.train.config import TrainConfig
from shared.train.nt_asgd import NTASGD
from shared.train.optimizers import lookup_optimizer, register_optimizer, registered_optimizers

if TYPE_CHECKING:
    from shared.train.loop import Trainer


def adam_eps_1e9(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=cfg.lr, eps=1e-9, weight_decay=cfg.weight_decay)


class RestartingNTASGD(NTASGD):
    """NT-ASGD whose average restarts empty after epoch ``restart_after`` when it has started by
    then (module docstring); with ``restart_after = None``, plain NT-ASGD. The restart is a pure
    function of the epoch and of state the base class already saves (exact resume)."""

    def __init__(self, nonmono: int, restart_after: int | None) -> None:
        super().__init__(nonmono)
        self.restart_after = restart_after

    def after_epoch(self, trainer: Trainer, record: dict[str, float]) -> None:
        if self.averaging and trainer.epoch == self.restart_after:
            self.average, self.averaged_steps = [], 0
            tqdm.write(f"[train] nt_asgd_restart: averaging afresh from epoch {trainer.epoch + 1} on")
        super().after_epoch(trainer, record)


def _nt_asgd_restart_hooks(cfg: TrainConfig) -> list[RestartingNTASGD]:
    # Only the language model's schema (papers.on_lstm.config.LanguageModelTrainConfig) has the
    # setting; any other task that picks this optimizer gets plain NT-ASGD.
    return [RestartingNTASGD(cfg.nonmono, getattr(cfg, "restart_averaging_after", None))]


if "adam_eps1e-9" not in registered_optimizers():
    register_optimizer("adam_eps1e-9", adam_eps_1e9)
if "nt_asgd_restart" not in registered_optimizers():
    register_optimizer("nt_asgd_restart", lookup_optimizer("nt_asgd").factory, hooks=_nt_asgd_restart_hooks)
