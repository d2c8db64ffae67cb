"""Sentence-pair classification: batches, trimming of the padding, per-group accuracy, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shared.tasks.sentence_pair import SentencePairClassification, _spread

CPU = torch.device("cpu")


def pairs(n: int, groups: int = 3) -> list[tuple[list[int], list[int], int, int]]:
    """Pair i: sentences of lengths 1 + i % 5 and 1 + i % 3, label i % 2, group i % groups + 1."""
    return [([i % 4] * (1 + i % 5), [3] * (1 + i % 3), i % 2, i % groups + 1) for i in range(n)]


def task(batching: str = "random", **kwargs: object) -> SentencePairClassification:
    splits = {"train": pairs(40), "valid": pairs(10), "test": pairs(30)}
    return SentencePairClassification(["w", "x", "y", "z"], ["no", "yes"], splits, 8, CPU, batching=batching, **kwargs)


class FirstTokenParity(nn.Module):
    """Predicts class (first left token) % 2, and checks that the batch is trimmed and padded right."""

    def __init__(self, pad: int) -> None:
        super().__init__()
        self.pad = pad
        self.bias = nn.Parameter(torch.zeros(2))

    def forward(self, left, left_lengths, right, right_lengths):  # noqa: ANN001, ANN201
        for tokens, lengths in ((left, left_lengths), (right, right_lengths)):
            assert lengths.device.type == "cpu" and tokens.size(1) == int(lengths.max())  # trimmed
            for row, n in zip(tokens, lengths.tolist(), strict=True):
                assert (row[:n] != self.pad).all() and (row[n:] == self.pad).all()
        return nn.functional.one_hot(left[:, 0] % 2, 2).float() * 10 + self.bias


@pytest.mark.parametrize("batching", ["random", "length_buckets"])
def test_train_batches_partition_the_training_pairs(batching: str) -> None:
    t = task(batching)
    batches = t.train_batches(1, torch.Generator().manual_seed(0))
    assert sorted(torch.cat(batches).tolist()) == list(range(40))
    assert [b.tolist() for b in batches] == [b.tolist() for b in t.train_batches(1, torch.Generator().manual_seed(0))]
    loss = t.train_loss(FirstTokenParity(t.pad), batches[0])
    assert loss.ndim == 0 and torch.isfinite(loss)


def test_accuracy_per_group_and_unseen_mean() -> None:
    t = task(unseen_above=1)
    # Pair i has first token i % 4 and label i % 2: the model is right exactly when i % 4 % 2 == i % 2, always.
    metrics = t.evaluate(FirstTokenParity(t.pad), "test")
    assert metrics["accuracy_pct"] == 100.0 and metrics["loss"] < 1e-3
    assert {k for k in metrics if k.startswith("accuracy_pct_")} == {
        "accuracy_pct_1",
        "accuracy_pct_2",
        "accuracy_pct_3",
        "accuracy_pct_unseen",
    }
    assert t.secondary_metrics == ("accuracy_pct_1", "accuracy_pct_2", "accuracy_pct_3", "accuracy_pct_unseen")


def test_group_accuracies_are_exact_for_a_model_right_on_one_group() -> None:
    t = task(unseen_above=2)

    class RightOnGroupOne(FirstTokenParity):
        def forward(self, left, left_lengths, right, right_lengths):  # noqa: ANN001, ANN201
            # Group 1 pairs have i % 3 == 0, i.e. right length 1; elsewhere predict the wrong class.
            right_parity = super().forward(left, left_lengths, right, right_lengths)
            return torch.where((right_lengths == 1)[:, None], right_parity, right_parity.flip(-1))

    metrics = t.evaluate(RightOnGroupOne(t.pad), "test")
    assert (metrics["accuracy_pct_1"], metrics["accuracy_pct_2"], metrics["accuracy_pct_3"]) == (100.0, 0.0, 0.0)
    assert metrics["accuracy_pct"] == pytest.approx(100 / 3)
    assert metrics["accuracy_pct_unseen"] == 0.0  # only group 3 is above 2


def test_majority_baseline() -> None:
    t = task()
    assert t.majority_accuracy_pct("test") == 50.0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="batching"):
        task("sorted")
    with pytest.raises(ValueError, match="missing"):
        SentencePairClassification(["w"], ["a", "b"], {"train": pairs(4)}, 2, CPU)
    bad = {"train": pairs(4), "valid": pairs(4), "test": [([0], [1], 5, 1)]}
    with pytest.raises(ValueError, match="label outside"):
        SentencePairClassification(["w", "x", "y", "z"], ["a", "b"], bad, 2, CPU)
    empty = {"train": [([], [1], 0, 1)], "valid": pairs(4), "test": pairs(4)}
    with pytest.raises(ValueError, match="empty sentence"):
        SentencePairClassification(["w", "x", "y", "z"], ["a", "b"], empty, 2, CPU)


def test_spread_keeps_evenly_spaced_items() -> None:
    assert _spread(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert _spread(list(range(3)), None) == [0, 1, 2] == _spread(list(range(3)), 7)
