"""A task's secondary test metrics are selected as its headline number is, and aggregated over seeds."""

from __future__ import annotations

import pytest

from shared.results.record import SeedRun
from shared.run.experiment import SeedOutcome, aggregate_secondary, secondary_values

HISTORY = [{"test/acc_7": 10.0 * e, "test/acc_8": float(e)} for e in range(1, 6)]


@pytest.mark.parametrize(
    ("selection", "epoch", "expected"),
    [
        ("best_valid", 2, {"acc_7": 20.0, "acc_8": 2.0}),
        ("last", 5, {"acc_7": 50.0, "acc_8": 5.0}),
        ("last3_mean", None, {"acc_7": 40.0, "acc_8": 4.0}),
    ],
)
def test_secondary_values_follow_the_selection(selection: str, epoch: int | None, expected: dict) -> None:
    assert secondary_values(("acc_7", "acc_8"), HISTORY, selection, epoch) == expected


def test_no_secondary_metrics_gives_nothing() -> None:
    assert secondary_values((), HISTORY, "best_valid", 3) == {}
    outcome = SeedOutcome(SeedRun(1, 0.0, 1, 1, 1, 0.0, "r"), HISTORY, None, "m", True)
    assert aggregate_secondary([outcome]) == {}


def test_aggregate_is_mean_and_sample_std_over_seeds() -> None:
    outcomes = [
        SeedOutcome(SeedRun(s, 0.0, 1, 1, 1, 0.0, "r"), [], None, "m", True, {"acc_7": value})
        for s, value in ((1, 70.0), (2, 74.0))
    ]
    assert aggregate_secondary(outcomes) == {"acc_7": {"ours": 72.0, "ours_std": pytest.approx(2.8284271)}}
    assert aggregate_secondary(outcomes[:1]) == {"acc_7": {"ours": 70.0, "ours_std": None}}
