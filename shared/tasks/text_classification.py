"""Document classification: read a variable-length token sequence, predict one class.

:class:`TextClassification` serves IMDb sentiment (:mod:`shared.data.imdb`: 22,500 training,
2,500 validation and 25,000 test reviews, two classes) and, as bring-your-own data, Yelp 2013
(:func:`shared.data.documents.load_documents`: five classes, split as the Sliced RNN script splits
it). Training batches hold reviews of similar length (:func:`shared.tasks.base.length_batches`),
right-padded with id 0 (``<pad>``); the model maps ``(tokens (N, L), lengths (N,))`` to
``(N, classes)`` logits and must read each review only up to its length (a causal recurrent
model reads its output at step ``length - 1``, which padding after it cannot reach). Evaluation
runs each split in batches of ``eval_batch_size`` reviews sorted by length. Metric: accuracy in
percent; loss: mean cross-entropy per review.

``max_len`` keeps the last ``max_len`` tokens of every review (a budget for CPU profiles; ``None``
keeps whole reviews): the end, where reviews tend to state their verdict and where a recurrent
classifier reads its state; ``vocab_size`` keeps the ``vocab_size`` first vocabulary entries (the most
frequent words, ``<pad>`` and ``<unk>`` included) and maps the others to ``<unk>``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pad_sequence

from shared.data import imdb
from shared.data.documents import DOCUMENT_SOURCES, load_documents
from shared.tasks.base import evaluation_mode, length_batches, shard_examples

#: The corpora: prepared IMDb, or one you bring (shared.data.documents).
DATASETS = ("imdb", *DOCUMENT_SOURCES)
PAD_ID, UNK_ID = 0, 1

Batch = tuple[Tensor, Tensor, Tensor]  # tokens (N, L), lengths (N,), labels (N,)


def pad_batch(reviews: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Right-padded ``(N, L)`` token ids (``L`` the longest review, pad id 0) and the lengths."""
    lengths = torch.tensor([len(r) for r in reviews], device=reviews[0].device)
    return pad_sequence(reviews, batch_first=True, padding_value=PAD_ID), lengths


class TextClassification:
    """Sentiment of whole documents (see the module docstring)."""

    metric = "accuracy_pct"
    higher_is_better = True
    has_valid = True

    def __init__(
        self,
        dataset: str,
        batch_size: int,
        device: torch.device,
        max_len: int | None = None,
        vocab_size: int | None = None,
        eval_batch_size: int = 64,
        limit_train: int | None = None,
        limit_eval: int | None = None,
    ) -> None:
        if dataset not in DATASETS:
            raise ValueError(f"dataset {dataset!r} is not one of {DATASETS}")
        if max_len is not None and max_len < 1:
            raise ValueError(f"max_len {max_len} must be >= 1 (or None for whole reviews)")
        data = imdb.load() if dataset == "imdb" else load_documents(dataset)
        full_vocab = len(data["vocab"])
        if vocab_size is not None and not 2 < vocab_size <= full_vocab:
            raise ValueError(f"vocab_size {vocab_size} must be in [3, {full_vocab}] (the prepared vocabulary)")
        self.vocab_size = vocab_size or full_vocab
        self.num_classes = data.get("num_classes", 2)  # IMDb: positive or negative
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        cut = {"train": limit_train, "valid": limit_eval, "test": limit_eval}
        self.reviews: dict[str, list[Tensor]] = {}
        self.labels: dict[str, Tensor] = {}
        for split in ("train", "valid", "test"):
            n = cut[split]
            ids = data[f"{split}_tokens"].long()
            if self.vocab_size < full_vocab:
                ids = ids.masked_fill(ids >= self.vocab_size, UNK_ID)
            reviews = ids.split(data[f"{split}_lengths"].tolist())[:n]
            self.reviews[split] = (
                [r[-max_len:].to(device) for r in reviews] if max_len else [r.to(device) for r in reviews]
            )
            self.labels[split] = data[f"{split}_labels"][:n].to(device)
            if any(len(r) == 0 for r in self.reviews[split]):
                raise ValueError(f"{dataset} {split}: a review has no token")
        self.lengths = [len(r) for r in self.reviews["train"]]

    def batch(self, split: str, indices: list[int]) -> Batch:
        """The padded tokens, lengths and labels of reviews ``indices`` of ``split``."""
        tokens, lengths = pad_batch([self.reviews[split][i] for i in indices])
        return tokens, lengths, self.labels[split][indices]

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[list[int]]:
        return length_batches(self.lengths, self.batch_size, generator)

    def shard(self, indices: list[int], rank: int, world_size: int) -> tuple[list[int], float]:
        return shard_examples(indices, rank, world_size)  # the loss is a mean over the reviews

    def train_loss(self, model: nn.Module, indices: list[int]) -> Tensor:
        tokens, lengths, labels = self.batch("train", indices)
        return F.cross_entropy(model(tokens, lengths), labels)

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        order = sorted(range(len(self.reviews[split])), key=lambda i: len(self.reviews[split][i]))
        nll, correct = 0.0, 0
        with evaluation_mode(model):
            for start in range(0, len(order), self.eval_batch_size):
                tokens, lengths, labels = self.batch(split, order[start : start + self.eval_batch_size])
                logits = model(tokens, lengths)
                nll += F.cross_entropy(logits, labels, reduction="sum").item()
                correct += int((logits.argmax(-1) == labels).sum())
        n = len(order)
        return {"loss": nll / n, "accuracy_pct": 100.0 * correct / n}
