"""Polyphonic music (Boulanger-Lewandowski et al. 2012): predict each 88-pitch frame of a piano
roll from the frames before it.

The metric is the negative log-likelihood per frame: nats, summed over the 88 pitches (independent
Bernoullis given the past), averaged over every predicted frame of the split (all but each piece's
first). The model maps ``(N, L, 88)`` frames to ``(N, L, 88)`` logits of the next frame.

Two training protocols of the papers that use it:

* ``batching="pieces"`` with ``reduction="sum"``: one piece per step in a random order, the loss
  the NLL summed over its frames (the TCN reference code, Bai et al. 2018);
* ``batching="length_buckets"`` with ``reduction="mean"``: minibatches of pieces of similar length,
  zero-padded, the padding masked out, the loss the mean NLL per real frame (Chung et al. 2014).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from shared.data import polyphonic_music
from shared.tasks.base import evaluation_mode, length_batches, shard_examples
from shared.tasks.metrics import frame_nll

BATCHINGS = ("pieces", "length_buckets")
REDUCTIONS = ("sum", "mean")


def padded(rolls: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs ``x_{1..T-1}``, targets ``x_{2..T}`` (both ``(N, L, 88)``, zero-padded at the end)
    and the ``(N, L)`` mask of real target frames, for pieces of different lengths."""
    inputs = pad_sequence([r[:-1] for r in rolls], batch_first=True)
    targets = pad_sequence([r[1:] for r in rolls], batch_first=True)
    lengths = torch.tensor([len(r) - 1 for r in rolls], device=inputs.device)
    mask = torch.arange(inputs.size(1), device=inputs.device)[None, :] < lengths[:, None]
    return inputs, targets, mask


def bernoulli_baseline_nll(train: list[torch.Tensor], test: list[torch.Tensor]) -> float:
    """NLL per frame of the frame-independent model: each pitch is on with its training-set
    frequency (add-one smoothed), whatever came before (the floor a sequence model must beat).
    Frames are scored as the models score them (all but each piece's first)."""
    frames = torch.cat(train)
    p = (frames.sum(0) + 1) / (len(frames) + 2)
    logits = torch.log(p) - torch.log1p(-p)
    targets = torch.cat([roll[1:] for roll in test])
    return frame_nll(logits.expand_as(targets), targets).mean().item()


class PolyphonicMusic:
    """Next-frame prediction on one corpus of :data:`shared.data.polyphonic_music.NAMES`."""

    metric = "nll_per_frame"
    higher_is_better = False
    has_valid = True
    input_size = output_size = polyphonic_music.PITCHES

    def __init__(
        self,
        dataset: str,
        batch_size: int,
        device: torch.device,
        batching: str = "length_buckets",
        reduction: str = "mean",
        eval_batch_size: int = 16,
        limit_train: int | None = None,
        limit_eval: int | None = None,
    ) -> None:
        if batching not in BATCHINGS:
            raise ValueError(f"batching {batching!r} is not one of {BATCHINGS}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction {reduction!r} is not one of {REDUCTIONS}")
        if batching == "pieces" and batch_size != 1:
            raise ValueError("batching 'pieces' trains on one piece per step: set train.batch_size to 1")
        self.batch_size = batch_size
        self.batching = batching
        self.reduction = reduction
        self.eval_batch_size = eval_batch_size
        data = polyphonic_music.load(dataset)
        cut = {"train": limit_train, "valid": limit_eval, "test": limit_eval}
        self.splits = {split: [r.to(device) for r in data[split][: cut[split]]] for split in ("train", "valid", "test")}
        short = [split for split, rolls in self.splits.items() if any(len(r) < 2 for r in rolls)]
        if short:
            raise ValueError(f"{dataset}: the {short[0]} split has a piece of fewer than 2 frames")
        self.lengths = [len(r) for r in self.splits["train"]]

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[int] | list[list[int]]:
        if self.batching == "pieces":
            return torch.randperm(len(self.lengths), generator=generator).tolist()
        return length_batches(self.lengths, self.batch_size, generator)

    def _piece_nll(self, model: nn.Module, roll: torch.Tensor) -> torch.Tensor:
        """Summed NLL of one piece's predicted frames (one piece needs no padding)."""
        return frame_nll(model(roll[None, :-1]), roll[None, 1:]).sum()

    def _nll_sum(self, model: nn.Module, rolls: list[torch.Tensor]) -> tuple[torch.Tensor, int]:
        inputs, targets, mask = padded(rolls)
        nll = frame_nll(model(inputs), targets)
        return nll.masked_select(mask).sum(), int(mask.sum())

    def shard(self, batch: int | list[int], rank: int, world_size: int) -> tuple[list[int], float]:
        """Rank ``rank``'s pieces of ``batch`` (:func:`shard_examples`), weighted by its share of
        the batch's predicted frames for the mean reduction, by ``world_size`` for the sum."""
        if self.batching == "pieces":
            raise ValueError("batching 'pieces' trains on one piece per step: it cannot be split over processes")
        part, _ = shard_examples(batch, rank, world_size)
        if self.reduction == "sum":
            return part, float(world_size)
        frames = sum(self.lengths[i] - 1 for i in part) / sum(self.lengths[i] - 1 for i in batch)
        return part, world_size * frames

    def train_loss(self, model: nn.Module, batch: int | list[int]) -> torch.Tensor:
        if self.batching == "pieces":
            roll = self.splits["train"][batch]
            total, frames = self._piece_nll(model, roll), len(roll) - 1
        else:
            total, frames = self._nll_sum(model, [self.splits["train"][i] for i in batch])
        return total if self.reduction == "sum" else total / frames

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        """NLL per frame of ``split``: piece by piece (``pieces``), or in padded batches of
        ``eval_batch_size`` pieces of similar length (``length_buckets``)."""
        total, frames = 0.0, 0
        with evaluation_mode(model):
            if self.batching == "pieces":
                for roll in self.splits[split]:
                    total, frames = total + self._piece_nll(model, roll).item(), frames + len(roll) - 1
            else:
                rolls, size = sorted(self.splits[split], key=len), self.eval_batch_size
                for start in range(0, len(rolls), size):
                    nll, n = self._nll_sum(model, rolls[start : start + size])
                    total, frames = total + nll.item(), frames + n
        nll = total / frames
        return {"loss": nll, "nll_per_frame": nll}
