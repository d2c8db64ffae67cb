"""The training part of every task's configuration (``train:`` in a paper's params.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.train.optimizers import registered_optimizers
from shared.train.schedules import ScheduleConfig

SELECTIONS = ("best_valid", "last3_mean", "last")
#: Mixed precision of the training steps (:class:`shared.train.loop.Trainer`): ``none`` (float32,
#: every committed result), ``bf16`` (autocast to bfloat16) or ``fp16`` (autocast to float16, with
#: a gradient scaler).
AMP = ("none", "bf16", "fp16")
#: ``auto`` (CUDA when present, else the CPU), or a device of torch's (whether it exists is checked
#: when a run starts: :func:`shared.train.runtime.select_device`).
DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


@dataclass
class TrainConfig:
    """How a task is trained and how its reported number is selected.

    ``selection`` names the protocol that turns per-epoch test results into the reported number:
    ``best_valid`` (test metric of the best-validation epoch), ``last3_mean`` (mean test metric of
    the last three epochs), ``last`` (final epoch).

    ``optimizer`` is a name in :mod:`shared.train.optimizers`' registry; ``momentum`` is used by
    ``sgd``, ``rmsprop`` and ``nt_asgd``, ``nesterov`` by ``sgd`` and ``nt_asgd`` (and needs a
    momentum); ``nonmono`` is ``nt_asgd``'s non-monotone interval in epochs, ``finetune_after``
    the epoch after which ``nt_asgd`` restarts averaging from the best weights and stops on the
    same criterion (AWD-LSTM's fine-tuning; ``null``: none).

    ``stop_lr`` and ``patience`` end a run before ``epochs`` (which is then a cap): once the lr
    schedule has set the learning rate below ``stop_lr``, or after ``patience`` epochs without a
    better validation metric (:mod:`shared.train.hooks`); ``null``: no such rule.

    ``device``, ``deterministic`` and ``amp`` say how a profile runs rather than what it computes
    (a ``paper`` profile on GPUs may set ``amp: bf16``; the defaults are exact float32 runs).
    ``batch_size`` is the global batch: under ``torchrun`` each of the N processes trains on its
    1/N of it (README, "Several GPUs").
    """

    epochs: int
    batch_size: int = 1
    optimizer: str = "adam"
    lr: float = 0.002
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    clip: float | None = None
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    selection: str = "best_valid"
    seeds: list[int] = field(default_factory=lambda: [1111])
    deterministic: bool = True
    device: str = "auto"
    max_steps_per_epoch: int | None = None
    checkpoint_every: int = 0
    log_every: int = 10
    nonmono: int = 5
    finetune_after: int | None = None
    amp: str = "none"
    stop_lr: float | None = None
    patience: int | None = None

    def validate(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"train.epochs: {self.epochs} must be >= 1")
        known = registered_optimizers()  # now, so that an optimizer a paper registered counts
        if self.optimizer not in known:
            raise ValueError(
                f"train.optimizer: {self.optimizer!r} is not one of {', '.join(known)} "
                "(a paper adds its own with shared.train.optimizers.register_optimizer)"
            )
        if self.selection not in SELECTIONS:
            raise ValueError(f"train.selection: {self.selection!r} is not one of {SELECTIONS}")
        if self.lr <= 0:
            raise ValueError(f"train.lr: {self.lr} must be > 0")
        if self.clip is not None and self.clip <= 0:
            raise ValueError(f"train.clip: {self.clip} must be > 0 (or null for no clipping)")
        if self.nesterov and self.momentum <= 0:
            raise ValueError("train.nesterov: Nesterov momentum needs train.momentum > 0")
        if self.nonmono < 0:
            raise ValueError(f"train.nonmono: {self.nonmono} must be >= 0")
        if self.finetune_after is not None:
            if self.optimizer != "nt_asgd":
                raise ValueError(f"train.finetune_after: fine-tuning is a stage of nt_asgd, not of {self.optimizer!r}")
            if not 1 <= self.finetune_after < self.epochs:
                raise ValueError(
                    f"train.finetune_after: {self.finetune_after} must be in [1, train.epochs) "
                    "(train.epochs counts the fine-tuning epochs too)"
                )
        if not self.seeds:
            raise ValueError("train.seeds: at least one seed is needed")
        if self.batch_size < 1:
            raise ValueError(f"train.batch_size: {self.batch_size} must be >= 1")
        if self.log_every < 1:
            raise ValueError(f"train.log_every: {self.log_every} must be >= 1 (log the loss every that many steps)")
        if self.checkpoint_every < 0:
            raise ValueError(f"train.checkpoint_every: {self.checkpoint_every} must be >= 0 (0: after each epoch only)")
        # 0 trained on nothing and still wrote a result; -1 silently dropped the last batch.
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(
                f"train.max_steps_per_epoch: {self.max_steps_per_epoch} must be >= 1 (or null for every batch)"
            )
        if self.stop_lr is not None and not 0 < self.stop_lr < self.lr:
            raise ValueError(
                f"train.stop_lr: {self.stop_lr} must be in (0, train.lr = {self.lr}) (or null: no lr rule); "
                "at or above the initial lr the run would stop after its first epoch"
            )
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"train.patience: {self.patience} must be >= 1 epochs (or null: no early stopping)")
        if self.patience is not None and self.selection != "best_valid":
            # Early stopping waits out `patience` worse epochs; reporting the last ones would report those.
            raise ValueError(f"train.patience needs train.selection: best_valid, not {self.selection!r}")
        if self.amp not in AMP:
            raise ValueError(f"train.amp: {self.amp!r} is not one of {', '.join(AMP)}")
        if not DEVICE.fullmatch(self.device):
            raise ValueError(f"train.device: {self.device!r} is not one of auto, cpu, cuda, cuda:<index>")
