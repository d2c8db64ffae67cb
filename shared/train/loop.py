"""One training loop for every paper.

It owns what every reproduction needs and nothing task-specific: seeded batches per epoch,
gradient clipping, the per-epoch lr schedule, evaluation every epoch, best-valid selection,
periodic atomic checkpoints, exact resume (model, optimizer, schedule, hooks, every RNG, data
position), a NaN/Inf guard and a progress bar. A task supplies its batches, its loss and its
evaluation through the small :class:`shared.tasks.base.Task` protocol; a method that needs more
of the loop (a weight projection after each step, evaluation with averaged weights) supplies hooks
(:mod:`shared.train.hooks`).

Under ``torchrun`` (several processes, :func:`shared.train.runtime.init_distributed`) the same loop
trains with DistributedDataParallel: every process draws the same global batches, trains on its
part of each (the task's ``shard``), and DDP averages the gradients, so that a step is the step of
one process on the global batch. Only rank 0 writes checkpoints and logs metrics; a checkpoint
holds every rank's RNG and task state, so a run resumes exactly with the same number of processes.
Mixed precision (``train.amp``) autocasts the training steps (bf16, or fp16 with a gradient scaler).
With one process and ``amp: none`` (the defaults) none of this runs: the computation is the one
every committed result was made with.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from shared.tasks.base import Task
from shared.train import checkpoint, runtime
from shared.train.config import TrainConfig
from shared.train.hooks import stopping_rules
from shared.train.optimizers import lookup_optimizer
from shared.train.schedules import EpochSchedule

CHECKPOINT_FORMAT = 1


class Tracker(Protocol):
    """Where metrics go. A tracker that buffers them also has ``flush()``, which the loop calls
    whenever it writes a checkpoint (:meth:`Trainer.save`)."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...


class NonFiniteLossError(RuntimeError):
    """Training produced NaN/Inf; the last good checkpoint is left untouched."""


