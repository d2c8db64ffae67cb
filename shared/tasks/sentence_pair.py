"""Sentence-pair classification: read two token sequences, predict the relation between them, and
report the accuracy overall and per group of pairs (e.g. by number of operators).

:class:`SentencePairClassification` is the family; :func:`propositional_logic` configures it for
the logical-inference experiment of ON-LSTM (Shen et al. 2019, Sec. 5.4) on Bowman et al.'s (2015)
artificial language (:mod:`shared.data.propositional_logic`).

The model maps ``(left (N, L1), left_lengths (N,), right (N, L2), right_lengths (N,))`` to ``(N,
classes)`` logits. Sequences are right-padded with the index :attr:`SentencePairClassification.pad`
(``len(vocab)``) and trimmed to the longest sequence of the batch; ``*_lengths`` are int64 on the
CPU (what ``pack_padded_sequence`` takes). The loss is the mean cross-entropy of a batch; the
metric is the accuracy in percent over the split's pairs, and :meth:`evaluate` also returns
``accuracy_pct_<group>`` for every group of the split and ``accuracy_pct_unseen``, the unweighted
mean over the test groups longer than anything trained on (the points right of the training range
in Shen et al.'s Fig. 2).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from shared.data import propositional_logic as logic
from shared.tasks.base import evaluation_mode, index_batches, length_batches, limit, shard_examples

BATCHINGS = ("random", "length_buckets")


class PairSplit:
    """One split in tensors: both sides right-padded ``(N, L)`` with ``pad``, their lengths (CPU),
    the labels and the group of each pair."""

    def __init__(
        self,
        pairs: Sequence[tuple[list[int], list[int], int, int]],
        pad: int,
        device: torch.device,
    ) -> None:
        if not pairs:
            raise ValueError("a split without pairs")
        left, right, labels, groups = zip(*pairs, strict=True)
        if any(len(s) == 0 for s in left + right):
            raise ValueError("a pair with an empty sentence (it has no final state to classify)")
        self.left, self.left_lengths = _padded(left, pad, device)
        self.right, self.right_lengths = _padded(right, pad, device)
        self.labels = torch.tensor(labels, dtype=torch.long, device=device)
        self.groups = torch.tensor(groups, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The model's four inputs for the pairs ``idx`` (CPU int64), trimmed to their longest sentence."""
        left_lengths, right_lengths = self.left_lengths[idx], self.right_lengths[idx]
        on_device = idx.to(self.labels.device)
        left = self.left[on_device, : int(left_lengths.max())]
        right = self.right[on_device, : int(right_lengths.max())]
        return left, left_lengths, right, right_lengths


def _padded(sentences: Sequence[list[int]], pad: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sentences)
    tokens = torch.tensor([list(s) + [pad] * (width - len(s)) for s in sentences], dtype=torch.long)
    return tokens.to(device), torch.tensor([len(s) for s in sentences], dtype=torch.long)


