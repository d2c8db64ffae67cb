"""A check shared by the cell tests: a packed batch gives what each sequence gives alone."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def assert_packed_equals_per_sequence(
    stack: nn.Module, x: torch.Tensor, h0: torch.Tensor, lengths: list[int], **tolerance: float
) -> None:
    """Run ``stack`` on ``x`` (time-major, padded) packed by ``lengths`` with initial state ``h0``,
    then on each sequence unbatched: outputs up to each length and final states must agree
    (a packed run must neither read the padding nor step past a sequence's end)."""
    packed_out, h_n = stack(pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False), h0)
    padded, _ = pad_packed_sequence(packed_out)
    for i, length in enumerate(lengths):
        output_i, h_i = stack(x[:length, i], h0[:, i])
        torch.testing.assert_close(padded[:length, i], output_i, **tolerance)
        torch.testing.assert_close(h_n[:, i], h_i, **tolerance)
