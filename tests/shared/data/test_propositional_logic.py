"""Bowman et al.'s propositional-logic data: relations on hand-worked pairs, the bracketing, the
generator's determinism, operator counts and splits, and its statistics against Bowman's files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from shared.data import propositional_logic as pl
from shared.data.checksums import DataError


def rel(left: str, right: str) -> str:
    return pl.relation(pl.worlds(pl.parse(left)), pl.worlds(pl.parse(right)))


@pytest.mark.parametrize(
    ("left", "right", "label"),
    [
        ("a", "( not a )", "^"),  # negation: disjoint, together every world
        ("a", "( a ( or b ) )", "<"),  # entailment
        ("( a ( or b ) )", "a", ">"),  # reverse entailment
        ("( a ( and b ) )", "( a ( or b ) )", "<"),
        ("a", "b", "#"),  # independence: all four regions non-empty
        ("a", "a", "="),
        ("( not ( a ( and b ) ) )", "( ( not a ) ( or ( not b ) ) )", "="),  # De Morgan
        ("( a ( and b ) )", "( not a )", "|"),  # alternation: disjoint, a & not b in neither
        ("( a ( or b ) )", "( not a )", "v"),  # cover: every world in one, b & not a in both
        ("( a ( and b ) )", "( a ( and ( not b ) ) )", "|"),
        ("( not ( not c ) )", "c", "="),
        ("( a ( and b ) )", "( c ( or d ) )", "#"),
    ],
)
def test_relation_of_hand_worked_pairs(left: str, right: str, label: str) -> None:
    assert rel(left, right) == label


def test_the_relation_is_converse_when_the_pair_is_swapped() -> None:
    converse = {"<": ">", ">": "<", "=": "=", "^": "^", "|": "|", "v": "v", "#": "#"}
    data = pl.generate(seed=3, n_pairs=300)
    for line in data["train"][4] + data["test"][5]:
        label, left, right = line.split("\t")
        assert rel(right, left) == converse[label]


@pytest.mark.parametrize("left", ["( a ( or ( not a ) ) )", "( a ( and ( not a ) ) )"])
def test_a_tautology_or_contradiction_has_no_relation(left: str) -> None:
    with pytest.raises(ValueError, match="tautology|contradiction"):
        rel(left, "b")
    with pytest.raises(ValueError, match="right formula"):
        rel("b", left)


def test_worlds_are_the_truth_table() -> None:
    # a is true in the 32 worlds with bit 0 set; (a and b) in 16; (not a) in the other 32.
    assert bin(pl.worlds(pl.parse("a"))).count("1") == 32
    assert bin(pl.worlds(pl.parse("( a ( and b ) )"))).count("1") == 16
    assert pl.worlds(pl.parse("( not a )")) == pl.ALL_WORLDS ^ pl.worlds(pl.parse("a"))


@pytest.mark.parametrize(
    ("text", "ops"),
    [("f", 0), ("( not a )", 1), ("( a ( and b ) )", 1), ("( ( not a ) ( or ( b ( and ( not c ) ) ) ) )", 4)],
)
def test_parse_and_to_text_round_trip_and_count_operators(text: str, ops: int) -> None:
    formula = pl.parse(text)
    assert pl.to_text(formula) == text
    assert pl.operators(formula) == ops


@pytest.mark.parametrize("text", ["( a )", "( a ( xor b ) )", "( not a", "a b", "g", ""])
def test_parse_rejects_malformed_formulas(text: str) -> None:
    with pytest.raises(ValueError):
        pl.parse(text)


def test_generation_is_a_pure_function_of_the_seed() -> None:
    assert pl.generate(seed=11, n_pairs=2000) == pl.generate(seed=11, n_pairs=2000)
    assert pl.generate(seed=11, n_pairs=2000) != pl.generate(seed=12, n_pairs=2000)


def test_generated_pairs_are_labelled_bucketed_and_split_as_bowman() -> None:
    data = pl.generate(seed=5, n_pairs=3000)
    assert set(data["train"]) == set(data["test"]) == set(range(pl.MAX_BUCKET + 1))
    for bucket in range(pl.MAX_BUCKET + 1):
        train, test = data["train"][bucket], data["test"][bucket]
        assert len(train) == int(pl.TRAIN_FRACTION * (len(train) + len(test)))
        assert not set(train) & set(test) and len(set(train + test)) == len(train + test)  # distinct pairs
        for line in train + test:
            label, left_text, right_text = line.split("\t")
            left, right = pl.parse(left_text), pl.parse(right_text)
            assert pl.relation(pl.worlds(left), pl.worlds(right)) == label
            assert min(max(pl.operators(left), pl.operators(right)), pl.MAX_BUCKET) == bucket
            used = {t for t in (left_text + " " + right_text).split() if t in pl.VARIABLES}
            assert len(used) <= pl.VARIABLES_PER_PAIR
            assert set(left_text.split()) <= set(pl.TOKENS)
            # Bowman's recursion: at most 7 binary operators and 15 negations per formula.
            assert pl.operators(left) <= 22 and sum(left_text.split().count(op) for op in pl.BINARY) <= 7
    assert data["train"][pl.MAX_BUCKET], "bucket 12 (12 or more operators) is never empty at this size"


def test_generate_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_pairs"):
        pl.generate(n_pairs=0)
    with pytest.raises(ValueError, match="train_fraction"):
        pl.generate(train_fraction=1.0)


def test_a_missing_prepared_file_names_the_stage(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="generate@propositional_logic"):
        pl.load(tmp_path)


@pytest.mark.slow
def test_the_prepared_data_set_matches_bowmans_sizes_and_class_balance(tmp_path: Path) -> None:
    """Bowman's files (ON-LSTM repository, branch propositional_logic): 135,529 training pairs
    with <= 6 operators, 249,069 pairs in all, the class fractions below; ours within 1 %."""
    pl.prepare(tmp_path / "raw-unused", tmp_path / pl.NAME)
    data = pl.load(tmp_path)
    assert data["seed"] == pl.SEED and data["relations"] == list(pl.RELATIONS)
    assert len(data["train"]) == len(data["train_ops"]) and len(data["test"]) == len(data["test_ops"])
    short = [line for line, ops in zip(data["train"], data["train_ops"], strict=True) if ops <= 6]
    assert len(short) == pytest.approx(135_529, rel=0.01)
    assert len(data["train"]) + len(data["test"]) == pytest.approx(249_069, rel=0.01)
    counts = Counter(line[0] for line in short)
    bowman = {"#": 0.542, "<": 0.106, ">": 0.107, "|": 0.102, "v": 0.102, "=": 0.021, "^": 0.019}
    for label, fraction in bowman.items():
        assert counts[label] / len(short) == pytest.approx(fraction, abs=0.005), label
    longest = Counter(data["test_ops"])
    assert longest[12] == pytest.approx(853, rel=0.05)  # Bowman's test12
