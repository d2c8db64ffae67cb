r"""Tasks over parsed sentences (Tai, Socher & Manning 2015): sentiment of the Stanford Sentiment
Treebank (:class:`SentimentTreebank`, Sec. 5.1) and semantic relatedness of SICK sentence pairs
(:class:`Relatedness`, Sec. 5.2), each read by a tree model or by a sequential one.

Readers. A task hands its model one of two inputs, named by ``reader``:

* ``tree``: ``(words, trees)``, a :class:`shared.models.cells.TreeBatch` of every tree of the
  batch (nodes of equal height across the batch are computed together by the shared Tree-LSTM
  cells, one step per height) and ``words`` ``(num_nodes,)``, each node's token id, ``-1`` for a
  node without a token (an internal node of a constituency tree). Trees whose nodes are all tokens
  (dependency trees) have a token on every node.
* ``sequence``: ``(tokens (N, L), lengths (N,))``, right-padded with id 0 (``<pad>``), the model
  reading each sentence up to its length.

Vocabulary: ``vocabulary: train`` (for embeddings learnt here) maps every token not seen in
training to ``<unk>`` (id 1); ``all`` keeps every id (pretrained vectors cover them, as in Tai et
al.'s code).

**Sentiment** (:class:`SentimentTreebank`). ``fine``: 5 classes. ``binary``: the sentences whose
root is neutral are dropped, and the classes are Tai et al.'s code's three (0-1 negative, 2
neutral, 3-4 positive: a phrase may still be neutral); a sentence is predicted positive or
negative, whichever of the two has the larger score (``sentiment/TreeLSTMSentiment.lua``). The
model returns logits ``(num_nodes, C)`` (tree) or ``(N, C)`` (sequence). Training is phrase-level:

* a tree model is trained on every labelled node of every tree: the loss of a batch is the
  cross-entropy summed over the nodes of each tree and averaged over the trees (the official code's
  ``tree_loss`` summed over nodes, divided by the batch size);
* a sequential model reads the sentence and ``phrases_per_sentence`` of its phrases (nodes drawn
  uniformly, with replacement, the root and the words included; each phrase is its span of
  tokens): the mean cross-entropy over those sequences (``sentiment/LSTMSentiment.lua``, 4
  phrases).

Evaluation is sentence-level: the accuracy (%) of the root's prediction (``accuracy_pct``, the
paper's metric), and the mean cross-entropy at the roots (``loss``).

**Relatedness** (:class:`Relatedness`, Sec. 4.2 and 5.2). Each pair :math:`(L, R)` has a gold score
:math:`y \in [1, K]`, :math:`K = 5`; the model returns :math:`\log \hat p_\theta` ``(N, K)``, a
distribution over the ratings :math:`r = (1, \dots, K)`, from the batch of the ``2N`` sentences,
the left ones first. The sparse target distribution :math:`p` (:func:`relatedness_target`) puts
all of :math:`y`'s mass on its two neighbouring integers,

.. math::

    p_i = \begin{cases} y - \lfloor y \rfloor, & i = \lfloor y \rfloor + 1 \\
    \lfloor y \rfloor - y + 1, & i = \lfloor y \rfloor \\ 0 & \text{otherwise} \end{cases}

so that :math:`r^\top p = y`; the loss is :math:`\frac1m \sum_k \mathrm{KL}(p^{(k)} \,\|\,
\hat p_\theta^{(k)})` over a batch of :math:`m` pairs, and the prediction is
:math:`\hat y = r^\top \hat p_\theta`. Evaluation: Pearson's :math:`r` (``pearson_r``, the
paper's headline), Spearman's :math:`\rho` (``spearman_rho``) and the mean squared error
(``mse``) of :math:`\hat y` against :math:`y`, by ``scipy.stats``, and the mean KL (``loss``).
``reader: tree`` reads the dependency parses (``parse: dependency``, the paper's Child-Sum
Tree-LSTM) or the binarized constituency parses (``parse: constituency``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from shared.data import sick, sst
from shared.models.cells.tree_lstm import TreeBatch
from shared.tasks.base import evaluation_mode, index_batches, limit
from shared.tasks.text_classification import UNK_ID, pad_batch

READERS = ("tree", "sequence")
SUBTASKS = ("fine", "binary")
VOCABULARIES = ("train", "all")
PARSES = ("dependency", "constituency")
RATINGS = 5  #: SICK's relatedness scale 1..5


def _check(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {tuple(allowed)}")


def _vocabulary(data: dict, vocabulary: str) -> tuple[int, int | None]:
    """``(vocab_size, unk_from)``: the embedded ids and the first id read as ``<unk>`` (``None``: none)."""
    _check("vocabulary", vocabulary, VOCABULARIES)
    return (data["train_vocab_size"], data["train_vocab_size"]) if vocabulary == "train" else (len(data["vocab"]), None)


def _shifted(parents: Tensor, shift: int) -> Tensor:
    """Parent indices of trees moved ``shift`` places down a flat node list (roots stay -1)."""
    return torch.where(parents >= 0, parents + shift, -1)


class TreeSplit:
    """The trees of one split, each stored as its node inputs (token id or -1), its 0-based
    parents and its children's positions, batched by :meth:`batch`."""

    def __init__(self, words: Sequence[Tensor], parents: Sequence[Tensor], device: torch.device) -> None:
        if len(words) != len(parents) or not words:
            raise ValueError(f"TreeSplit: {len(words)} sentences for {len(parents)} trees (and at least one)")
        # One pass over the whole split for the children's left-to-right positions.
        positions = TreeBatch.from_parent_lists([p.tolist() for p in parents], one_based=False).child_index
        sizes = [len(p) for p in parents]
        self.sizes = torch.tensor(sizes)
        self.parents = [p.to(device) for p in parents]
        self.child_index = [c.to(device) for c in positions.split(sizes)]
        self.words = []
        for tokens, size in zip(words, sizes, strict=True):
            if len(tokens) > size or len(tokens) == 0:
                raise ValueError(f"TreeSplit: a tree of {size} nodes for {len(tokens)} tokens")
            self.words.append(F.pad(tokens, (0, size - len(tokens)), value=-1).to(device))

    def __len__(self) -> int:
        return len(self.parents)

    def batch(self, indices: Sequence[int]) -> tuple[Tensor, TreeBatch]:
        """``(words, trees)`` of trees ``indices``, stored one after another in that order."""
        sizes = self.sizes[list(indices)]
        offsets = torch.cumsum(sizes, 0) - sizes
        parents = torch.cat([_shifted(self.parents[i], int(o)) for i, o in zip(indices, offsets, strict=True)])
        child_index = torch.cat([self.child_index[i] for i in indices])
        words = torch.cat([self.words[i] for i in indices])
        return words, TreeBatch(parents, child_index, offsets.to(parents.device))


