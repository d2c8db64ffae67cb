r"""The Stanford Sentiment Treebank (Socher et al. 2013) as Tai et al. (2015) use it: binarized
constituency trees with a sentiment label (0 very negative .. 4 very positive) on every node.

Raw: ``data/sst/{train,dev,test}.txt.gz``, the PTB-format trees of the SST release
(``trainDevTestTrees_PTB``; see its ``SOURCE.md``), one tree per line, e.g.
``(3 (2 (2 The) (2 Rock)) (4 ...))``: a node is ``(label word)`` (a leaf, one token) or
``(label child child)``.

Node order. Each tree is stored as a parent array in the layout of Tai et al.'s ``*.cparents``
files: the leaves first, in sentence order (node ``j`` is token ``j``), then the internal nodes in
post-order (children before parents, the root last). Parents are 0-based, ``-1`` for the root, so
``shared.models.cells.TreeBatch.from_parent_lists(..., one_based=False)`` reads them and orders
every node's children left to right.

Vocabulary: case-sensitive tokens as written (``-LRB-`` for a parenthesis). ``<pad>`` (id 0) and
``<unk>`` (id 1), then every training token, most frequent first (ties alphabetical), then the
tokens seen only in dev or test, alphabetically: 21,701 words, Tai et al.'s :math:`|V|`.
``train_vocab_size`` counts the entries up to the
last training token: a model without pretrained vectors reads ids ``>= train_vocab_size`` as
``<unk>`` (it never learns their vectors); one with pretrained vectors (GloVe) keeps them all, as
Tai et al.'s code, whose vocabulary covers every split.

Prepared: ``prepared/sst/sst.pt``, a dict with ``vocab``, ``train_vocab_size`` and per split ``s``
in ``train``, ``dev``, ``test``: ``s_words`` (token ids of every sentence, concatenated),
``s_lengths`` (tokens per sentence), ``s_parents`` (every tree's parent array, concatenated),
``s_sizes`` (nodes per tree) and ``s_labels`` (the label of every node, in the node order).
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from pathlib import Path

import torch

from shared.data.checksums import DataError, expect_equal, verify_dataset
from shared.data.prepared import load_prepared, save_prepared

DATASET = "sst"
SPLITS = ("train", "dev", "test")
PAD, UNK = "<pad>", "<unk>"
LABELS = 5
#: Trees, labelled nodes and tokens per split: SOURCE.md's verification, but for the training
#: tokens, 163,563 here and 163,560 there; every tree is a full binary tree (2 n - 1 nodes for n
#: tokens), and (318,582 + 8,544) / 2 = 163,563.
COUNTS = {"train": (8_544, 318_582, 163_563), "dev": (1_101, 41_447, 21_274), "test": (2_210, 82_600, 42_405)}
#: Parentheses and words; words are separated by ASCII spaces only (a token may hold a no-break
#: space: ``8\xa01\/2``).
_TOKEN = re.compile(r"\(|\)|[^ \n()]+")


class Tree:
    """One parsed tree: ``words`` (its tokens), ``parents`` (0-based, -1 for the root) and
    ``labels`` (0..4), both in the node order of the module docstring."""

    def __init__(self, words: list[str], parents: list[int], labels: list[int]) -> None:
        self.words, self.parents, self.labels = words, parents, labels


def parse_tree(line: str) -> Tree:
    """The tree of one PTB-format line; a malformed line raises ``ValueError`` quoting it."""
    tokens = _TOKEN.findall(line)
    position = 0

    def expect(token: str) -> None:
        nonlocal position
        if position >= len(tokens) or tokens[position] != token:
            raise ValueError(f"SST tree: expected {token!r} at token {position} of {line.strip()!r}")
        position += 1

    def node() -> tuple:
        """``(label, word)`` for a leaf, ``(label, [children])`` for an internal node."""
        nonlocal position
        expect("(")
        if position >= len(tokens) or not tokens[position].isdigit() or int(tokens[position]) >= LABELS:
            raise ValueError(f"SST tree: a node without a label 0..4 at token {position} of {line.strip()!r}")
        label = int(tokens[position])
        position += 1
        if position < len(tokens) and tokens[position] not in "()":
            word = tokens[position]
            position += 1
            expect(")")
            return label, word
        children = []
        while position < len(tokens) and tokens[position] == "(":
            children.append(node())
        if not children:
            raise ValueError(f"SST tree: a node with neither word nor children in {line.strip()!r}")
        expect(")")
        return label, children

    root = node()
    if position != len(tokens):
        raise ValueError(f"SST tree: text after the root in {line.strip()!r}")
    words: list[str] = []
    leaf_labels: list[int] = []
    inner: list[tuple[int, list[int]]] = []  # (label, child references) in post-order

    def number(subtree: tuple) -> tuple[str, int]:
        """A reference to the node: ``("leaf", token index)`` or ``("inner", post-order index)``."""
        label, content = subtree
        if isinstance(content, str):
            words.append(content)
            leaf_labels.append(label)
            return "leaf", len(words) - 1
        children = [number(child) for child in content]
        inner.append((label, children))
        return "inner", len(inner) - 1

    number(root)
    n_leaves = len(words)
    index = {"leaf": 0, "inner": n_leaves}
    parents = [-1] * (n_leaves + len(inner))
    for k, (_, children) in enumerate(inner):
        for kind, j in children:
            parents[index[kind] + j] = n_leaves + k
    return Tree(words, parents, leaf_labels + [label for label, _ in inner])


def read_split(path: Path) -> list[Tree]:
    """Every tree of one gzipped split file, in file order."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [parse_tree(line) for line in f if line.strip()]


