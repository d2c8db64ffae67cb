r"""Unsupervised constituency parsing: trees from syntactic distances, scored by unlabelled F1.

The protocol is that of the official evaluation of ON-LSTM (Shen et al. 2019, §5.2 and Table 2;
``test_phrase_grammar.py`` of yikangshen/Ordered-Neurons), itself PRPN's (Shen et al. 2018):

1. **Input.** A sentence's tokens (:mod:`shared.data.wsj_sample`: punctuation and traces removed,
   lower case, digit runs as ``N``) framed by ``<eos>`` on both sides, words outside the
   language model's vocabulary read as ``<unk>`` (:func:`encode`); the model starts from a zero
   state and reads the whole frame.
2. **Distances.** One syntactic distance per step and layer; for ON-LSTM the expected split
   point of the master forget gate, :math:`\hat d_t = D_m - \sum_k \tilde f_{tk}` (ON-LSTM
   §5.2; ``shared.models.cells.onlstm.master_forget_distance`` is the same divided by
   :math:`D_m`, which does not change the ranking). The two ``<eos>`` steps are dropped: word
   :math:`i` of the sentence gets the distance of frame step :math:`i + 1`.
3. **Tree** (:func:`distance_tree`, the official ``build_tree``). Greedy and top-down: the word
   with the largest distance (the first one on ties) splits the span into the words before it and
   the constituent it opens with the words after it,
   :math:`[\,T(w_{<k}),\ [w_k,\ T(w_{>k})]\,]`.
4. **Spans** (:func:`spans`, the official ``get_brackets``). The unlabelled spans of every node
   that covers at least two words, except the root: the whole sentence and single words are never
   counted, for the predicted and the gold tree alike. Gold trees are collapsed (unary chains and
   constituents left empty by the word filter removed; :func:`shared.data.wsj_sample.collapse`).
5. **F1** (:func:`sentence_f1`). Per sentence, then **averaged over sentences** (a macro average,
   not the corpus-level F1 of EVALB). A sentence without a gold span (one or two words) scores 1
   when the prediction has no span either, which a binary tree over at most two words never has.
   The official code adds :math:`10^{-8}` to denominators; F1 here is exact, which changes a
   sentence's score by less than :math:`10^{-8}`.
6. **Subsets.** "WSJ" is every sentence whatever its length; "WSJ10" keeps the sentences of at
   most 10 words (:data:`WSJ10_WORDS`; the official ``len(sen) > 12`` counts both ``<eos>``).

Trivial trees are scored by the same code (:func:`baseline_f1`): left- and right-branching,
balanced (the "half-full" binary tree of ``parse_comparison.py`` shipped with the official code:
the right subtree is a complete tree over the largest power of two below the length), and two
random baselines averaged over seeded draws: uniform split points, and i.i.d. uniform distances
fed to :func:`distance_tree` (the chance level of this particular parser, which favours
right-branching trees).

:class:`ParsingEvaluation` puts it together for a trained language model: per layer and subset
(WSJ, WSJ10) the mean F1 in %, beside the baselines on the same sentences. Sentences of one
length are read as one batch (:func:`sentence_f1s`): no padding, so each is read as if alone.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

import torch
from torch import Tensor

from shared.data import wsj_sample
from shared.data.wsj_sample import Tree

Span = tuple[int, int]

EOS, UNK = "<eos>", "<unk>"
#: The WSJ10 subset: sentences of at most this many words (after the word filter).
WSJ10_WORDS = 10


def load_gold_trees(max_words: int | None = None, root: Path | str | None = None) -> list[Tree]:
    """The collapsed gold trees of the prepared WSJ sample, those of at most ``max_words`` words
    when given (:data:`WSJ10_WORDS` for the WSJ10 subset)."""
    trees = wsj_sample.load(root)["trees"]
    return [tree for tree in trees if max_words is None or len(leaves(tree)) <= max_words]


def leaves(tree: Tree) -> list[str]:
    """The tokens of ``tree``, left to right."""
    if isinstance(tree, str):
        return [tree]
    return [token for child in tree for token in leaves(child)]


def spans(tree: Tree) -> set[Span]:
    """The spans ``(start, end)`` (word indices, end excluded) of the nodes of ``tree`` covering at
    least two words, the root excepted (the official ``get_brackets``)."""
    found: set[Span] = set()

    def visit(node: Tree, start: int) -> int:
        if isinstance(node, str):
            return start + 1
        for child in node:
            end = visit(child, start)
            if end - start > 1:
                found.add((start, end))
            start = end
        return start

    visit(tree, 0)
    return found


def distance_tree(distances: Sequence[float], words: Sequence[str]) -> Tree:
    """The official ``build_tree``: split at the largest distance (the first on ties), the word
    there heading a constituent with everything after it (module docstring, step 3)."""
    if len(distances) != len(words):
        raise ValueError(f"{len(distances)} distances for {len(words)} words")
    if not words:
        raise ValueError("cannot build a tree over an empty sentence")
    if any(math.isnan(d) for d in distances):
        raise ValueError(f"NaN among the distances {list(distances)}")
    if len(words) == 1:
        return words[0]
    k = max(range(len(distances)), key=distances.__getitem__)
    opened: Tree = words[k] if k == len(words) - 1 else [words[k], distance_tree(distances[k + 1 :], words[k + 1 :])]
    return opened if k == 0 else [distance_tree(distances[:k], words[:k]), opened]


def sentence_f1(predicted: set[Span], gold: set[Span]) -> float:
    """Unlabelled F1 of one sentence, in [0, 1] (module docstring, step 5)."""
    if not gold:
        return 0.0 if predicted else 1.0
    return 2 * len(predicted & gold) / (len(predicted) + len(gold))


def left_branching(words: Sequence[str]) -> Tree:
    """``(((w1 w2) w3) ... wn)``."""
    return words[0] if len(words) == 1 else [left_branching(words[:-1]), words[-1]]


def right_branching(words: Sequence[str]) -> Tree:
    """``(w1 (w2 (... wn)))``."""
    return words[0] if len(words) == 1 else [words[0], right_branching(words[1:])]


def balanced_tree(words: Sequence[str]) -> Tree:
    """The "half-full" binary tree of the official ``parse_comparison.balance``: the right
    subtree takes the largest power of two below ``len(words)`` words and is complete."""
    n = len(words)
    if n == 1:
        return words[0]
    right = 1 << ((n - 1).bit_length() - 1)
    return [balanced_tree(words[: n - right]), balanced_tree(words[n - right :])]


def random_tree(words: Sequence[str], rng: random.Random) -> Tree:
    """A binary tree whose every split point is drawn uniformly from ``rng``."""
    if len(words) == 1:
        return words[0]
    k = rng.randrange(1, len(words))
    return [random_tree(words[:k], rng), random_tree(words[k:], rng)]


def random_distance_tree(words: Sequence[str], rng: random.Random) -> Tree:
    """:func:`distance_tree` of i.i.d. uniform distances drawn from ``rng``."""
    return distance_tree([rng.random() for _ in words], words)


def mean_f1(predict: Callable[[list[str]], Tree], gold_trees: Sequence[Tree]) -> float:
    """The sentence-averaged F1 of the trees ``predict`` makes from each gold tree's words."""
    if not gold_trees:
        raise ValueError("no sentence to evaluate")
    return statistics.fmean(sentence_f1(spans(predict(leaves(gold))), spans(gold)) for gold in gold_trees)


