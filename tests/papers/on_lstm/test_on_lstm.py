"""ON-LSTM's logical-inference model: padding never changes the logits, the official initialisation,
the recipe's schedule against torch's ReduceLROnPlateau, and a short run that learns."""

from __future__ import annotations

import math

import pytest
import torch

from papers.on_lstm.model import PairClassifier
from shared.train.schedules import ScheduleConfig, reduce_on_plateau

PAD, VOCAB = 11, 12


def model(arch: str, **kwargs: object) -> PairClassifier:
    torch.manual_seed(0)
    sizes = {"emb_size": 6, "hidden": 8, "chunk_size": 2, **kwargs}
    return PairClassifier(arch, VOCAB, PAD, 7, **sizes).double().eval()


def padded(sentences: list[list[int]], width: int) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = torch.full((len(sentences), width), PAD, dtype=torch.long)
    for i, s in enumerate(sentences):
        tokens[i, : len(s)] = torch.tensor(s)
    return tokens, torch.tensor([len(s) for s in sentences])


LEFT = [[0, 2, 0, 9, 3, 1, 1], [4], [0, 10, 5, 1]]
RIGHT = [[6], [0, 2, 8, 7, 1, 1, 1, 1, 1], [3]]


@pytest.mark.parametrize("arch", ["onlstm", "lstm"])
def test_padding_does_not_change_the_logits(arch: str) -> None:
    m = model(arch)
    tight = m(*padded(LEFT, 7), *padded(RIGHT, 9))
    wide = m(*padded(LEFT, 15), *padded(RIGHT, 12))
    torch.testing.assert_close(tight, wide, rtol=0, atol=1e-12)
    # Each pair alone (no padding at all) gives its row of the batch.
    for i in range(len(LEFT)):
        alone = m(*padded(LEFT[i : i + 1], len(LEFT[i])), *padded(RIGHT[i : i + 1], len(RIGHT[i])))
        torch.testing.assert_close(alone, tight[i : i + 1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("arch", ["onlstm", "lstm"])
def test_features_are_the_final_states_of_one_shared_encoder(arch: str) -> None:
    m = model(arch)
    left, left_lengths = padded(LEFT, 7)
    right, right_lengths = padded(RIGHT, 9)
    h1, h2 = m.encode(left, left_lengths), m.encode(right, right_lengths)
    # The hidden state after the last real token, computed step by step without packing.
    for i, sentence in enumerate(LEFT):
        out, _ = m.encoder(m.embedding(torch.tensor([sentence])))
        torch.testing.assert_close(h1[i], out[0, -1], rtol=0, atol=1e-12)
    features = torch.cat([h1, h2, h1 * h2, (h1 - h2).abs()], dim=-1)
    torch.testing.assert_close(m(left, left_lengths, right, right_lengths), m.mlp(features))


def test_initialisation_is_the_official_one() -> None:
    m = PairClassifier("lstm", VOCAB, PAD, 7, emb_size=128, hidden=400)
    assert m.embedding.weight.abs().max() <= 0.1
    ih, hh = m.encoder.weight_ih_l0.abs().max().item(), m.encoder.weight_hh_l0.abs().max().item()
    assert 0.9 / math.sqrt(128) < ih <= 1 / math.sqrt(128)  # nn.Linear's bound, not torch LSTM's 1/sqrt(400)
    assert 0.9 / math.sqrt(400) < hh <= 1 / math.sqrt(400)
    on = PairClassifier("onlstm", VOCAB, PAD, 7, emb_size=128, hidden=400, chunk_size=10)
    assert on.encoder.weight_ih_l0.shape == (4 * 400 + 2 * 40, 128)  # master gates of 400 / 10 dimensions
    assert on.mlp[1].in_features == 1600 and on.mlp[4].out_features == 7


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="arch"):
        PairClassifier("gru", VOCAB, PAD, 7)
    with pytest.raises(ValueError, match="dropconnect"):
        PairClassifier("lstm", VOCAB, PAD, 7, dropconnect=0.3)


@pytest.mark.parametrize("patience", [0, 2])
def test_reduce_on_plateau_decays_when_torch_does(patience: int) -> None:
    losses = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.8, 0.8, 0.85, 0.9, 0.7, 0.71, 0.72, 0.73, 0.74]
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
    torch_rule = plateau(optimizer, "min", factor=0.5, patience=patience, threshold=0)
    cfg = ScheduleConfig(kind="reduce_on_plateau", factor=0.5, window=patience)
    ours, theirs = [], []
    for epoch, loss in enumerate(losses, 1):
        before = optimizer.param_groups[0]["lr"]
        torch_rule.step(loss)
        theirs.append(optimizer.param_groups[0]["lr"] < before)
        ours.append(reduce_on_plateau(cfg, epoch, loss, losses[: epoch - 1]))
    assert ours == theirs and any(ours)
    assert not reduce_on_plateau(cfg, 1, None, [])


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["onlstm", "lstm"])
def test_a_short_run_beats_the_majority_class(arch: str, logic_data: None) -> None:
    """A small encoder on 4,000 training pairs of at most 2 operators, 3 epochs (about a minute
    with the data loading): validation accuracy above always answering the most frequent
    relation (independence, 59 % of these pairs)."""
    from shared.tasks.sentence_pair import propositional_logic

    torch.manual_seed(0)
    task = propositional_logic(
        32,
        torch.device("cpu"),
        max_train_ops=2,
        test_ops=[1],
        batching="length_buckets",
        limit_train=4000,
        limit_eval=1000,
    )
    m = PairClassifier(arch, task.vocab_size, task.pad, 7, emb_size=32, hidden=64, chunk_size=8, dropout=0.0)
    optimizer = torch.optim.Adam(m.parameters(), lr=0.01)
    for epoch in range(1, 4):
        for batch in task.train_batches(epoch, torch.Generator().manual_seed(epoch)):
            optimizer.zero_grad()
            task.train_loss(m, batch).backward()
            optimizer.step()
    accuracy = task.evaluate(m, "valid")["accuracy_pct"]
    majority = task.majority_accuracy_pct("valid")
    assert accuracy > majority + 3, (accuracy, majority)