def vocabulary(splits: dict[str, list[Tree]]) -> tuple[list[str], int]:
    """The vocabulary of the module docstring and ``train_vocab_size``."""
    counts = Counter(word for tree in splits["train"] for word in tree.words)
    train = sorted(counts, key=lambda w: (-counts[w], w))
    others = sorted({w for split in ("dev", "test") for tree in splits[split] for w in tree.words} - set(counts))
    return [PAD, UNK, *train, *others], 2 + len(train)


def prepare(raw_dir: Path, out_dir: Path) -> list[Path]:
    """Verify ``data/sst``, parse its trees and write ``<out_dir>/sst.pt``."""
    raw_dir = Path(raw_dir)
    verify_dataset(raw_dir)
    try:
        splits = {split: read_split(raw_dir / f"{split}.txt.gz") for split in SPLITS}
    except ValueError as err:
        raise DataError(f"{raw_dir}: {err}") from err
    vocab, train_vocab_size = vocabulary(splits)
    index = {word: i for i, word in enumerate(vocab)}
    prepared: dict[str, list[str] | int | torch.Tensor] = {"vocab": vocab, "train_vocab_size": train_vocab_size}
    for split, trees in splits.items():
        counted = (len(trees), sum(len(t.labels) for t in trees), sum(len(t.words) for t in trees))
        expect_equal(f"sst {split}: (trees, labelled nodes, tokens)", counted, COUNTS[split])
        prepared[f"{split}_words"] = torch.tensor([index[w] for t in trees for w in t.words], dtype=torch.int64)
        prepared[f"{split}_lengths"] = torch.tensor([len(t.words) for t in trees], dtype=torch.int64)
        prepared[f"{split}_parents"] = torch.tensor([p for t in trees for p in t.parents], dtype=torch.int64)
        prepared[f"{split}_sizes"] = torch.tensor([len(t.parents) for t in trees], dtype=torch.int64)
        prepared[f"{split}_labels"] = torch.tensor([y for t in trees for y in t.labels], dtype=torch.int64)
    path = Path(out_dir) / f"{DATASET}.pt"
    save_prepared(prepared, path)
    return [path]


def load(root: Path | str | None = None) -> dict[str, list[str] | int | torch.Tensor]:
    """The prepared treebank: ``vocab``, ``train_vocab_size`` and per split
    ``<split>_words/_lengths/_parents/_sizes/_labels``."""
    return load_prepared(DATASET, DATASET, root)
