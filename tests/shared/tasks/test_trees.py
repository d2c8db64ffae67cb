"""The trees task family (shared.tasks.trees): the sparse relatedness target (hand examples), node
spans, the binary task's classes and predictions, batches of trees against the stored trees,
exact-resume batching, and clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shared.tasks.trees import Relatedness, SentimentTreebank, TreeSplit, _spans, relatedness_target


def test_relatedness_target_hand_examples() -> None:
    target = relatedness_target(torch.tensor([1.0, 4.5, 5.0, 2.25, 3.0]))
    expected = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0, 0.0],  # y = 1: all on rating 1
            [0.0, 0.0, 0.0, 0.5, 0.5],  # y = 4.5: floor 4 gets 4 - 4.5 + 1, rating 5 gets 4.5 - 4
            [0.0, 0.0, 0.0, 0.0, 1.0],  # y = 5: all on rating 5
            [0.0, 0.75, 0.25, 0.0, 0.0],  # y = 2.25
            [0.0, 0.0, 1.0, 0.0, 0.0],  # y = 3: an integer puts all its mass on itself
        ]
    )
    torch.testing.assert_close(target, expected)
    torch.testing.assert_close(target @ torch.arange(1.0, 6.0), torch.tensor([1.0, 4.5, 5.0, 2.25, 3.0]))


@pytest.mark.parametrize("scores", [torch.tensor([0.5]), torch.tensor([5.01]), torch.tensor([[3.0]])])
def test_relatedness_target_refuses_scores_off_the_scale(scores: torch.Tensor) -> None:
    with pytest.raises(ValueError, match=r"1-D tensor in \[1, 5\]"):
        relatedness_target(scores)


def test_spans_of_a_tree_stored_leaves_first() -> None:
    # ((A B) C): tokens 0-2, node 3 = (A B), root 4.
    spans = _spans(torch.tensor([3, 3, 4, 4, -1]), 3)
    assert spans.tolist() == [[0, 1], [1, 2], [2, 3], [0, 2], [0, 3]]


def test_a_batch_of_trees_holds_each_tree_shifted() -> None:
    split = TreeSplit(
        [torch.tensor([5, 6]), torch.tensor([7, 8, 9])],
        [torch.tensor([2, 2, -1]), torch.tensor([1, -1, 1])],  # a constituency tree; a dependency tree
        torch.device("cpu"),
    )
    words, trees = split.batch([1, 0])
    assert words.tolist() == [7, 8, 9, 5, 6, -1]  # the internal node has no word
    assert trees.parents.tolist() == [1, -1, 1, 5, 5, -1]
    assert trees.child_index.tolist() == [0, 0, 1, 0, 1, 0]
    assert trees.roots.tolist() == [1, 5] and trees.offsets.tolist() == [0, 3]
    with pytest.raises(ValueError, match="a tree of 1 nodes for 2 tokens"):
        TreeSplit([torch.tensor([1, 2])], [torch.tensor([-1])], torch.device("cpu"))


class Constant(nn.Module):
    """Scores every input row with the same logits."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, words: torch.Tensor, trees) -> torch.Tensor:
        return self.logits.expand(len(words), -1)


def test_sst_binary_drops_neutral_sentences_and_never_predicts_neutral(trees_data) -> None:
    fine = SentimentTreebank("fine", "tree", 25, torch.device("cpu"))
    binary = SentimentTreebank("binary", "tree", 25, torch.device("cpu"))
    assert [len(binary.trees[s]) for s in ("train", "valid", "test")] == [6_920, 872, 1_821]
    assert [len(fine.trees[s]) for s in ("train", "valid", "test")] == [8_544, 1_101, 2_210]
    assert binary.num_classes == 3 and fine.num_classes == 5
    phrases = torch.cat(binary.labels["train"])
    assert set(phrases.tolist()) == {0, 1, 2}  # phrases may be neutral
    assert {int(y[-1]) for y in binary.labels["test"]} == {0, 2}  # sentences never are
    # The neutral score is the largest, yet only negative and positive are compared.
    assert binary.predict(torch.tensor([[0.1, 9.0, 0.2], [0.3, 9.0, 0.2]])).tolist() == [2, 0]
    positive = binary.evaluate(Constant([0.0, 5.0, 1.0]), "test")["accuracy_pct"]
    assert positive == pytest.approx(100 * 909 / 1821) == pytest.approx(binary.majority_accuracy_pct("test"))


def test_sst_sequence_batches_draw_phrases_from_the_generator_only(trees_data) -> None:
    task = SentimentTreebank("fine", "sequence", 5, torch.device("cpu"), limit_train=50)
    first = task.train_batches(1, torch.Generator().manual_seed(3))
    again = task.train_batches(1, torch.Generator().manual_seed(3))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    indices, phrases = first[0]
    assert phrases.shape == (5, 4)
    assert bool((phrases < task.trees["train"].sizes[indices].unsqueeze(1)).all())


def test_vocabulary_train_maps_unseen_words_to_unk(trees_data) -> None:
    task = SentimentTreebank("fine", "tree", 25, torch.device("cpu"), vocabulary="train")
    assert max(int(w.max()) for w in task.trees["test"].words) < task.vocab_size
    assert any(bool((w == 1).any()) for w in task.trees["test"].words)  # some test words are <unk>
    everything = SentimentTreebank("fine", "tree", 25, torch.device("cpu"), vocabulary="all", limit_train=1)
    assert everything.vocab_size == len(everything.vocab) == 21_703


def test_relatedness_reads_both_sentences_of_every_pair(trees_data) -> None:
    task = Relatedness("tree", 25, torch.device("cpu"), limit_train=3)
    words, trees = task.inputs("train", [0, 2])
    assert trees.roots.numel() == 4  # left sentences 0 and 2, then right sentences 0 and 2
    lengths = [len(task.sides[f"train_{side}"].words[i]) for side in "ab" for i in (0, 2)]
    assert trees.num_nodes == sum(lengths) and bool((words >= 0).all())  # dependency trees: a word per node
    tokens, seq_lengths = Relatedness("sequence", 25, torch.device("cpu"), limit_train=3).inputs("train", [0, 2])
    assert seq_lengths.tolist() == lengths and tokens.shape == (4, max(lengths))
    constituency = Relatedness("tree", 25, torch.device("cpu"), parse="constituency", limit_train=3)
    words, trees = constituency.inputs("train", [0])
    assert int((words < 0).sum()) == trees.num_nodes - sum(lengths[i] for i in (0, 2))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SentimentTreebank("coarse", "tree", 25, torch.device("cpu")), "subtask 'coarse'"),
        (lambda: SentimentTreebank("fine", "graph", 25, torch.device("cpu")), "reader 'graph'"),
        (lambda: SentimentTreebank("fine", "tree", 25, torch.device("cpu"), vocabulary="x"), "vocabulary 'x'"),
        (lambda: Relatedness("tree", 25, torch.device("cpu"), parse="ccg"), "parse 'ccg'"),
    ],
)
def test_bad_settings_are_clear_errors(make, message: str, trees_data) -> None:
    with pytest.raises(ValueError, match=message):
        make()