class SentimentTreebank:
    """Sentence-level sentiment of the SST, trained on phrases (see the module docstring).

    Args:
        subtask: ``fine`` (5 classes) or ``binary``.
        reader: ``tree`` or ``sequence``: what the model reads.
        batch_size: sentences per training batch.
        device: where the batches go.
        vocabulary: ``train`` or ``all``.
        phrases_per_sentence: phrases drawn per sentence for a sequential model (official: 4).
        eval_batch_size: sentences per evaluation batch.
        limit_train, limit_eval: keep that many first sentences of train, and of dev and test (smoke runs).
    """

    metric = "accuracy_pct"
    higher_is_better = True
    has_valid = True

    def __init__(
        self,
        subtask: str,
        reader: str,
        batch_size: int,
        device: torch.device,
        vocabulary: str = "train",
        phrases_per_sentence: int = 4,
        eval_batch_size: int = 256,
        limit_train: int | None = None,
        limit_eval: int | None = None,
    ) -> None:
        _check("subtask", subtask, SUBTASKS)
        _check("reader", reader, READERS)
        if phrases_per_sentence < 0:
            raise ValueError(f"phrases_per_sentence {phrases_per_sentence} must be >= 0")
        data = sst.load()
        self.vocab: list[str] = data["vocab"]
        self.vocab_size, unk_from = _vocabulary(data, vocabulary)
        self.subtask, self.reader = subtask, reader
        self.num_classes = 5 if subtask == "fine" else 3
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.phrases_per_sentence = phrases_per_sentence
        self.device = device
        self.trees: dict[str, TreeSplit] = {}
        self.labels: dict[str, list[Tensor]] = {}
        self.spans: dict[str, list[Tensor]] = {}
        for split, source in (("train", "train"), ("valid", "dev"), ("test", "test")):
            words = data[f"{source}_words"]
            if unk_from is not None:
                words = words.masked_fill(words >= unk_from, UNK_ID)
            sizes = data[f"{source}_sizes"].tolist()
            sentences = words.split(data[f"{source}_lengths"].tolist())
            parents = data[f"{source}_parents"].split(sizes)
            labels = data[f"{source}_labels"].split(sizes)
            keep = [i for i, y in enumerate(labels) if subtask == "fine" or int(y[-1]) != 2]  # the root is last
            keep = keep[: limit(len(keep), limit_train if split == "train" else limit_eval)]
            self.trees[split] = TreeSplit([sentences[i] for i in keep], [parents[i] for i in keep], device)
            self.labels[split] = [self._classes(labels[i]).to(device) for i in keep]
            self.spans[split] = [_spans(parents[i], len(sentences[i])) for i in keep]
        self._eval_batches: dict[str, list] = {}

    def _classes(self, labels: Tensor) -> Tensor:
        """Training classes of SST labels 0..4: themselves (fine), or 0-1 -> 0, 2 -> 1, 3-4 -> 2 (binary)."""
        return labels if self.subtask == "fine" else torch.bucketize(labels, torch.tensor([2, 3]), right=True)

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[tuple[Tensor, Tensor | None]]:
        """Random batches of sentences; for a sequential model also each sentence's drawn phrases
        (node indices ``(N, phrases_per_sentence)``), drawn from ``generator`` only."""
        batches = index_batches(len(self.trees["train"]), self.batch_size, generator)
        if self.reader == "tree":
            return [(b, None) for b in batches]
        sizes = self.trees["train"].sizes
        draws = [torch.rand(len(b), self.phrases_per_sentence, generator=generator) for b in batches]
        return [(b, (u * sizes[b].unsqueeze(1)).long()) for b, u in zip(batches, draws, strict=True)]

    def train_loss(self, model: nn.Module, batch: tuple[Tensor, Tensor | None]) -> Tensor:
        indices, phrases = batch
        indices = indices.tolist()
        labels = self.labels["train"]
        if self.reader == "tree":
            logits = model(*self.trees["train"].batch(indices))
            target = torch.cat([labels[i] for i in indices])
            return F.cross_entropy(logits, target, reduction="sum") / len(indices)
        tokens, target = [], []
        for row, i in enumerate(indices):
            sentence, spans = self.trees["train"].words[i], self.spans["train"][i]
            for node in [len(spans) - 1, *phrases[row].tolist()]:  # the root (last node), then the phrases
                low, high = spans[node].tolist()
                tokens.append(sentence[low:high])
                target.append(labels[i][node])
        return F.cross_entropy(model(*pad_batch(tokens)), torch.stack(target))

    def _root_logits(self, model: nn.Module, split: str, indices: list[int]) -> Tensor:
        if self.reader == "tree":
            words, trees = self._eval_batch(split, indices)
            return model(words, trees)[trees.roots]
        sentences = [self.trees[split].words[i][: int(self.spans[split][i][-1, 1])] for i in indices]
        return model(*pad_batch(sentences))

    def _eval_batch(self, split: str, indices: list[int]) -> tuple[Tensor, TreeBatch]:
        """The tree batch of ``indices`` (cached: evaluation reads the same batches every epoch)."""
        key = f"{split}:{indices[0]}:{len(indices)}"
        if key not in self._eval_batches:
            self._eval_batches[key] = self.trees[split].batch(indices)
        return self._eval_batches[key]

    def predict(self, logits: Tensor) -> Tensor:
        """Each sentence's predicted class: the argmax (fine), or negative (0) / positive (2),
        whichever scores higher (binary: the neutral class is never predicted)."""
        if self.subtask == "fine":
            return logits.argmax(-1)
        return torch.where(logits[:, 2] > logits[:, 0], 2, 0)

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        n = len(self.trees[split])
        roots = torch.stack([y[-1] for y in self.labels[split]])
        nll, correct = 0.0, 0
        with evaluation_mode(model):
            for start in range(0, n, self.eval_batch_size):
                indices = list(range(start, min(start + self.eval_batch_size, n)))
                logits = self._root_logits(model, split, indices)
                target = roots[start : start + len(indices)]
                nll += F.cross_entropy(logits, target, reduction="sum").item()
                correct += int((self.predict(logits) == target).sum())
        return {"loss": nll / n, "accuracy_pct": 100.0 * correct / n}

    def majority_accuracy_pct(self, split: str) -> float:
        """The accuracy of always predicting the most frequent training sentence class (the floor to beat)."""
        train_roots = torch.stack([y[-1] for y in self.labels["train"]])
        majority = int(torch.bincount(train_roots).argmax())
        return 100.0 * float(torch.stack([y[-1] for y in self.labels[split]]).eq(majority).float().mean())


