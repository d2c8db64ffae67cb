"""Unsupervised-parsing evaluation: trees from distances, spans, F1, trivial trees, and the
preprocessing of real treebank text (shared.tasks.parsing, shared.data.wsj_sample)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from shared.core.paths import REPO_ROOT
from shared.data import ptb, wsj_sample
from shared.data.prepared import save_prepared
from shared.models.cells.onlstm import ONLSTM
from shared.tasks import parsing
from shared.tasks.parsing import (
    balanced_tree,
    baseline_f1,
    distance_f1,
    distance_tree,
    encode,
    layer_f1s,
    left_branching,
    random_tree,
    right_branching,
    sentence_f1,
    sentence_f1s,
    spans,
)

WORDS = list("abcde")

# wsj_0018.mrg as stored: "At Cray Computer, he will be paid $240,000." with a comma, a full stop,
# a currency sign, a trace whose NP is left empty, and a *U* trace.
MRG = """( (S
    (PP-LOC (IN At)
      (NP (NNP Cray) (NNP Computer) ))
    (, ,)
    (NP-SBJ-26 (PRP he) )
    (VP (MD will)
      (VP (VB be)
        (VP (VBN paid)
          (NP (-NONE- *-26) )
          (NP ($ $) (CD 240,000) (-NONE- *U*) ))))
    (. .) ))"""


def test_distance_tree_splits_at_the_largest_distance() -> None:
    # d (0.9) opens [d e]; before it, b (0.5) opens [b c] after a.
    tree = distance_tree([0.1, 0.5, 0.2, 0.9, 0.3], WORDS)
    assert tree == [["a", ["b", "c"]], ["d", "e"]]
    assert spans(tree) == {(0, 3), (1, 3), (3, 5)}


def test_distance_tree_edge_cases() -> None:
    assert distance_tree([1.0, 1.0, 0.0], list("abc")) == ["a", ["b", "c"]]  # first maximum wins
    assert distance_tree([0.0, 0.0, 5.0], list("abc")) == [["a", "b"], "c"]  # the last word alone
    assert distance_tree([3.0], ["a"]) == "a"
    assert distance_tree([5, 4, 3, 2, 1], WORDS) == right_branching(WORDS)
    assert distance_tree([1, 2, 3, 4, 5], WORDS) == left_branching(WORDS)
    with pytest.raises(ValueError, match="2 distances for 3 words"):
        distance_tree([0.0, 1.0], list("abc"))
    with pytest.raises(ValueError, match="empty sentence"):
        distance_tree([], [])
    with pytest.raises(ValueError, match="NaN"):
        distance_tree([0.0, float("nan")], list("ab"))


def test_spans_leave_out_the_root_and_single_words() -> None:
    assert spans("a") == set()
    assert spans(["a", "b"]) == set()
    assert spans([["a", "b", "c"], "d"]) == {(0, 3)}
    assert spans([["the", "cat"], ["sat", ["on", ["the", "mat"]]]]) == {(0, 2), (2, 6), (3, 6), (4, 6)}


def test_f1_of_a_known_pair() -> None:
    gold = spans([["the", "cat"], ["sat", ["on", ["the", "mat"]]]])
    words = "the cat sat on the mat".split()
    # Left-branching: (0,2) (0,3) (0,4) (0,5), one of them gold: 2 * 1 / (4 + 4).
    assert sentence_f1(spans(left_branching(words)), gold) == 0.25
    # Right-branching: (1,6) (2,6) (3,6) (4,6), three gold: 2 * 3 / (4 + 4).
    assert sentence_f1(spans(right_branching(words)), gold) == 0.75
    # A flat gold constituent: precision 1/2, recall 1/1.
    assert sentence_f1({(0, 2), (0, 3)}, {(0, 3)}) == pytest.approx(2 / 3)
    # The official formula, 1e-8 added to the denominators, agrees to 1e-8.
    prec, reca = 3 / (4 + 1e-8), 3 / (4 + 1e-8)
    assert sentence_f1(spans(right_branching(words)), gold) == pytest.approx(
        2 * prec * reca / (prec + reca + 1e-8), abs=1e-8
    )


def test_f1_without_gold_spans() -> None:
    assert sentence_f1(set(), set()) == 1.0  # one- and two-word sentences
    assert sentence_f1({(0, 2)}, set()) == 0.0
    assert sentence_f1(set(), {(0, 2)}) == 0.0


def test_trivial_trees_on_a_known_sentence() -> None:
    assert left_branching(WORDS) == [[[["a", "b"], "c"], "d"], "e"]
    assert right_branching(WORDS) == ["a", ["b", ["c", ["d", "e"]]]]
    # The right subtree takes the largest power of two below the length (parse_comparison.balance).
    assert balanced_tree(WORDS) == ["a", [["b", "c"], ["d", "e"]]]
    assert balanced_tree(list("abcdef")) == [["a", "b"], [["c", "d"], ["e", "f"]]]
    assert balanced_tree(list("abc")) == ["a", ["b", "c"]]
    assert balanced_tree(list("abcd")) == [["a", "b"], ["c", "d"]]
    assert balanced_tree(list("abcdefghi")) == ["a", [[["b", "c"], ["d", "e"]], [["f", "g"], ["h", "i"]]]]
    # Against a right-branching gold tree: left shares nothing, balanced shares (1,5) and (3,5).
    scores = baseline_f1([right_branching(WORDS)], draws=3)
    assert scores["left_branching"] == 0.0 and scores["right_branching"] == 1.0
    assert scores["balanced"] == pytest.approx(2 / 3)
    for name in ("random", "random_distances"):
        assert 0.0 <= scores[name] <= 1.0 and scores[f"{name}_std"] >= 0.0
    assert baseline_f1([right_branching(WORDS)], draws=3) == scores  # seeded


def test_random_trees_are_binary_seeded_and_uniform_in_split_points() -> None:
    words = list("abcdefghij")
    tree = random_tree(words, random.Random(3))
    assert parsing.leaves(tree) == words and len(spans(tree)) == len(words) - 2  # binary
    assert tree == random_tree(words, random.Random(3))
    rng = random.Random(0)
    left = sum(random_tree(list("abc"), rng) == [["a", "b"], "c"] for _ in range(4000))
    assert abs(left / 4000 - 0.5) < 0.03  # the root split is uniform over the two gaps
    with pytest.raises(ValueError, match="at least 2"):
        baseline_f1([right_branching(WORDS)], draws=1)


def test_punctuation_traces_and_empty_constituents_are_removed_from_a_real_tree() -> None:
    from nltk.tree import Tree

    tree = Tree.fromstring(MRG)[0]  # without the unlabelled wrapper, as the reader returns it
    collapsed = wsj_sample.collapse(tree)
    # "paid" keeps only "240,000": its empty NP and the $ and *U* are gone, the unary NP collapsed.
    assert collapsed == [["at", ["cray", "computer"]], "he", ["will", ["be", ["paid", "N,N"]]]]
    assert spans(collapsed) == {(0, 3), (1, 3), (4, 8), (5, 8), (6, 8)}
    assert wsj_sample.lm_token("1.5") == "N.N" and wsj_sample.lm_token("1980s") == "Ns"
    assert wsj_sample.lm_token("Vinken") == "vinken"


def test_encode_frames_with_eos_and_reads_unknown_words_as_unk() -> None:
    vocab = {"<unk>": 0, "<eos>": 1, "the": 2, "cat": 3}
    assert encode(["the", "cat", "N.N"], vocab).tolist() == [1, 2, 3, 0, 1]
    with pytest.raises(ValueError, match="'<unk>'"):
        encode(["the"], {"<eos>": 0, "the": 1})


def test_layer_f1s_drop_the_eos_steps() -> None:
    gold = [["the", "cat"], ["sat", ["on", ["the", "mat"]]]]
    # Huge <eos> distances would dominate the split if they were kept.
    right = [99.0, 6, 5, 4, 3, 2, 1, 99.0]  # decreasing: right-branching
    left = [99.0, 1, 2, 3, 4, 5, 6, 99.0]  # increasing: left-branching
    assert layer_f1s(torch.tensor([right, left]), gold) == [0.75, 0.25]
    with pytest.raises(ValueError, match=r"\(layers, 8\)"):
        layer_f1s(torch.zeros(2, 6), gold)


def test_distance_f1_with_an_onlstm() -> None:
    """The distances of ``shared.models.cells.onlstm.ONLSTM`` plug in unchanged, the per-layer
    score is the mean over sentences of :func:`layer_f1s`, and reading the sentences of one length
    as one batch gives each sentence's distances alone (to rounding)."""
    torch.manual_seed(0)
    vocab = ["<unk>", "<eos>", "the", "cat", "sat"]
    embedding = torch.nn.Embedding(len(vocab), 8)
    model = ONLSTM(8, 12, num_layers=3, chunk_size=3, batch_first=True)
    calls = []

    def distances_of(ids: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(ids.shape))
        with torch.no_grad():
            return model(embedding(ids), return_distances=True)[2]  # (layers, B, L)

    golds = [[["the", "cat"], "sat"], ["the", ["cat", ["sat", "N"]]], "cat", ["sat", ["the", "cat"]]]
    scores = distance_f1(distances_of, golds, vocab)
    assert sorted(calls) == [(1, 3), (1, 5), (1, 5), (1, 6)]  # one sentence at a time
    index = {w: i for i, w in enumerate(vocab)}
    per_sentence = [layer_f1s(distances_of(encode(parsing.leaves(g), index)[None])[:, 0], g) for g in golds]
    assert len(scores) == 3
    assert scores == pytest.approx([sum(s[k] for s in per_sentence) / 4 for k in range(3)])
    calls.clear()
    assert sentence_f1s(distances_of, golds, vocab, batch_size=8) == per_sentence
    assert sorted(calls) == [(1, 3), (1, 6), (2, 5)]  # the two 3-word sentences together, unpadded
    with pytest.raises(ValueError, match=r"expected \(layers, 1, 3\)"):
        distance_f1(lambda ids: torch.zeros(3, 3), ["cat"], vocab)


