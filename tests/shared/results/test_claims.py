"""Claims of a paper card: orderings of our results that could fail."""

from __future__ import annotations

import pytest

from shared.results.paper_card import Claim


def claim(separated: bool) -> Claim:
    return Claim("c", "a beats b", "Table 4", ["a", "b"], "reduced", "small", separated=separated)


def test_an_ordering_holds_on_the_means_and_with_separation_at_every_seed() -> None:
    values = {"a": [10.0, 11.0, 12.0], "b": [11.5, 13.0, 14.0]}  # means 11 < 12.8, but 11.5 < 12
    assert claim(False).holds(values, higher_is_better=False)
    assert not claim(True).holds(values, higher_is_better=False)
    assert claim(True).holds({"a": [10.0, 11.0], "b": [11.5, 13.0]}, higher_is_better=False)
    assert not claim(False).holds(values, higher_is_better=True)
    assert not claim(False).holds({"a": [1.0], "b": [1.0]}, higher_is_better=False)  # a tie fails


def test_a_claim_needs_results_for_every_task_and_valid_settings() -> None:
    with pytest.raises(ValueError, match="no results"):
        claim(False).holds({"a": [1.0]}, higher_is_better=False)
    with pytest.raises(ValueError, match="scale"):
        Claim("c", "s", "src", ["a", "b"], "tiny", "x").validate()
    with pytest.raises(ValueError, match="two tasks"):
        Claim("c", "s", "src", ["a"], "reduced", "x").validate()
