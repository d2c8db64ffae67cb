"""The contract between a task family and the training loop, and what every family shares."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import torch


class Task(Protocol):
    """What the loop (:class:`shared.train.loop.Trainer`) needs from a task.

    A task may also keep state across batches (a language model's carried hidden state); it then
    offers ``state_dict()`` / ``load_state_dict(state)``, saved in every checkpoint. A task whose
    steps differ in size may offer ``lr_scale(batch) -> float``: the loop steps on that batch with
    the learning rate multiplied by it (AWD-LSTM's variable-length BPTT).

    A task that can be trained by several processes (``torchrun``, DistributedDataParallel) offers
    ``shard(batch, rank, world_size) -> (part, weight)``: the part of a global batch that process
    ``rank`` of ``world_size`` trains on, and the weight of its loss such that the mean over the
    processes of ``weight * train_loss(part)`` is the global batch's loss (then DDP's mean of the
    gradients is the global batch's gradient). Every process gets the same global batches (the
    same generator), so ``shard`` is the whole of the split: :func:`shard_examples` for batches of
    example indices whose loss is a mean over the examples (a DistributedSampler's strided split).
    """

    metric: str  #: name of the reported metric, e.g. ``nll_per_frame``
    higher_is_better: bool
    has_valid: bool

    def train_batches(self, epoch: int, generator: torch.Generator) -> Sequence[Any]:
        """The epoch's batches, in an order drawn only from ``generator`` (for exact resume)."""

    def train_loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor:
        """The scalar loss to back-propagate for one batch."""

    def evaluate(self, model: torch.nn.Module, split: str) -> dict[str, float]:
        """Metrics on ``valid`` or ``test``: at least ``loss`` and ``self.metric``."""


@contextlib.contextmanager
def evaluation_mode(model: torch.nn.Module) -> Iterator[None]:
    """``eval()`` and no gradients inside; the model's previous mode is restored on exit."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def limit(n: int, cap: int | None) -> int:
    """``n`` cut to ``cap`` (the ``limit_*`` settings of smoke profiles); ``None`` keeps all."""
    return n if cap is None else min(n, cap)


def index_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A random partition of ``range(n)`` into batches, drawn from ``generator`` only."""
    return list(torch.randperm(n, generator=generator).split(batch_size))


def shard_examples(batch: torch.Tensor | list[int], rank: int, world_size: int) -> tuple[Any, float]:
    """Rank ``rank``'s examples of ``batch`` (every ``world_size``-th one from the ``rank``-th, as
    torch's DistributedSampler deals them) and its weight ``world_size * n_rank / n``, for a loss
    that is the mean over the batch's examples (exact when the batch does not divide evenly)."""
    if len(batch) < world_size:
        raise ValueError(
            f"a batch of {len(batch)} examples cannot be split over {world_size} processes "
            "(make train.batch_size, and the size of the last batch of an epoch, at least the number of processes)"
        )
    part = batch[rank::world_size]
    return part, world_size * len(part) / len(batch)


def length_batches(lengths: list[int], batch_size: int, generator: torch.Generator, pool: int = 8) -> list[list[int]]:
    """Random batches of similar lengths (less padding): shuffle, sort each pool of
    ``pool * batch_size`` indices by length, cut it into batches, shuffle the batches. Drawn
    from ``generator`` only (exact resume)."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    batches = []
    for start in range(0, len(order), pool * batch_size):
        chunk = sorted(order[start : start + pool * batch_size], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


class TensorTask:
    """A task whose examples are rows of in-memory tensors ``train_x/train_y`` and ``test_x/test_y``
    (no validation split): random minibatches of rows, evaluation summed batch by batch."""

    metric: str
    higher_is_better = False
    has_valid = False
    input_size: int  #: channels per step of ``train_x``
    output_size: int  #: outputs the model must produce per example (or per step)
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def __init__(self, batch_size: int, eval_batch_size: int, limit_train: int | None) -> None:
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.limit_train = limit_train

    def batch_sums(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        """Per-batch sums that :meth:`metrics` turns into the test metrics."""
        raise NotImplementedError

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        raise NotImplementedError

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        return index_batches(limit(len(self.train_x), self.limit_train), self.batch_size, generator)

    def shard(self, batch: torch.Tensor, rank: int, world_size: int) -> tuple[torch.Tensor, float]:
        # The losses of the families built on this class are means over the batch's rows.
        return shard_examples(batch, rank, world_size)

    def evaluate(self, model: torch.nn.Module, split: str) -> dict[str, float]:
        size = self.eval_batch_size
        sums: dict[str, float] = {}
        with evaluation_mode(model):
            for xb, yb in zip(self.test_x.split(size), self.test_y.split(size), strict=True):
                for key, value in self.batch_sums(model(xb), yb).items():
                    sums[key] = sums.get(key, 0.0) + value
        return self.metrics(sums)