def test_parsing_evaluation_on_a_hand_example(tmp_path: Path) -> None:
    """Per-layer F1 in % on WSJ and WSJ10 from hand-made distances, with the baselines of the
    same sentences: layer 1 right-branching, layer 2 left-branching, over a prepared sample of
    three sentences (one longer than 10 words)."""
    long = ["a", ["b", ["c", ["d", ["e", ["f", ["g", ["h", ["i", ["j", "k"]]]]]]]]]]
    trees = [long, [["the", "cat"], ["sat", ["on", ["the", "mat"]]]], ["the", ["cat", "sat"]]]
    save_prepared(
        {"fileids": ["x"] * 3, "words": [parsing.leaves(t) for t in trees], "trees": trees},
        tmp_path / "wsj_sample" / "wsj_sample.pt",
    )
    vocab = ["<unk>", "<eos>", "the", "cat", "sat", "on", "mat", *"abcdefghijk"]
    evaluation = parsing.ParsingEvaluation(layers=2, batch_size=4, draws=2, root=tmp_path)

    def distances_of(ids: torch.Tensor) -> torch.Tensor:
        falling = torch.arange(ids.size(1), 0, -1, dtype=torch.float).expand(ids.shape)  # right-branching
        return torch.stack([falling, falling.flip(-1)])

    metrics = evaluation(distances_of, vocab)
    right = [parsing.sentence_f1(parsing.spans(right_branching(parsing.leaves(t))), parsing.spans(t)) for t in trees]
    left = [parsing.sentence_f1(parsing.spans(left_branching(parsing.leaves(t))), parsing.spans(t)) for t in trees]
    assert right == [1.0, 0.75, 1.0] and left == [0.0, 0.25, 0.0]
    assert metrics["f1_wsj_layer1"] == pytest.approx(100 * sum(right) / 3)
    assert metrics["f1_wsj10_layer1"] == pytest.approx(100 * (0.75 + 1.0) / 2)
    assert metrics["f1_wsj_layer2"] == pytest.approx(100 * 0.25 / 3)
    assert metrics["f1_wsj10_right_branching"] == metrics["f1_wsj10_layer1"]
    assert metrics["f1_wsj_left_branching"] == metrics["f1_wsj_layer2"]
    assert set(metrics) == set(evaluation.metric_names)
    with pytest.raises(ValueError, match="distances of 2 layers, expected 3"):
        parsing.ParsingEvaluation(layers=3, draws=2, root=tmp_path)(distances_of, vocab)
    with pytest.raises(ValueError, match="wsj10"):
        parsing.ParsingEvaluation(layers=2, draws=2, limit=1, root=tmp_path)  # only the long one