def _spans(parents: Tensor, length: int) -> Tensor:
    """``(num_nodes, 2)``: the token span ``[low, high)`` of every node of a tree stored leaves
    first (node ``j < length`` is token ``j``) with every child before its parent."""
    spans = [[j, j + 1] for j in range(length)] + [[length, -1] for _ in range(len(parents) - length)]
    for node, parent in enumerate(parents.tolist()):
        if parent >= 0:
            spans[parent][0] = min(spans[parent][0], spans[node][0])
            spans[parent][1] = max(spans[parent][1], spans[node][1])
    return torch.tensor(spans)


def relatedness_target(scores: Tensor, ratings: int = RATINGS) -> Tensor:
    """The sparse target distribution :math:`p` of each gold score :math:`y \\in [1, K]` (module
    docstring): ``(N, K)``, :math:`p_{\\lfloor y \\rfloor} = \\lfloor y \\rfloor - y + 1`,
    :math:`p_{\\lfloor y \\rfloor + 1} = y - \\lfloor y \\rfloor` (1-based), so that
    :math:`\\sum_i i\\, p_i = y`."""
    if scores.dim() != 1 or not bool(((scores >= 1) & (scores <= ratings)).all()):
        raise ValueError(f"relatedness_target: scores must be a 1-D tensor in [1, {ratings}]")
    low = (scores.floor() - 1).clamp(0, ratings - 2).long()  # 0-based floor; y = K puts all on K
    upper = scores - 1 - low  # the mass of rating low + 2 (1-based)
    target = scores.new_zeros(len(scores), ratings)
    target.scatter_(1, low.unsqueeze(1), (1 - upper).unsqueeze(1))
    target.scatter_(1, (low + 1).unsqueeze(1), upper.unsqueeze(1))
    return target