class SentencePairClassification:
    """Pairs of token sequences with a class each and a group (an int) each, split into
    ``train``/``valid``/``test``.

    ``batching``: ``random`` minibatches (the ON-LSTM code's), or ``length_buckets`` of pairs of
    similar length (less padding, so less compute on the loop path of a recurrent model).
    ``unseen_above``: test groups above it are "unseen" (``accuracy_pct_unseen``); ``None``: none.
    """

    metric = "accuracy_pct"
    higher_is_better = True
    has_valid = True

    def __init__(
        self,
        vocab: Sequence[str],
        classes: Sequence[str],
        splits: dict[str, Sequence[tuple[list[int], list[int], int, int]]],
        batch_size: int,
        device: torch.device,
        batching: str = "random",
        eval_batch_size: int = 256,
        unseen_above: int | None = None,
    ) -> None:
        if batching not in BATCHINGS:
            raise ValueError(f"batching {batching!r} is not one of {BATCHINGS}")
        missing = {"train", "valid", "test"} - set(splits)
        if missing:
            raise ValueError(f"splits {sorted(missing)} are missing")
        self.vocab, self.classes = list(vocab), list(classes)
        self.pad = len(self.vocab)
        self.batch_size, self.eval_batch_size, self.batching = batch_size, eval_batch_size, batching
        self.splits = {name: PairSplit(pairs, self.pad, device) for name, pairs in splits.items()}
        for name, split in self.splits.items():
            if int(split.labels.min()) < 0 or int(split.labels.max()) >= len(self.classes):
                raise ValueError(f"{name}: a label outside 0..{len(self.classes) - 1}")
        test_groups = sorted(set(self.splits["test"].groups.tolist()))
        self.unseen_groups = [] if unseen_above is None else [g for g in test_groups if g > unseen_above]
        #: further test metrics the results file reports next to the headline (shared.run.experiment)
        self.secondary_metrics = (*(f"accuracy_pct_{g}" for g in test_groups),) + (
            ("accuracy_pct_unseen",) if self.unseen_groups else ()
        )

    @property
    def vocab_size(self) -> int:
        """Tokens the model embeds: the vocabulary and the padding index."""
        return len(self.vocab) + 1

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[torch.Tensor]:
        train = self.splits["train"]
        if self.batching == "random":
            return index_batches(len(train), self.batch_size, generator)
        lengths = torch.maximum(train.left_lengths, train.right_lengths).tolist()
        return [torch.tensor(b) for b in length_batches(lengths, self.batch_size, generator)]

    def shard(self, idx: torch.Tensor, rank: int, world_size: int) -> tuple[torch.Tensor, float]:
        return shard_examples(idx, rank, world_size)  # the loss is a mean over the pairs

    def train_loss(self, model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
        split = self.splits["train"]
        return F.cross_entropy(model(*split.batch(idx)), split.labels[idx.to(split.labels.device)])

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        """Loss and accuracy over the split's pairs, and the accuracy of each group (module docstring)."""
        data = self.splits[split]
        # Pairs in order of length: each batch pads little. The metrics are sums, order-free.
        order = torch.argsort(torch.maximum(data.left_lengths, data.right_lengths), stable=True)
        nll, correct = torch.zeros(len(data)), torch.zeros(len(data), dtype=torch.bool)
        with evaluation_mode(model):
            for idx in order.split(self.eval_batch_size):
                logits = model(*data.batch(idx)).float().cpu()
                labels = data.labels[idx.to(data.labels.device)].cpu()
                nll[idx] = F.cross_entropy(logits, labels, reduction="none")
                correct[idx] = logits.argmax(-1) == labels
        metrics = {"loss": nll.mean().item(), "accuracy_pct": 100.0 * correct.float().mean().item()}
        for group in sorted(set(data.groups.tolist())):
            metrics[f"accuracy_pct_{group}"] = 100.0 * correct[data.groups == group].float().mean().item()
        if split == "test" and self.unseen_groups:
            metrics["accuracy_pct_unseen"] = statistics.fmean(metrics[f"accuracy_pct_{g}"] for g in self.unseen_groups)
        return metrics

    def majority_accuracy_pct(self, split: str) -> float:
        """The accuracy of always predicting the most frequent training class (the floor to beat)."""
        majority = int(torch.bincount(self.splits["train"].labels).argmax())
        return 100.0 * (self.splits[split].labels == majority).float().mean().item()


def _spread(items: list, cap: int | None) -> list:
    """``cap`` items evenly spaced over ``items`` (all of them when ``cap`` is None or larger)."""
    n = limit(len(items), cap)
    return [items[i * len(items) // n] for i in range(n)]


def propositional_logic(
    batch_size: int,
    device: torch.device,
    max_train_ops: int = 6,
    test_ops: Sequence[int] = tuple(range(1, 13)),
    valid_every: int = 10,
    batching: str = "random",
    eval_batch_size: int = 256,
    limit_train: int | None = None,
    limit_eval: int | None = None,
) -> SentencePairClassification:
    """Bowman et al.'s logical inference as ON-LSTM trains and tests it (Sec. 5.4; its
    ``proplog.py``): train on the training pairs with at most ``max_train_ops`` operators, every
    ``valid_every``-th of them (in bucket order, the 10th, 20th, ...) held out for validation; test
    on the test pairs of each operator count in ``test_ops`` (groups = operator counts; the unseen
    groups are those above ``max_train_ops``). Class ``k`` is ``shared.data.propositional_logic.RELATIONS[k]``.

    ``limit_train`` keeps that many pairs of train, evenly spaced over it (so every operator count
    stays represented), ``limit_eval`` that many of valid and of every test group (smoke runs).
    """
    if valid_every < 2:
        raise ValueError(f"valid_every must be >= 2 (every n-th training pair is held out), got {valid_every}")
    data = logic.load()
    token_index = {token: i for i, token in enumerate(logic.TOKENS)}
    label_index = {label: i for i, label in enumerate(logic.RELATIONS)}

    def pair(line: str, ops: int) -> tuple[list[int], list[int], int, int]:
        label, left, right = line.split("\t")
        return [token_index[t] for t in left.split()], [token_index[t] for t in right.split()], label_index[label], ops

    train_pool = [pair(x, ops) for x, ops in zip(data["train"], data["train_ops"], strict=True) if ops <= max_train_ops]
    held_out = [i % valid_every == valid_every - 1 for i in range(len(train_pool))]
    train = [p for p, out in zip(train_pool, held_out, strict=True) if not out]
    valid = [p for p, out in zip(train_pool, held_out, strict=True) if out]
    test: list[tuple[list[int], list[int], int, int]] = []
    for ops in test_ops:
        group = [pair(x, k) for x, k in zip(data["test"], data["test_ops"], strict=True) if k == ops]
        if not group:
            raise ValueError(f"test_ops: no test pair has {ops} operators (buckets 0..{logic.MAX_BUCKET})")
        test += _spread(group, limit_eval)
    splits = {"train": _spread(train, limit_train), "valid": _spread(valid, limit_eval), "test": test}
    return SentencePairClassification(
        logic.TOKENS,
        logic.RELATIONS,
        splits,
        batch_size,
        device,
        batching=batching,
        eval_batch_size=eval_batch_size,
        unseen_above=max_train_ops,
    )
