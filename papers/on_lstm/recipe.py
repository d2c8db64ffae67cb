"""The pieces of the official logical-inference recipe (``proplog.py``, branch
``propositional_logic`` of yikangshen/Ordered-Neurons) that the shared registries lack, registered
under their own names when this package is imported (before its configuration is validated).

* optimizer ``adam_eps1e-9``: Adam with ``eps = 1e-9`` (torch's default is 1e-8), the official
  ``torch.optim.Adam(params, lr, eps=1e-9, weight_decay)``;
* schedule ``reduce_on_plateau``: torch's ``ReduceLROnPlateau`` rule (mode ``min``, threshold 0,
  no cooldown): the lr is multiplied by ``schedule.factor`` when the monitored value has not
  improved on its best for more than ``schedule.window`` epochs (torch's ``patience``), and the
  count restarts after each decay. The loop hands schedules the validation *loss*; the official
  code watches the validation *accuracy* (mode ``max``, factor 0.5, patience 2): a deviation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from shared.train.config import TrainConfig
from shared.train.optimizers import register_optimizer, registered_optimizers
from shared.train.schedules import ScheduleConfig, register_schedule, registered_schedules


def adam_eps_1e9(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=cfg.lr, eps=1e-9, weight_decay=cfg.weight_decay)


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


if "adam_eps1e-9" not in registered_optimizers():
    register_optimizer("adam_eps1e-9", adam_eps_1e9)
if "reduce_on_plateau" not in registered_schedules():
    register_schedule("reduce_on_plateau", reduce_on_plateau)