def baseline_f1(gold_trees: Sequence[Tree], draws: int = 5, seed: int = 0) -> dict[str, float]:
    """Mean F1 of the trivial trees; the random ones as mean and standard deviation over ``draws``
    seeded draws (draw ``i`` uses ``random.Random(seed + i)``)."""
    if draws < 2:
        raise ValueError(f"draws must be at least 2 (for a standard deviation), got {draws}")
    result = {
        "left_branching": mean_f1(left_branching, gold_trees),
        "right_branching": mean_f1(right_branching, gold_trees),
        "balanced": mean_f1(balanced_tree, gold_trees),
    }
    random_kinds: dict[str, Callable[[list[str], random.Random], Tree]] = {
        "random": random_tree,
        "random_distances": random_distance_tree,
    }
    for name, draw in random_kinds.items():
        scores = [mean_f1(partial(draw, rng=random.Random(seed + i)), gold_trees) for i in range(draws)]
        result[name], result[f"{name}_std"] = statistics.fmean(scores), statistics.stdev(scores)
    return result


def encode(tokens: Sequence[str], vocab: Mapping[str, int]) -> Tensor:
    """The model input of a sentence: ``<eos> tokens <eos>`` as int64 ids, ``<unk>`` for a token
    outside ``vocab`` (shape ``(len(tokens) + 2,)``)."""
    for special in (EOS, UNK):
        if special not in vocab:
            raise ValueError(f"the vocabulary has no {special!r}")
    ids = [vocab[EOS], *(vocab.get(token, vocab[UNK]) for token in tokens), vocab[EOS]]
    return torch.tensor(ids, dtype=torch.int64)


def layer_f1s(distances: Tensor, gold: Tree) -> list[float]:
    """F1 of the tree each layer's distances give, against ``gold``.

    ``distances``: ``(layers, n + 2)``, one row per layer over the framed input of
    :func:`encode` (the ``(layers, L)`` distances of ``shared.models.cells.onlstm.ONLSTM`` run
    unbatched with ``return_distances=True``); the ``<eos>`` columns are dropped.
    """
    words = leaves(gold)
    if distances.dim() != 2 or distances.size(1) != len(words) + 2:
        raise ValueError(
            f"distances must be (layers, {len(words) + 2}) for a {len(words)}-word sentence framed by "
            f"<eos>, got {tuple(distances.shape)}"
        )
    gold_spans = spans(gold)
    return [sentence_f1(spans(distance_tree(row[1:-1].tolist(), words)), gold_spans) for row in distances]


