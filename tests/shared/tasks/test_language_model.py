"""The language-modelling family: windows with an effective history, stream batching."""

from __future__ import annotations

import pytest
import torch

from shared.tasks.language_model import batchify, lm_metrics, lm_windows, unigram_loss


def test_lm_windows_score_every_prediction_once() -> None:
    for length, seq_len, valid_len in [(100, 20, 10), (101, 20, 20), (15, 20, 10), (57, 8, 3)]:
        windows = lm_windows(length, seq_len, valid_len)
        scored = [t for start, end, k in windows for t in range(end - k, end)]
        assert scored == list(range(length - 1))
        assert all(end - start <= seq_len and k <= end - start for start, end, k in windows)


def test_batchify_cuts_contiguous_rows_and_refuses_a_too_short_stream() -> None:
    rows = batchify(torch.arange(23), 4)
    assert rows.tolist()[1] == [5, 6, 7, 8, 9]
    with pytest.raises(ValueError, match="too short"):
        batchify(torch.arange(10), 20)


def test_metrics_are_perplexity_for_words_and_bits_per_character_for_characters() -> None:
    assert lm_metrics(2.0, char_level=False)["perplexity"] == pytest.approx(7.389056)
    assert lm_metrics(2.0, char_level=True)["bpc"] == pytest.approx(2.885390)


def test_the_unigram_floor_is_the_smoothed_frequency_of_each_predicted_token() -> None:
    train = torch.tensor([0, 0, 0, 1])  # counts + 1: 4, 2, 1 of 7 over a vocabulary of 3
    expected = -(torch.tensor([4 / 7, 2 / 7, 1 / 7]).log()[[0, 2, 1]].mean().item())
    assert unigram_loss(train, torch.tensor([0, 2, 1]), 3) == pytest.approx(expected)
