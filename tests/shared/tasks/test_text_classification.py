"""The document-classification family: padding, length buckets, truncation, the vocabulary cap
and the evaluation of a known model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from shared.tasks.text_classification import PAD_ID, UNK_ID, TextClassification, pad_batch


def test_pad_batch_right_pads_with_the_pad_id() -> None:
    tokens, lengths = pad_batch([torch.tensor([5, 6, 7]), torch.tensor([8])])
    assert tokens.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]] and lengths.tolist() == [3, 1]


class LastTokenParity(nn.Module):
    """Predicts class ``last token id % 2`` (reads each review at its length, like the models)."""

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        last = tokens[torch.arange(len(lengths)), lengths - 1]
        return torch.nn.functional.one_hot(last % 2, 2).float() * 10.0


@pytest.fixture(scope="module")
def task(prepared_data: Path) -> TextClassification:
    return TextClassification(
        "imdb", 8, torch.device("cpu"), max_len=50, vocab_size=1000, limit_train=200, limit_eval=100
    )


def test_reviews_are_cut_capped_and_batched_by_length(task: TextClassification) -> None:
    assert max(task.lengths) == 50 and len(task.reviews["test"]) == 100
    assert all(int(r.max()) < 1000 for r in task.reviews["train"])
    assert any(bool((r == UNK_ID).any()) for r in task.reviews["train"])
    batches = task.train_batches(1, torch.Generator().manual_seed(0))
    assert sorted(i for b in batches for i in b) == list(range(200))
    tokens, lengths, labels = task.batch("train", batches[0])
    assert tokens.shape == (len(batches[0]), int(lengths.max())) and labels.shape == (len(batches[0]),)
    assert batches == task.train_batches(1, torch.Generator().manual_seed(0))  # drawn from the generator only


def test_evaluation_scores_every_review_once(task: TextClassification) -> None:
    metrics = task.evaluate(LastTokenParity(), "test")
    last = torch.stack([r[-1] for r in task.reviews["test"]]) % 2
    assert metrics["accuracy_pct"] == pytest.approx(100.0 * float((last == task.labels["test"]).float().mean()))


def test_bad_settings_are_errors(prepared_data: Path) -> None:
    with pytest.raises(ValueError, match="dataset 'sst'"):
        TextClassification("sst", 8, torch.device("cpu"))
    with pytest.raises(ValueError, match="vocab_size 2"):
        TextClassification("imdb", 8, torch.device("cpu"), vocab_size=2, limit_train=1, limit_eval=1)
