"""The QRNN paper's tasks on real data: each model learns within a minute on a small slice (the
language model beats the unigram floor, the classifier beats chance), and the language model's
carried state survives a checkpoint."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from papers.qrnn.__main__ import PAPER, build_model, build_task
from papers.qrnn.config import TaskConfig
from shared.tasks.language_model import unigram_loss
from shared.train import runtime
from shared.train.loop import Trainer


def small(task: str, data: dict, model: dict, train: dict) -> TaskConfig:
    """The task's smoke configuration with ``data``, ``model`` and ``train`` settings replaced."""
    cfg = PAPER.config(task, "smoke")
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, **data),
        model=dataclasses.replace(cfg.model, **model),
        train=dataclasses.replace(cfg.train, **train),
    )


@pytest.mark.parametrize(("task", "lr"), [("ptb_qrnn", 0.5), ("ptb_lstm", 1.0)])
def test_the_language_model_beats_the_unigram_floor_within_a_minute(
    task: str, lr: float, tmp_path: Path, prepared_data: Path
) -> None:
    """The paper's recipe (SGD, clip 10, zoneout for the QRNN) on 60,000 PTB tokens, with a smaller
    model, batch and no dropout so that 2 epochs take under a minute (~55 s on 1 thread).

    The QRNN runs at half the paper's lr 1: at 128 units lr 1 does not train it reliably (seeds 0-3
    end at 688 / 1052 / 759 / 655 against the 685 bound, seed 1 above the floor for 4 epochs, and
    seed 0 at 667 on another CPU), while at lr 0.5 they end at 594-648. The LSTM learns at lr 1
    (seeds 0-3: 512-583)."""
    cfg = small(
        task,
        {"limit_train": 60_000, "limit_eval": 3_000, "seq_len": 35},
        {"hidden": 128, "dropout": 0.0},
        {"epochs": 2, "batch_size": 10, "lr": lr},
    )
    runtime.seed_everything(0)
    lm = build_task(cfg, 0, torch.device("cpu"))
    result = Trainer(build_model(cfg, lm), lm, cfg.train, tmp_path, seed=0, fingerprint="learns", progress=False).fit()
    test = lm.eval_data["test"][0]  # one row: the split read as one stream
    floor = math.exp(unigram_loss(lm.streams["train"], test[1:], lm.vocab_size))
    assert 700 < floor < 740  # the unigram perplexity of this slice: 720.7
    assert result.value < 0.95 * floor, (result.value, floor)  # seed 0: QRNN 594, LSTM 564


@pytest.mark.parametrize("task", ["imdb_qrnn", "imdb_lstm"])
def test_the_classifier_beats_chance_within_a_minute(task: str, tmp_path: Path, prepared_data: Path) -> None:
    """The paper's recipe (RMSProp, dropout 0.3, 4 dense layers) shrunk to 6,000 reviews of their
    last 50 tokens, 32 units: ~25 s on 1 thread."""
    cfg = small(
        task,
        {"limit_train": 6_000, "limit_eval": 500, "max_len": 50, "vocab_size": 5_000},
        {"hidden": 32, "emb_size": 32},
        {"epochs": 3},
    )
    runtime.seed_everything(0)
    reviews = build_task(cfg, 0, torch.device("cpu"))
    result = Trainer(
        build_model(cfg, reviews), reviews, cfg.train, tmp_path, seed=0, fingerprint="learns", progress=False
    ).fit()
    assert result.value > 60.0, result.value  # 500 test reviews, 47.8% positive: a constant guess gets 52.2%


def test_the_carried_language_model_state_survives_a_checkpoint(prepared_data: Path) -> None:
    """The task saves the model's state (the QRNN's pooling memory and last inputs) in checkpoints."""
    cfg = PAPER.config("ptb_qrnn", "smoke")
    lm = build_task(cfg, 0, torch.device("cpu"))
    model = build_model(cfg, lm).eval()
    lm.train_loss(model, 0)
    saved = lm.state_dict()
    assert len(saved["state"]) == 3  # c and one kept input per layer
    expected = lm.train_loss(model, lm.seq_len)
    lm.load_state_dict(saved)
    torch.testing.assert_close(lm.train_loss(model, lm.seq_len), expected)