class Relatedness:
    """Semantic relatedness of SICK pairs (see the module docstring).

    Args:
        reader: ``tree`` or ``sequence``.
        batch_size: pairs per training batch.
        device: where the batches go.
        parse: the trees a tree model reads, ``dependency`` or ``constituency``.
        vocabulary: ``train`` or ``all``.
        eval_batch_size: pairs per evaluation batch.
        limit_train, limit_eval: keep that many first pairs of train, and of dev and test.
    """

    metric = "pearson_r"
    higher_is_better = True
    has_valid = True
    secondary_metrics = ("spearman_rho", "mse")

    def __init__(
        self,
        reader: str,
        batch_size: int,
        device: torch.device,
        parse: str = "dependency",
        vocabulary: str = "train",
        eval_batch_size: int = 256,
        limit_train: int | None = None,
        limit_eval: int | None = None,
    ) -> None:
        _check("reader", reader, READERS)
        _check("parse", parse, PARSES)
        data = sick.load()
        self.vocab: list[str] = data["vocab"]
        self.vocab_size, unk_from = _vocabulary(data, vocabulary)
        self.reader = reader
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.sides: dict[str, TreeSplit] = {}
        self.scores: dict[str, Tensor] = {}
        for split, source in (("train", "train"), ("valid", "dev"), ("test", "test")):
            n = limit(len(data[f"{source}_scores"]), limit_train if split == "train" else limit_eval)
            self.scores[split] = data[f"{source}_scores"][:n].double()
            for side in sick.SIDES:
                words = data[f"{source}_{side}_words"]
                if unk_from is not None:
                    words = words.masked_fill(words >= unk_from, UNK_ID)
                sentences = words.split(data[f"{source}_{side}_lengths"].tolist())[:n]
                if parse == "dependency":
                    parents = data[f"{source}_{side}_parents"].split(data[f"{source}_{side}_lengths"].tolist())
                else:
                    parents = data[f"{source}_{side}_cparents"].split(data[f"{source}_{side}_csizes"].tolist())
                self.sides[f"{split}_{side}"] = TreeSplit(sentences, parents[:n], device)
        self.targets = {split: relatedness_target(scores).float().to(device) for split, scores in self.scores.items()}

    def inputs(self, split: str, indices: list[int]) -> tuple:
        """The model's input for pairs ``indices``: the ``2N`` sentences, the left ones first."""
        left, right = self.sides[f"{split}_a"], self.sides[f"{split}_b"]
        if self.reader == "sequence":
            # A sentence's tokens are the first entries of its node inputs (the rest are -1).
            return pad_batch([s.words[i][: s.words[i].ge(0).sum()] for s in (left, right) for i in indices])
        left_words, left_trees = left.batch(indices)
        right_words, right_trees = right.batch(indices)
        shift = left_trees.num_nodes
        parents = torch.cat([left_trees.parents, _shifted(right_trees.parents, shift)])
        child_index = torch.cat([left_trees.child_index, right_trees.child_index])
        offsets = torch.cat([left_trees.offsets, right_trees.offsets + shift])
        return torch.cat([left_words, right_words]), TreeBatch(parents, child_index, offsets)

    def train_batches(self, epoch: int, generator: torch.Generator) -> list[Tensor]:
        return index_batches(len(self.scores["train"]), self.batch_size, generator)

    def train_loss(self, model: nn.Module, indices: Tensor) -> Tensor:
        log_probs = model(*self.inputs("train", indices.tolist()))
        return F.kl_div(log_probs, self.targets["train"][indices.to(log_probs.device)], reduction="batchmean")

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        from scipy import stats  # imported here: only this family needs scipy's statistics

        n = len(self.scores[split])
        ratings = torch.arange(1, RATINGS + 1, dtype=torch.float64)
        predictions, kl = [], 0.0
        with evaluation_mode(model):
            for start in range(0, n, self.eval_batch_size):
                indices = list(range(start, min(start + self.eval_batch_size, n)))
                log_probs = model(*self.inputs(split, indices))
                target = self.targets[split][start : start + len(indices)]
                kl += F.kl_div(log_probs, target, reduction="sum").item()
                predictions.append(log_probs.double().exp().cpu() @ ratings)
        predicted, gold = torch.cat(predictions).numpy(), self.scores[split].numpy()
        return {
            "loss": kl / n,
            "pearson_r": float(stats.pearsonr(predicted, gold)[0]),
            "spearman_rho": float(stats.spearmanr(predicted, gold)[0]),
            "mse": float(((predicted - gold) ** 2).mean()),
        }