DATA = REPO_ROOT / "data" / "wsj_sample"


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "SOURCE.md").is_file(), reason="raw data not pulled (dvc pull)")
def test_the_prepared_sample(tmp_path: Path) -> None:
    wsj_sample.prepare(DATA, tmp_path / "wsj_sample")
    sample = wsj_sample.load(root=tmp_path)
    assert len(sample["trees"]) == len(sample["words"]) == len(sample["fileids"]) == 3_914
    assert sample["fileids"][0] == "wsj_0001" and sample["fileids"][-1] == "wsj_0199"
    assert sample["words"][0][:3] == ["Pierre", "Vinken", "61"]
    assert parsing.leaves(sample["trees"][0])[:3] == ["pierre", "vinken", "N"]
    for words, tree in zip(sample["words"], sample["trees"], strict=True):
        assert parsing.leaves(tree) == [wsj_sample.lm_token(w) for w in words]
    assert len(parsing.load_gold_trees(root=tmp_path)) == 3_914
    assert len(parsing.load_gold_trees(parsing.WSJ10_WORDS, root=tmp_path)) == 555
    # Against the language model's vocabulary, 5,742 of the 82,369 words are <unk>: mostly numbers
    # with punctuation inside (N.N, N,N), which the Mikolov text writes as N, and "%".
    ptb.prepare_word(REPO_ROOT / "data" / "ptb_word", tmp_path / "ptb_word")
    vocab = set(ptb.load_word(root=tmp_path)["vocab"])
    tokens = [t for tree in sample["trees"] for t in parsing.leaves(tree)]
    assert (len(tokens), sum(t not in vocab for t in tokens)) == (82_369, 5_742)
