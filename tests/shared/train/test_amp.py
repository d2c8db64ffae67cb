"""Mixed precision (``train.amp``): off by default, bf16 autocast, fp16 with a gradient scaler.

The CPU tests run everywhere; the CUDA ones run by themselves when a GPU is present.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from shared.train import checkpoint, runtime
from shared.train.config import TrainConfig
from shared.train.loop import Trainer

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class DtypeTask:
    """Regression that records the dtype of the model's output in each training step; with
    ``inf_at`` the loss of that step is scaled so that its gradients overflow float16."""

    metric = "mse"
    higher_is_better = False
    has_valid = False

    def __init__(self, device: torch.device, inf_at: int | None = None) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 8, generator=g).to(device)
        self.y = (self.x.sum(1, keepdim=True) * 0.3).to(device)
        self.inf_at, self.calls, self.dtypes = inf_at, 0, []

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        return list(torch.randperm(64, generator=generator).split(16))

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = model(self.x[idx.to(self.x.device)])
        self.dtypes.append(out.dtype)
        loss = F.mse_loss(out.float(), self.y[idx.to(self.x.device)])
        return loss * 1e30 if self.calls == self.inf_at else loss

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        with torch.no_grad():
            mse = F.mse_loss(model(self.x), self.y).item()
        return {"loss": mse, "mse": mse}


def _trainer(tmp_path: Path, amp: str, device: str = "cpu", **task_kwargs) -> Trainer:
    runtime.seed_everything(3)
    dev = torch.device(device)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)).to(dev)
    cfg = TrainConfig(epochs=2, lr=0.01, selection="last", amp=amp, device=device)
    return Trainer(model, DtypeTask(dev, **task_kwargs), cfg, tmp_path, seed=3, fingerprint="amp", progress=False)


def test_amp_is_off_by_default_and_validated() -> None:
    assert TrainConfig(epochs=1).amp == "none"
    with pytest.raises(ValueError, match=r"train.amp: 'fp8' is not one of none, bf16, fp16"):
        TrainConfig(epochs=1, amp="fp8").validate()


def test_without_amp_the_steps_run_in_float32_with_no_scaler(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, "none")
    trainer.fit()
    assert set(trainer.task.dtypes) == {torch.float32}
    assert trainer.scaler is None and "scaler" not in checkpoint.load(tmp_path / "last.pt")


def test_bf16_autocasts_the_training_steps_and_learns(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, "bf16")
    result = trainer.fit()
    assert set(trainer.task.dtypes) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # master weights stay fp32
    assert result.history[-1]["train/loss"] < result.history[0]["train/loss"]


def test_fp16_skips_an_overflowing_step_instead_of_stopping_and_saves_its_scaler(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, "fp16", inf_at=2)
    trainer.fit()  # no NonFiniteLossError: the scaler skips the step and lowers its scale
    assert set(trainer.task.dtypes) == {torch.float16}
    state = checkpoint.load(tmp_path / "last.pt")
    assert state["scaler"]["scale"] < 2.0**16  # the initial scale, halved by the overflow
    # A fresh trainer resumes with the scaler's state.
    resumed = _trainer(tmp_path, "fp16")
    assert resumed.try_resume() and resumed.scaler.get_scale() == state["scaler"]["scale"]


@needs_cuda
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_on_cuda(tmp_path: Path, amp: str) -> None:
    trainer = _trainer(tmp_path, amp, device="cuda")
    result = trainer.fit()
    assert set(trainer.task.dtypes) == {torch.bfloat16 if amp == "bf16" else torch.float16}
    assert math.isfinite(result.value) and result.history[-1]["train/loss"] < result.history[0]["train/loss"]


@needs_cuda
def test_a_cuda_run_is_deterministic(tmp_path: Path) -> None:
    runtime.set_deterministic(True)
    first = _trainer(tmp_path / "a", "none", device="cuda").fit()
    second = _trainer(tmp_path / "b", "none", device="cuda").fit()
    assert first.value == second.value
