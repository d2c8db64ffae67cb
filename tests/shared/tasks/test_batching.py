"""Batching shared by the task families: length buckets, padding of piano rolls."""

from __future__ import annotations

import torch

from shared.tasks.base import length_batches
from shared.tasks.music import padded


def test_length_batches_partition_the_pieces_and_keep_lengths_together() -> None:
    lengths = torch.randint(2, 500, (203,), generator=torch.Generator().manual_seed(0)).tolist()
    batches = length_batches(lengths, 16, torch.Generator().manual_seed(1))
    assert sorted(i for b in batches for i in b) == list(range(203))
    assert batches == length_batches(lengths, 16, torch.Generator().manual_seed(1))  # a function of the generator
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 100  # random batches of 16 would span ~440 frames


def test_padding_is_masked_out_of_the_nll() -> None:
    rolls = [torch.bernoulli(torch.full((n, 88), 0.1)) for n in (5, 9)]
    inputs, targets, mask = padded(rolls)
    assert inputs.shape == (2, 8, 88) and mask.sum(1).tolist() == [4, 8]
    assert torch.equal(targets[0, :4], rolls[0][1:]) and not mask[0, 4:].any()
