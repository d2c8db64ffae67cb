"""The generators of the 1997 tasks follow the paper's definitions (Sec. 5.1, 5.4, 5.6)."""

from __future__ import annotations

import numpy as np
import pytest

from shared.data import hochreiter1997 as tasks


def test_adding_problem_follows_section_5_4() -> None:
    t = 100
    batch = tasks.adding_problem(2000, t, np.random.default_rng(0))
    assert batch.lengths.min() >= t and batch.lengths.max() <= t + t // 10
    for i in range(len(batch)):
        length = batch.lengths[i]
        values, markers = batch.inputs[i, :length, 0], batch.inputs[i, :length, 1]
        marked = np.flatnonzero(markers == 1.0)
        assert len(marked) == 2 and marked.min() < 10 and marked.max() < t // 2 - 1
        assert markers[length - 1] == -1.0 and (markers[0] == -1.0 or 0 in marked)
        assert np.all(np.abs(values) <= 1.0) and not np.any(batch.inputs[i, length:])
        assert batch.target_mask[i].sum() == 1 and batch.target_mask[i, length - 1]
        assert batch.targets[i, length - 1, 0] == pytest.approx(0.5 + values[marked].sum() / 4.0)
        if 0 in marked:
            assert values[0] == 0.0  # "we set X1 to zero"
    # One of the first ten pairs is the first mark: about one sequence in ten marks pair 0.
    first_marked = np.mean([batch.inputs[i, 0, 1] == 1.0 for i in range(len(batch))])
    assert 0.07 < first_marked < 0.16


def test_adding_problem_rejects_a_too_short_t() -> None:
    with pytest.raises(ValueError, match="T >= 24"):
        tasks.adding_problem(1, 10, np.random.default_rng(0))


def test_temporal_order_follows_section_5_6() -> None:
    batch = tasks.temporal_order(500, np.random.default_rng(1))
    assert batch.lengths.min() >= 100 and batch.lengths.max() <= 110
    for i in range(len(batch)):
        symbols = batch.inputs[i, : batch.lengths[i]].argmax(-1)
        assert symbols[0] == 0 and symbols[-1] == 1  # E ... B
        relevant = np.flatnonzero(symbols >= 6)
        assert len(relevant) == 2 and 9 <= relevant[0] <= 19 and 49 <= relevant[1] <= 59
        x_or_y = symbols[relevant] - 6
        assert batch.targets[i, batch.lengths[i] - 1].argmax() == 2 * x_or_y[0] + x_or_y[1]
    classes = batch.targets[batch.target_mask].argmax(-1)
    assert set(classes.tolist()) == {0, 1, 2, 3}


def reber_accepts(string: str) -> bool:
    """A direct reading of Figs. 3-4: B (T|P) <Reber string> (same T|P) E."""
    transitions = {
        0: {"B": 1},
        1: {"T": 2, "P": 3},
        2: {"S": 2, "X": 4},
        3: {"T": 3, "V": 5},
        4: {"X": 3, "S": 6},
        5: {"P": 4, "V": 6},
        6: {"E": 7},
    }
    if len(string) < 9 or string[0] != "B" or string[1] not in "TP" or string[-2:] != string[1] + "E":
        return False
    state = 0
    for symbol in string[2:-2]:
        if symbol not in transitions.get(state, {}):
            return False
        state = transitions[state][symbol]
    return state == 7


def test_embedded_reber_strings_are_in_the_grammar_with_their_next_symbol_sets() -> None:
    rng = np.random.default_rng(2)
    for _ in range(300):
        string, allowed = tasks.embedded_reber_string(rng)
        assert reber_accepts(string)
        assert all(nxt in options for nxt, options in zip(string[1:], allowed, strict=False))
        assert allowed[-1] == "" and allowed[-3] == string[1]  # the long-lag prediction


def test_reber_test_strings_are_not_training_strings() -> None:
    train, test = tasks.reber_sets(256, 256, np.random.default_rng(3))

    def strings(batch: tasks.SequenceBatch) -> set[str]:
        codes = (batch.inputs[i, : batch.lengths[i]].argmax(-1) for i in range(len(batch)))
        return {"".join(tasks.REBER_SYMBOLS[k] for k in c) for c in codes}

    assert not strings(train) & strings(test)
    assert (train.target_mask.sum(1) == train.lengths - 1).all()
    targets = train.targets[train.target_mask].astype(bool)
    assert (targets <= train.allowed[train.target_mask]).all()  # the actual next symbol is allowed