@dataclass
class FitResult:
    """What a finished run hands to the results file and the tracker."""

    value: float  #: the reported number, selected by ``TrainConfig.selection``
    selected_epoch: int | None
    history: list[dict[str, float]]
    steps: int
    epochs: int
    wall_time_s: float
    best_path: Path | None = None
    extra: dict[str, float] = field(default_factory=dict)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer registered as ``cfg.optimizer``, over the trainable parameters in model order."""
    params = [p for p in model.parameters() if p.requires_grad]
    return lookup_optimizer(cfg.optimizer).factory(params, cfg)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator that orders epoch ``epoch``'s batches: a pure function of (seed, epoch)."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


class Trainer:
    """Trains ``model`` on ``task`` under ``cfg``, checkpointing into ``run_dir``.

    ``fingerprint`` identifies the configuration: a checkpoint written under another fingerprint
    is never resumed from (it belongs to another experiment).

    ``hooks`` (see :mod:`shared.train.hooks`) run in order, followed by those the optimizer's
    registry entry names. A metric the loop does not compute (a cache pointer, a parser) belongs
    in ``task.evaluate``: every key it returns is recorded as ``valid/<key>`` and ``test/<key>``.

    A task may also scale the learning rate of single steps: when it has ``lr_scale(batch)``, the
    optimizer steps on that batch with every group's lr multiplied by the returned factor, and the
    lr is restored right after (AWD-LSTM's variable-length BPTT, Merity et al. 2018, Sec. 4.1).
    A task without it trains exactly as before: no scaling and no extra operation.

    A hook may end training before ``cfg.epochs`` (e.g. a fine-tuning stage that ends on its own
    criterion) by calling :meth:`request_stop` in ``after_epoch``; the run then counts as finished.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        task: Task,
        cfg: TrainConfig,
        run_dir: str | Path,
        seed: int,
        fingerprint: str,
        tracker: Tracker | None = None,
        on_step: Callable[[int], None] | None = None,
        progress: bool = True,
        hooks: Sequence[Any] = (),
    ) -> None:
        self.model = model
        self.task = task
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.seed = seed
        self.fingerprint = fingerprint
        self.tracker = tracker
        self.on_step = on_step
        self.progress = progress
        self.optimizer = make_optimizer(model, cfg)
        if cfg.patience is not None and not task.has_valid:
            raise ValueError(f"train.patience: {type(task).__name__} has no validation split to stop on")
        self.hooks = [*hooks, *lookup_optimizer(cfg.optimizer).hooks(cfg), *stopping_rules(cfg)]
        self.schedule = EpochSchedule(self.optimizer, cfg.schedule)
        self.device = next(model.parameters()).device
        self.epoch = 1  # the epoch in progress (1-based)
        self.batch_index = 0  # batches of that epoch already trained on
        self.epoch_loss_sum = 0.0  # their summed losses, for the epoch's mean training loss
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.best_valid: float | None = None
        self.best_epoch: int | None = None
        self.elapsed = 0.0  # wall time of earlier (interrupted) sessions
        self.stopped = False  # a hook ended training before cfg.epochs (request_stop)
        self.dist = runtime.distributed()
        # What the training steps call: the model itself, or its DDP wrapper, which averages the
        # gradients over the processes during backward. Hooks and evaluation use self.model.
        self.train_model: torch.nn.Module = model
        if self.dist.enabled:
            if getattr(task, "shard", None) is None:
                raise ValueError(
                    f"{type(task).__name__} cannot be trained by {self.dist.world_size} processes: "
                    "it has no shard(batch, rank, world_size) (shared.tasks.base.Task)"
                )
            self.train_model = DistributedDataParallel(
                model, device_ids=[self.device] if self.device.type == "cuda" else None
            )
            # Each process its own dropout masks (the model was built from the run's seed alone and
            # DDP has just copied rank 0's weights to every process).
            runtime.seed_everything(runtime.rank_seed(seed, self.dist.rank))
        self.amp_dtype = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.amp]
        # float16 gradients underflow without loss scaling; bfloat16 has float32's range.
        self.scaler = torch.amp.GradScaler(self.device.type) if cfg.amp == "fp16" else None

    @property
    def last_path(self) -> Path:
        return self.run_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.pt"

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The run's state; under DDP a collective (every process must call it): it gathers each
        rank's RNG and task state into ``ranks``."""
        task_state = getattr(self.task, "state_dict", None)
        state = {
            "format": CHECKPOINT_FORMAT,
            "fingerprint": self.fingerprint,
            "seed": self.seed,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "rng": runtime.rng_state(),
            "epoch": self.epoch,
            "batch_index": self.batch_index,
            "epoch_loss_sum": self.epoch_loss_sum,
            "step": self.step,
            "history": self.history,
            "best_valid": self.best_valid,
            "best_epoch": self.best_epoch,
            "elapsed": self.elapsed + (time.perf_counter() - self._started),
            "stopped": self.stopped,
            "task": task_state() if task_state else None,
            "hooks": [hook.state_dict() if hasattr(hook, "state_dict") else None for hook in self.hooks],
            "versions": {"torch": str(torch.__version__)},
        }
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        if self.dist.enabled:
            own = {"rng": state["rng"], "task": _to_cpu(state["task"])}
            ranks: list[Any] = [None] * self.dist.world_size
            dist.all_gather_object(ranks, own)
            state |= {"world_size": self.dist.world_size, "ranks": ranks}
        return state

    def save(self) -> None:
        # Metrics first: a process killed between the two resumes from the previous checkpoint and
        # logs the steps after it again; the other order would lose those before this checkpoint.
        state = self.state_dict()
        if self.dist.is_main:
            flush = getattr(self.tracker, "flush", None)
            if flush is not None:
                flush()
            checkpoint.save_atomic(state, self.last_path)
        runtime.barrier()  # every rank may read what rank 0 wrote (last.pt, best.pt) from here on

    def _own_checkpoint(self) -> dict[str, Any] | None:
        """``last.pt`` when this run wrote it (same format, fingerprint, seed and hooks), else None."""
        if not self.last_path.exists():
            return None
        state = checkpoint.load(self.last_path, map_location=self.device)
        own = (
            state.get("format") == CHECKPOINT_FORMAT
            and state.get("fingerprint") == self.fingerprint
            and state.get("seed") == self.seed
            and len(state.get("hooks", [])) == len(self.hooks)
            and state.get("world_size", 1) == self.dist.world_size
        )
        if not own:
            tqdm.write(
                f"[train] {self.last_path}: written by another run "
                "(code, configuration, data, seed or number of processes)"
            )
        return state if own else None

    def saved_run(self) -> str:
        """What ``last.pt`` holds: ``"none"``, ``"foreign"`` (another run's: other code,
        configuration, data or seed), ``"interrupted"`` (this run, epochs left) or ``"finished"``."""
        if not self.last_path.exists():
            return "none"
        state = self._own_checkpoint()
        if state is None:
            return "foreign"
        return "finished" if state["epoch"] > self.cfg.epochs or state.get("stopped", False) else "interrupted"

    def discard_saved_run(self) -> None:
        """Delete this run directory's checkpoints, so that the next :meth:`fit` starts afresh."""
        self.last_path.unlink(missing_ok=True)
        self.best_path.unlink(missing_ok=True)

    def try_resume(self) -> bool:
        """Resume from ``last.pt`` when this run wrote it (see :meth:`_own_checkpoint`)."""
        state = self._own_checkpoint()
        if state is None:
            return False
        hook_states = state.get("hooks", [])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        own = state["ranks"][self.dist.rank] if self.dist.enabled else state
        runtime.set_rng_state(own["rng"])
        self.epoch, self.batch_index, self.step = state["epoch"], state["batch_index"], state["step"]
        self.epoch_loss_sum = state["epoch_loss_sum"]
        self.history = list(state["history"])
        self.best_valid, self.best_epoch = state["best_valid"], state["best_epoch"]
        self.elapsed = state["elapsed"]
        self.stopped = state.get("stopped", False)
        if own.get("task") is not None:
            self.task.load_state_dict(own["task"])
        if self.scaler is not None:
            self.scaler.load_state_dict(state["scaler"])
        for hook, hook_state in zip(self.hooks, hook_states, strict=True):
            if hook_state is not None:
                hook.load_state_dict(hook_state)
        tqdm.write(f"[train] resumed from {self.last_path} at epoch {self.epoch}, step {self.step}")
        return True

    # ------------------------------------------------------------------ training
    def fit(self, resume: bool = True) -> FitResult:
        self._started = time.perf_counter()
        if resume:
            self.try_resume()
        while self.epoch <= self.cfg.epochs and not self.stopped:
            started, first_batch = time.perf_counter(), self.batch_index
            self._train_epoch()
            steps_per_s = (self.batch_index - first_batch) / max(time.perf_counter() - started, 1e-9)
            self._end_epoch(steps_per_s)
        return self._result()

    def _train_epoch(self) -> None:
        cfg = self.cfg
        batches = list(self.task.train_batches(self.epoch, epoch_generator(self.seed, self.epoch)))
        if cfg.max_steps_per_epoch is not None:
            batches = batches[: cfg.max_steps_per_epoch]
        if self.dist.enabled:
            # (this rank's part, its weight): same number of steps on every rank.
            batches = [self.task.shard(batch, self.dist.rank, self.dist.world_size) for batch in batches]
        self.model.train()
        bar = tqdm(
            total=len(batches),
            initial=self.batch_index,
            desc=f"epoch {self.epoch}/{cfg.epochs}",
            disable=not self.progress or not self.dist.is_main,
            leave=False,
            dynamic_ncols=True,
        )
        for index in range(self.batch_index, len(batches)):
            loss = self._train_step(batches[index])
            self.epoch_loss_sum += loss
            self.batch_index = index + 1
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self.save()
            if self.on_step is not None:
                self.on_step(self.step)
            bar.update(1)
            if self.step % cfg.log_every == 0:
                bar.set_postfix(loss=f"{loss:.4g}", lr=f"{self.schedule.lr:.3g}")
        bar.close()

    def _train_step(self, batch: Any) -> float:
        weight = None
        if self.dist.enabled:
            batch, weight = batch
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self.task.train_loss(self.train_model, batch)
        reported = loss  # the global batch's loss: what is checked, logged and averaged per epoch
        if weight is not None:
            # DDP averages the ranks' gradients: weighted so that their mean is the global batch's.
            loss = loss * weight
            reported = loss.detach().clone()
            dist.all_reduce(reported)
            reported /= self.dist.world_size
        if not torch.isfinite(reported):
            self._non_finite(f"loss is {reported.item()}")
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)  # clipping and the norm see the true gradients
        else:
            loss.backward()
        if self.cfg.clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in self.model.parameters() if p.grad is not None])
        # With fp16, an overflow is the scaler's to handle: it skips the step and lowers its scale.
        if not torch.isfinite(norm) and self.scaler is None:
            self._non_finite(f"gradient norm is {norm.item()}")
        self._optimizer_step(batch)
        if self.scaler is not None:
            self.scaler.update()
        self.step += 1
        for hook in self.hooks:
            if hasattr(hook, "after_step"):
                hook.after_step(self)
        value = reported.item()
        if self.tracker is not None and self.step % self.cfg.log_every == 0:
            self.tracker.log_metrics({"train/loss": value}, step=self.step)
        return value

    def _optimizer_step(self, batch: Any) -> None:
        """``optimizer.step()``, with the lr scaled by the task's ``lr_scale(batch)`` if it has one."""
        lr_scale = getattr(self.task, "lr_scale", None)
        step = self.optimizer.step if self.scaler is None else functools.partial(self.scaler.step, self.optimizer)
        if lr_scale is None:
            step()
            return
        scale = lr_scale(batch)
        groups = self.optimizer.param_groups
        saved = [group["lr"] for group in groups]
        for group, lr in zip(groups, saved, strict=True):
            group["lr"] = lr * scale
        try:
            step()
        finally:
            # The saved values themselves, not lr * scale / scale: the lr is restored bit for bit.
            for group, lr in zip(groups, saved, strict=True):
                group["lr"] = lr

    def request_stop(self, reason: str) -> None:
        """End training after the current epoch (called by a hook's ``after_epoch``)."""
        self.stopped = True
        tqdm.write(f"[train] stopping after epoch {self.epoch}: {reason}")

    def _non_finite(self, what: str) -> None:
        kept = (
            f"the last good checkpoint is {self.last_path}"
            if self.last_path.exists()
            else ("no checkpoint had been written yet")
        )
        raise NonFiniteLossError(
            f"{what} at epoch {self.epoch}, step {self.step + 1}; training stopped and {kept}. "
            "Lower the learning rate or enable gradient clipping (train.clip)."
        )

    def _end_epoch(self, steps_per_s: float) -> None:
        task = self.task
        started = time.perf_counter()
        record: dict[str, float] = {
            "epoch": self.epoch,
            "train/loss": self.epoch_loss_sum / max(self.batch_index, 1),
            "train/steps_per_s": steps_per_s,
            "lr": self.schedule.lr,
        }
        # best.pt holds the weights evaluated (e.g. averaged ones), which _result evaluates as they are.
        with self._evaluation_weights():
            valid = task.evaluate(self.model, "valid") if task.has_valid else None
            test = task.evaluate(self.model, "test")
            if valid is not None:
                record.update({f"valid/{k}": v for k, v in valid.items()})
                value = valid[task.metric]
                if self.best_valid is None or self._better(value, self.best_valid):
                    self.best_valid, self.best_epoch = value, self.epoch
                    if self.dist.is_main:
                        state = {"model": self.model.state_dict(), "epoch": self.epoch}
                        checkpoint.save_atomic(state, self.best_path)
        record.update({f"test/{k}": v for k, v in test.items()})
        record["eval_seconds"] = time.perf_counter() - started
        self.history.append(record)
        decayed = self.schedule.step(self.epoch, valid["loss"] if valid is not None else None)
        for hook in self.hooks:
            if hasattr(hook, "after_epoch"):
                hook.after_epoch(self, record)
        if self.tracker is not None:
            self.tracker.log_metrics({k: v for k, v in record.items() if k != "epoch"}, step=self.epoch)
        shown = ", ".join(f"{k} {v:.5g}" for k, v in record.items() if k != "epoch")
        if self.dist.is_main:
            tqdm.write(f"[epoch {self.epoch}] {shown}" + (" (lr decayed)" if decayed else ""))
        self.epoch += 1
        self.batch_index = 0
        self.epoch_loss_sum = 0.0
        self.save()

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Mixed precision for a training step's forward pass (``train.amp``); evaluation runs in
        float32 (its numbers are the reported ones)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    @contextlib.contextmanager
    def _evaluation_weights(self) -> Iterator[None]:
        """Every hook's ``around_evaluation``, entered in hook order and left in reverse."""
        with contextlib.ExitStack() as stack:
            for hook in self.hooks:
                if hasattr(hook, "around_evaluation"):
                    stack.enter_context(hook.around_evaluation(self))
            yield

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.task.higher_is_better else a < b

    def _result(self) -> FitResult:
        metric = f"test/{self.task.metric}"
        selection = self.cfg.selection
        selected_epoch: int | None
        if selection == "best_valid":
            if self.best_epoch is None:
                raise RuntimeError("selection 'best_valid' needs a task with a validation split")
            state = checkpoint.load(self.best_path, map_location=self.device)
            self.model.load_state_dict(state["model"])
            value = self.task.evaluate(self.model, "test")[self.task.metric]
            selected_epoch = self.best_epoch
        elif selection == "last3_mean":
            last = [h[metric] for h in self.history[-3:]]
            value = sum(last) / len(last)
            selected_epoch = None
        else:
            value = self.history[-1][metric]
            selected_epoch = len(self.history)
        wall = self.elapsed + (time.perf_counter() - self._started)
        if not math.isfinite(value):
            raise NonFiniteLossError(f"the selected test {self.task.metric} is {value}")
        return FitResult(
            value=value,
            selected_epoch=selected_epoch,
            history=self.history,
            steps=self.step,
            epochs=len(self.history),
            wall_time_s=wall,
            best_path=self.best_path if self.best_path.exists() else None,
        )


def _to_cpu(value: Any) -> Any:
    """``value`` with every tensor in it moved to the CPU (gathered between processes as a pickle)."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value
