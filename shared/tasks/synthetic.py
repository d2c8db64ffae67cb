"""The synthetic long-memory tasks of Bai et al. (2018, Sec. 4), as the TCN reference code sets them
up: a training and a test set drawn once from the run's seed (:mod:`shared.data.synthetic`).

* :class:`AddingProblem`: regress the sum of the two marked values of a length-T sequence from
  its last step; loss and metric the mean squared error.
* :class:`CopyMemory`: recall 10 symbols after T blanks; loss and metric the cross-entropy
  averaged over all T + 20 positions, with the accuracy on the 10 recalled symbols.

With ``fresh_train`` a family draws a new training set every epoch instead (``n_train`` examples,
one generator per batch seeded from the epoch's generator: exact resume, and no training tensors
held in memory), as Li et al. (2018, Sec. 5.1) train on data "generated randomly throughout the
experiments"; the test set is still drawn once from the run's seed.

Models read batch-first ``(N, T, channels)`` inputs. (The 1997 experiments' generators, which are
trained online one sequence at a time, are :mod:`shared.data.hochreiter1997`.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from shared.data import synthetic
from shared.tasks.base import TensorTask, limit, shard_examples


class _SyntheticTask(TensorTask):
    """Training and test tensors drawn from one generator seeded with the run's seed (with
    ``fresh_train``: only the test tensors; the training batches are drawn per epoch)."""

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
        *,
        fresh_train: bool = False,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, limit_train)
        self.seq_len, self.n_train, self.fresh_train, self.device = seq_len, n_train, fresh_train, device
        generator = torch.Generator().manual_seed(seed)
        if not fresh_train:
            self.train_x, self.train_y = (t.to(device) for t in self.generate(n_train, seq_len, generator))
        n = limit(n_test, limit_eval)
        self.test_x, self.test_y = (t[:n].to(device) for t in self.generate(n_test, seq_len, generator))

    def generate(self, n: int, seq_len: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` examples as batch-first ``(inputs, targets)``."""
        raise NotImplementedError

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        if not self.fresh_train:
            return super().train_batches(epoch, generator)
        # One seed per batch of the epoch (the last batch may be smaller), drawn from the epoch's
        # generator only: a batch is re-made exactly from its seed when a run resumes.
        n = limit(self.n_train, self.limit_train)
        seeds = torch.randint(0, 2**62, ((n + self.batch_size - 1) // self.batch_size,), generator=generator)
        sizes = [min(self.batch_size, n - i * self.batch_size) for i in range(len(seeds))]
        return [torch.tensor([int(s), size]) for s, size in zip(seeds, sizes, strict=True)]

    def shard(self, batch: torch.Tensor, rank: int, world_size: int) -> tuple[torch.Tensor, float]:
        if not self.fresh_train:
            return super().shard(batch, rank, world_size)
        # A drawn batch is (seed, size): each rank draws the whole batch and keeps its rows.
        size = int(batch[1])
        _, weight = shard_examples(list(range(size)), rank, world_size)
        return torch.tensor([int(batch[0]), size, rank, world_size]), weight

    def train_batch(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The inputs and targets of a batch of :meth:`train_batches`: rows of the training
        tensors, or (``fresh_train``) examples drawn from the batch's own seed (and, with a rank
        and a number of processes after it, that rank's rows of them: :meth:`shard`)."""
        if not self.fresh_train:
            return self.train_x[batch], self.train_y[batch]
        seed, size, *sharded = (int(v) for v in batch)
        x, y = self.generate(size, self.seq_len, torch.Generator().manual_seed(seed))
        if sharded:
            rank, world_size = sharded
            x, y = x[rank::world_size], y[rank::world_size]
        return x.to(self.device), y.to(self.device)


class AddingProblem(_SyntheticTask):
    """The model maps ``(N, T, 2)`` to ``(N, 1)``: the sum of the two marked values.

    ``one_per_half`` places the first marker in the first half of the sequence and the second in
    the second half (:func:`shared.data.synthetic.adding_problem`; Le et al. 2015, and the IndRNN
    reference code); by default both positions are uniform (the TCN reference code).
    """

    metric = "mse"
    input_size, output_size = 2, 1

    def __init__(self, *args: Any, one_per_half: bool = False, **kwargs: Any) -> None:
        self.one_per_half = one_per_half  # before the base class draws the data with it
        super().__init__(*args, **kwargs)

    def generate(self, n: int, seq_len: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = synthetic.adding_problem(n, seq_len, generator, one_per_half=self.one_per_half)
        return x.transpose(1, 2), y

    def train_loss(self, model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        x, y = self.train_batch(batch)
        return F.mse_loss(model(x), y)

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

    def train_loss(self, model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        x, y = self.train_batch(batch)
        return F.cross_entropy(model(x).flatten(0, 1), y.flatten())

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
