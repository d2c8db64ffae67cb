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


def distance_f1(
    distances_of: Callable[[Tensor], Tensor], gold_trees: Sequence[Tree], vocab: Sequence[str]
) -> list[float]:
    """Per layer, the sentence-averaged F1 of the trees from a model's distances.

    ``distances_of`` maps one sentence's framed ids ``(n + 2,)`` (:func:`encode` over ``vocab``)
    to its distances ``(layers, n + 2)``, running the model from a zero state.
    """
    if not gold_trees:
        raise ValueError("no sentence to evaluate")
    index = {token: i for i, token in enumerate(vocab)}
    per_sentence = [layer_f1s(distances_of(encode(leaves(gold), index)), gold) for gold in gold_trees]
    return [statistics.fmean(layer) for layer in zip(*per_sentence, strict=True)]