def sentence_f1s(
    distances_of: Callable[[Tensor], Tensor], gold_trees: Sequence[Tree], vocab: Sequence[str], batch_size: int = 1
) -> list[list[float]]:
    """Per sentence (in the order of ``gold_trees``), the F1 of each layer's tree.

    ``distances_of`` maps the framed ids ``(B, n + 2)`` (:func:`encode` over ``vocab``) of ``B``
    sentences of the same length to their distances ``(layers, B, n + 2)``, running the model from
    a zero state. Sentences are grouped by length, at most ``batch_size`` at a time, so that no
    batch is padded: each sentence is read exactly as it would be alone (the official evaluation
    runs one at a time; a batch changes only the rounding of the matrix products, by ~1e-7).
    """
    if not gold_trees:
        raise ValueError("no sentence to evaluate")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    index = {token: i for i, token in enumerate(vocab)}
    framed = [encode(leaves(gold), index) for gold in gold_trees]
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(framed):
        by_length.setdefault(len(ids), []).append(i)
    scores: list[list[float]] = [[] for _ in gold_trees]
    for length, members in sorted(by_length.items()):
        for start in range(0, len(members), batch_size):
            batch = members[start : start + batch_size]
            distances = distances_of(torch.stack([framed[i] for i in batch]))
            if distances.dim() != 3 or distances.shape[1:] != (len(batch), length):
                raise ValueError(
                    f"distances_of: expected (layers, {len(batch)}, {length}) for {len(batch)} sentences of "
                    f"{length} framed tokens, got {tuple(distances.shape)}"
                )
            for column, i in enumerate(batch):
                scores[i] = layer_f1s(distances[:, column].cpu(), gold_trees[i])
    return scores


def distance_f1(
    distances_of: Callable[[Tensor], Tensor], gold_trees: Sequence[Tree], vocab: Sequence[str], batch_size: int = 1
) -> list[float]:
    """Per layer, the sentence-averaged F1 of the trees from a model's distances
    (:func:`sentence_f1s`, whose arguments these are)."""
    per_sentence = sentence_f1s(distances_of, gold_trees, vocab, batch_size)
    return [statistics.fmean(layer) for layer in zip(*per_sentence, strict=True)]


#: The subsets of the WSJ sample scored: every sentence, and those of at most WSJ10_WORDS words.
SUBSETS: dict[str, int | None] = {"wsj": None, "wsj10": WSJ10_WORDS}


class ParsingEvaluation:
    """The unsupervised-parsing evaluation of a language model with syntactic distances (ON-LSTM,
    Shen et al. 2019, Sec. 5.2, Table 2) on the WSJ sample: per layer, the sentence-averaged
    unlabelled F1 (%) on every sentence (``wsj``) and on those of at most 10 words (``wsj10``),
    with the trivial trees of :func:`baseline_f1` scored by the same code on the same sentences.

    Metrics (all in %): ``f1_<subset>_layer<k>`` for layers ``k = 1..layers`` and
    ``f1_<subset>_<baseline>`` for ``left_branching``, ``right_branching``, ``balanced``,
    ``random``, ``random_std``, ``random_distances``, ``random_distances_std``. The baselines do
    not depend on the model: computed once, here.

    Args:
        layers: the rows of distances the model returns (its recurrent layers).
        batch_size: sentences of one length read together (:func:`sentence_f1s`).
        limit: score only the first ``limit`` sentences (smoke runs).
        draws, seed: of the random baselines (:func:`baseline_f1`).
        root: the prepared folder (default: the project's).

    Call it with ``distances_of`` and the model's ``vocab`` (:func:`sentence_f1s`) to get the metrics.
    """

    def __init__(
        self,
        layers: int,
        batch_size: int = 64,
        limit: int | None = None,
        draws: int = 5,
        seed: int = 0,
        root: Path | str | None = None,
    ) -> None:
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.layers, self.batch_size = layers, batch_size
        self.gold = load_gold_trees(root=root)[:limit]
        self.subsets = {
            name: [i for i, tree in enumerate(self.gold) if words is None or len(leaves(tree)) <= words]
            for name, words in SUBSETS.items()
        }
        empty = [name for name, members in self.subsets.items() if not members]
        if empty:
            raise ValueError(f"no sentence in the subset(s) {empty} of the first {limit} sentences")
        self.baselines = {
            f"f1_{name}_{kind}": 100 * value
            for name, members in self.subsets.items()
            for kind, value in baseline_f1([self.gold[i] for i in members], draws, seed).items()
        }
        layer_metrics = [f"f1_{name}_layer{k}" for name in self.subsets for k in range(1, layers + 1)]
        self.metric_names: tuple[str, ...] = (*layer_metrics, *self.baselines)

    def __call__(self, distances_of: Callable[[Tensor], Tensor], vocab: Sequence[str]) -> dict[str, float]:
        per_sentence = sentence_f1s(distances_of, self.gold, vocab, self.batch_size)
        if len(per_sentence[0]) != self.layers:
            raise ValueError(f"the model gave distances of {len(per_sentence[0])} layers, expected {self.layers}")
        metrics = {
            f"f1_{name}_layer{k + 1}": 100 * statistics.fmean(per_sentence[i][k] for i in members)
            for name, members in self.subsets.items()
            for k in range(self.layers)
        }
        return metrics | self.baselines
