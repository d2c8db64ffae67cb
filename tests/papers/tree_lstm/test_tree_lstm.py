"""Tree-LSTM paper folder: the batched (level-by-level) evaluation of real SST and SICK trees
against one node per step and against each tree alone; the tied bidirectional LSTM against a
hand-reversed reading; the similarity model's symmetry; Tai et al.'s optimizer against torch's
AdaGrad and SGD; a "learns" check (a Tree-LSTM beats the majority class on SST binary within a
minute); clear errors (bad settings, missing GloVe)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
import torch

from papers.tree_lstm.__main__ import PAPER, build_model, build_task
from papers.tree_lstm.config import EMBEDDING_MARK, AdagradSGDEmbeddings, TaskConfig
from papers.tree_lstm.model import SentimentClassifier, SequenceEncoder, SimilarityModel, TreeEncoder, WordEmbedding
from shared.core.config import ConfigError, from_dict
from shared.data.checksums import DataError
from shared.tasks.trees import Relatedness, SentimentTreebank
from shared.train.loop import epoch_generator

CPU = torch.device("cpu")
TOL = {"rtol": 1e-9, "atol": 1e-11}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize(("arch", "kind"), [("constituency", "sst"), ("dependency", "sick")])
def test_batched_trees_equal_one_node_per_step_and_each_tree_alone(arch: str, kind: str, trees_data) -> None:
    """The level-by-level batch gives, in float64, what a node-by-node (recursive-order) pass and
    a pass over each tree alone give, on real parses of every height in the first 12 sentences."""
    if kind == "sst":
        split = SentimentTreebank("fine", "tree", 12, CPU, limit_train=12).trees["train"]
    else:
        split = Relatedness("tree", 12, CPU, limit_train=12).sides["train_a"]
    embedding = WordEmbedding([], 30_000, 8).double()
    encoder = TreeEncoder(arch, embedding, 6).double()
    words, trees = split.batch(list(range(12)))
    batched = encoder(words, trees)
    torch.testing.assert_close(batched, encoder(words, trees, node_by_node=True), **TOL)
    alone = torch.cat([encoder(*split.batch([i])) for i in range(12)])
    torch.testing.assert_close(batched, alone, **TOL)
    assert len(trees.levels()) == int(trees.heights.max()) + 1 < trees.num_nodes  # batched: far fewer steps


def test_the_bidirectional_lstm_reads_each_sentence_backwards_with_the_same_weights() -> None:
    embedding = WordEmbedding([], 20, 5)
    bi = SequenceEncoder("bilstm", embedding, 4)
    tokens = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]])  # the second sentence padded
    lengths = torch.tensor([4, 2])
    both = bi(tokens, lengths)
    uni = SequenceEncoder("lstm", embedding, 4)
    uni.lstm.load_state_dict(bi.lstm.state_dict())
    forward = torch.cat([uni(tokens[i : i + 1, :n], torch.tensor([n])) for i, n in enumerate([4, 2])])
    backward = torch.cat([uni(tokens[i : i + 1, :n].flip(1), torch.tensor([n])) for i, n in enumerate([4, 2])])
    torch.testing.assert_close(both, torch.cat([forward, backward], dim=1))
    assert sum(p.numel() for p in bi.lstm.parameters()) == sum(p.numel() for p in uni.lstm.parameters())


def test_the_similarity_model_is_symmetric_in_its_two_sentences() -> None:
    """h_x = h_L * h_R and h_+ = |h_L - h_R| (Eqs. 15-16) do not change when L and R swap."""
    model = SimilarityModel(SequenceEncoder("lstm", WordEmbedding([], 20, 5), 4), sim_hidden=3).eval()
    tokens, lengths = torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 2])
    swapped = model(tokens.flip(0), lengths.flip(0))
    torch.testing.assert_close(model(tokens, lengths), swapped)
    assert torch.allclose(swapped.exp().sum(1), torch.ones(1))


def test_the_optimizer_is_adagrad_with_l2_on_the_model_and_sgd_on_the_word_vectors() -> None:
    model = SentimentClassifier(SequenceEncoder("lstm", WordEmbedding([], 10, 3), 4), 5, 0.0)
    setattr(model.encoder.embedding.weight, EMBEDDING_MARK, True)
    reference = SentimentClassifier(SequenceEncoder("lstm", WordEmbedding([], 10, 3), 4), 5, 0.0)
    reference.load_state_dict(model.state_dict())
    ours = AdagradSGDEmbeddings(model.parameters(), lr=0.05, weight_decay=1e-4, embedding_lr=0.1)
    others = [p for n, p in reference.named_parameters() if "embedding" not in n]
    adagrad = torch.optim.Adagrad(others, lr=0.05, weight_decay=1e-4)
    sgd = torch.optim.SGD([reference.encoder.embedding.weight], lr=0.1)
    tokens, lengths, labels = torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 2]), torch.tensor([1, 4])
    for _ in range(3):
        for net, optimizers in ((model, [ours]), (reference, [adagrad, sgd])):
            for optimizer in optimizers:
                optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(tokens, lengths), labels).backward()
            for optimizer in optimizers:
                optimizer.step()
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, msg=name)


def test_a_tree_lstm_beats_the_majority_class_on_sst_binary_within_a_minute(trees_data) -> None:
    started = time.perf_counter()
    task = SentimentTreebank("binary", "tree", 25, CPU, limit_train=2_000)
    embedding = WordEmbedding(task.vocab, task.vocab_size, 64)
    model = SentimentClassifier(TreeEncoder("constituency", embedding, 64), task.num_classes, 0.0)
    # AdaGrad on the word vectors too: vectors learnt from scratch move faster than by plain SGD.
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.1)
    for epoch in (1, 2):
        for batch in task.train_batches(epoch, epoch_generator(1, epoch)):
            optimizer.zero_grad()
            task.train_loss(model, batch).backward()
            optimizer.step()
    accuracy, majority = task.evaluate(model, "valid")["accuracy_pct"], task.majority_accuracy_pct("valid")
    assert accuracy > majority + 4.0, f"dev accuracy {accuracy:.1f} vs majority {majority:.1f}"
    assert time.perf_counter() - started < 60


@pytest.mark.parametrize(
    ("data", "model", "train", "message"),
    [
        ({"kind": "sst"}, {"arch": "dependency"}, {}, "dependency parses of the SST"),
        ({"kind": "sst"}, {"arch": "treelstm"}, {}, "model.arch: 'treelstm'"),
        ({"kind": "sst"}, {"arch": "lstm", "embedding": "glove", "embedding_size": 100}, {}, "300 features"),
        ({"kind": "sst"}, {"arch": "lstm"}, {"epochs": 1, "optimizer": "adam"}, "a setting of the optimizer"),
        ({"kind": "sst"}, {"arch": "lstm"}, {"epochs": 1, "embedding_lr": -1.0}, "must be >= 0"),
        ({"kind": "yelp"}, {"arch": "lstm"}, {}, "data.kind: 'yelp'"),
        ({"kind": "sick"}, {"arch": "dependency", "embedding": "glove"}, {}, "GloVe vectors cover every split"),
    ],
)
def test_bad_settings_are_config_errors(data: dict, model: dict, train: dict, message: str) -> None:
    entry = {"data": data, "model": model, **({"train": train} if train else {})}
    with pytest.raises(ConfigError, match=message):
        from_dict(TaskConfig, entry, "params.yaml: ")


def test_the_paper_profile_without_glove_names_the_file_to_provide(trees_data, tmp_path: Path) -> None:
    cfg = PAPER.config("sick_tree", "paper")
    task = build_task(cfg, 1, CPU)
    with pytest.raises(DataError, match=r"Provide .*glove_840b/glove\.840B\.300d\.txt yourself"):
        build_model(cfg, task)


def test_glove_vectors_are_read_for_the_words_they_have(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_text("the 1 2 3\nat&t co. 4 5 6\nunused 7 8 9\n")
    embedding = WordEmbedding(["<pad>", "the", "at&t co.", "rare"], 4, 3, init="glove", glove_path=path)
    assert embedding.weight[1].tolist() == [1.0, 2.0, 3.0] and embedding.weight[2].tolist() == [4.0, 5.0, 6.0]
    assert embedding.weight[0].abs().sum() == 0 and embedding.weight[3].abs().max() <= 0.05
    path.write_text("the 1 2\n")
    with pytest.raises(DataError, match="line 1: expected a word and 3 numbers"):
        WordEmbedding(["<pad>", "the"], 2, 3, init="glove", glove_path=path)


def test_frozen_word_vectors_are_not_trained(trees_data) -> None:
    cfg = PAPER.config("sick_tree", "smoke")
    model = build_model(cfg, build_task(cfg, 1, CPU))
    assert model.encoder.embedding.weight.requires_grad  # the cpu and smoke profiles learn them
    frozen = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, embedding_lr=0.0))
    assert not build_model(frozen, build_task(frozen, 1, CPU)).encoder.embedding.weight.requires_grad
