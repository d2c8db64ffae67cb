"""The SST and SICK readers: a hand-parsed tree, the node layout, clear errors on malformed input,
and the real splits (their sizes, the vocabulary, every tree valid) when the raw data is pulled."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared.core.paths import REPO_ROOT
from shared.data import sick, sst
from shared.data.checksums import DataError
from shared.models.cells import TreeBatch

DATA = REPO_ROOT / "data"
needs_data = pytest.mark.skipif(not (DATA / "sst" / "SOURCE.md").is_file(), reason="raw data not pulled (dvc pull)")


def test_a_tree_is_stored_leaves_first_then_internal_nodes_in_post_order() -> None:
    #        4 (root, label 3)
    #       /  \
    #      3 (1) \
    #     / \     \
    #   0 A  1 B   2 C        labels: A 2, B 0, C 4; node 3 labelled 1
    tree = sst.parse_tree("(3 (1 (2 A) (0 B)) (4 C))")
    assert tree.words == ["A", "B", "C"]
    assert tree.parents == [3, 3, 4, 4, -1]
    assert tree.labels == [2, 0, 4, 1, 3]
    batch = TreeBatch.from_parent_lists([tree.parents], one_based=False)
    assert batch.child_index.tolist() == [0, 1, 1, 0, 0]  # A left of B; node 3 left of C


def test_a_word_may_hold_a_no_break_space() -> None:
    assert sst.parse_tree("(2 (2 8\xa01\\/2) (2 .))").words == ["8\xa01\\/2", "."]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("(2 (2 A) (2 B)", r"expected '\)' at token 10"),
        ("(7 A)", "label 0..4"),
        ("(2 A) (2 B)", "text after the root"),
        ("(2 )", "label 0..4|neither word"),
        ("(x A)", "label 0..4"),
    ],
)
def test_a_malformed_tree_is_an_error_quoting_it(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sst.parse_tree(line)


def test_sick_parents_are_checked(tmp_path: Path) -> None:
    assert sick._parents("2 0 2", "x", 3) == [1, -1, 1]
    with pytest.raises(DataError, match="2 parents for 3 tokens"):
        sick._parents("2 0", "x", 3)
    with pytest.raises(DataError, match="one root"):
        sick._parents("0 0 2", "x", 3)


@needs_data
def test_sst_real_splits(tmp_path: Path) -> None:
    sst.prepare(DATA / "sst", tmp_path / "sst")
    data = sst.load(tmp_path)
    # Tai et al. report |V| = 21,701: the same count, plus <pad> and <unk>.
    assert len(data["vocab"]) == 21_703 and data["vocab"][:2] == ["<pad>", "<unk>"]
    assert data["vocab"][data["train_vocab_size"] - 1] != data["vocab"][data["train_vocab_size"]]
    for split, (trees, nodes, tokens) in sst.COUNTS.items():
        sizes, lengths = data[f"{split}_sizes"], data[f"{split}_lengths"]
        assert (len(sizes), int(sizes.sum()), int(lengths.sum())) == (trees, nodes, tokens)
        assert torch.equal(sizes, 2 * lengths - 1)  # binarized: n tokens, n - 1 internal nodes
        parents = [p.tolist() for p in data[f"{split}_parents"].split(sizes.tolist())]
        batch = TreeBatch.from_parent_lists(parents, one_based=False)
        assert int(batch.child_index.max()) == 1
    roots = data["train_labels"][torch.cumsum(data["train_sizes"], 0) - 1]
    assert torch.bincount(roots).tolist() == [1092, 2218, 1624, 2322, 1288]  # SOURCE.md
    assert int((roots != 2).sum()) == 6_920  # the binary task's training sentences


@needs_data
def test_sick_real_splits(tmp_path: Path) -> None:
    sick.prepare(DATA / "sick", tmp_path / "sick")
    data = sick.load(tmp_path)
    assert len(data["vocab"]) == 2_410  # vocab-cased.txt's 2,408 words, <pad> and <unk>
    for split, pairs in sick.PAIRS.items():
        assert len(data[f"{split}_scores"]) == pairs
        for side in sick.SIDES:
            lengths = data[f"{split}_{side}_lengths"]
            dependency = data[f"{split}_{side}_parents"].split(lengths.tolist())
            TreeBatch.from_parent_lists([p.tolist() for p in dependency], one_based=False)
            constituency = data[f"{split}_{side}_cparents"].split(data[f"{split}_{side}_csizes"].tolist())
            TreeBatch.from_parent_lists([p.tolist() for p in constituency], one_based=False)
    assert data["train_scores"].mean().item() == pytest.approx(3.521, abs=5e-4)  # SOURCE.md
