"""The synthetic long-memory tasks of Bai et al. (2018, Sec. 4), as the TCN reference code sets them
up: a training and a test set drawn once from the run's seed (:mod:`shared.data.synthetic`).

* :class:`AddingProblem`: regress the sum of the two marked values of a length-T sequence from
  its last step; loss and metric the mean squared error.
* :class:`CopyMemory`: recall 10 symbols after T blanks; loss and metric the cross-entropy
  averaged over all T + 20 positions, with the accuracy on the 10 recalled symbols.

Models read batch-first ``(N, T, channels)`` inputs. (The 1997 experiments' generators, which are
trained online one sequence at a time, are :mod:`shared.data.hochreiter1997`.)
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from shared.data import synthetic
from shared.tasks.base import TensorTask, limit


class _SyntheticTask(TensorTask):
    """Training and test tensors drawn from one generator seeded with the run's seed."""

    def __init__(
        self,
        seq_len: int,
        n_train: int,
        n_test: int,
        batch_size: int,
        seed: int,
        device: torch.device,
        eval_batch_size: int = 10,
        limit_train: int | None = None,
        limit_eval: int | None = None,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, limit_train)
        generator = torch.Generator().manual_seed(seed)
        self.train_x, self.train_y = (t.to(device) for t in self.generate(n_train, seq_len, generator))
        n = limit(n_test, limit_eval)
        self.test_x, self.test_y = (t[:n].to(device) for t in self.generate(n_test, seq_len, generator))

    def generate(self, n: int, seq_len: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` examples as batch-first ``(inputs, targets)``."""
        raise NotImplementedError


class AddingProblem(_SyntheticTask):
    """The model maps ``(N, T, 2)`` to ``(N, 1)``: the sum of the two marked values."""

    metric = "mse"
    input_size, output_size = 2, 1

    def generate(self, n: int, seq_len: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = synthetic.adding_problem(n, seq_len, generator)
        return x.transpose(1, 2), y

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(model(self.train_x[idx]), self.train_y[idx])

    def batch_sums(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        return {"squared_error": F.mse_loss(output, target, reduction="sum").item()}

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        mse = sums["squared_error"] / len(self.test_y)
        return {"loss": mse, "mse": mse}


class CopyMemory(_SyntheticTask):
    """The model maps ``(N, T + 20, 1)`` to ``(N, T + 20, 10)`` logits. The symbols enter as one
    real-valued channel (the TCN reference code's encoding)."""

    metric = "cross_entropy"
    input_size, output_size = 1, 10

    def generate(self, n: int, seq_len: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = synthetic.copy_memory(n, seq_len, generator)
        return x.unsqueeze(-1).float(), y

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(self.train_x[idx]).flatten(0, 1), self.train_y[idx].flatten())

    def batch_sums(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        return {
            "nll": F.cross_entropy(output.flatten(0, 1), target.flatten(), reduction="sum").item(),
            "recalled": (output[:, -10:].argmax(-1) == target[:, -10:]).sum().item(),
        }

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        ce = sums["nll"] / self.test_y.numel()
        return {
            "loss": ce,
            "cross_entropy": ce,
            "recall_accuracy_pct": 100.0 * sums["recalled"] / (10 * len(self.test_y)),
        }
